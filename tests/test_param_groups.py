"""Decay / no-decay groups by structure, per architecture; names, order, absolute lr, the partition check."""

import pytest
import torch
from conftest import ARCHITECTURES, MORE_ARCHITECTURES, tiny_model
from torch import nn

from cola.freezing import find_layer_groups, freeze_bottom
from cola.param_groups import build_param_groups, check_partition, param_group_table


def groups_for(model, **kwargs):
    settings = dict(lr=1e-3, weight_decay=0.01)
    settings.update(kwargs)
    return build_param_groups(model, layer_groups=find_layer_groups(model), **settings)


def by_param(groups):
    return {name: g for g in groups for name in g["param_names"]}


@pytest.mark.parametrize("arch", ARCHITECTURES + MORE_ARCHITECTURES)
def test_structure_decides_decay(arch):
    model = tiny_model(arch, layers=2)
    assignment = by_param(groups_for(model))
    modules = dict(model.named_modules())
    for name, param in model.named_parameters():
        owner = modules[name.rsplit(".", 1)[0]]
        group = assignment[name]
        is_norm = isinstance(owner, nn.LayerNorm)
        if param.dim() == 1 or is_norm:
            assert group["name"].endswith(".no_decay") and group["weight_decay"] == 0.0, name
        else:
            assert group["name"].endswith(".decay") and group["weight_decay"] == 0.01, name


def test_distilbert_norms_are_found_by_type_not_name():
    groups = groups_for(tiny_model("distilbert", layers=2))
    no_decay = {n for g in groups if g["name"].endswith("no_decay") for n in g["param_names"]}
    assert "distilbert.transformer.layer.0.sa_layer_norm.weight" in no_decay
    assert "distilbert.transformer.layer.1.output_layer_norm.weight" in no_decay
    assert "distilbert.embeddings.LayerNorm.weight" in no_decay


def test_group_names_order_and_absolute_lr():
    groups = groups_for(tiny_model("bert", layers=2), lr=3e-4)
    # Head first (the Trainer logs group 0's rate as "learning_rate"), then top-down.
    assert [g["name"] for g in groups] == [
        "head.decay", "head.no_decay", "pooler.decay", "pooler.no_decay", "layer_01.decay", "layer_01.no_decay",
        "layer_00.decay", "layer_00.no_decay", "embeddings.decay", "embeddings.no_decay"]
    assert all(g["lr"] == 3e-4 for g in groups)
    assert by_param(groups)["classifier.weight"]["name"] == "head.decay"
    assert by_param(groups)["bert.pooler.dense.bias"]["name"] == "pooler.no_decay"
    assert groups_for(tiny_model("bert", layers=2, seed=1))[3]["param_names"] == groups[3]["param_names"]


def test_embeddings_decay_is_configurable():
    model = tiny_model("bert", layers=2)
    on, off = by_param(groups_for(model)), by_param(groups_for(model, decay_embeddings=False))
    for name in ("bert.embeddings.word_embeddings.weight", "bert.embeddings.position_embeddings.weight"):
        assert on[name]["name"] == "embeddings.decay"
        assert off[name]["name"] == "embeddings.no_decay" and off[name]["weight_decay"] == 0.0
    assert off["bert.encoder.layer.0.attention.self.query.weight"]["weight_decay"] == 0.01


def test_user_patterns_exclude_from_decay():
    groups = by_param(groups_for(tiny_model("bert", layers=2), no_decay_patterns=["*.attention.self.query.*"]))
    assert groups["bert.encoder.layer.1.attention.self.query.weight"]["name"] == "layer_01.no_decay"
    assert groups["bert.encoder.layer.1.attention.self.key.weight"]["name"] == "layer_01.decay"


@pytest.mark.parametrize("arch", ARCHITECTURES + MORE_ARCHITECTURES)
def test_frozen_parameters_are_in_no_group_and_partition_holds(arch):
    model = tiny_model(arch, layers=3)
    layer_groups = find_layer_groups(model)
    freeze_bottom(layer_groups, 2)
    groups = build_param_groups(model, layer_groups=layer_groups, lr=1e-3, weight_decay=0.01)
    in_groups = [id(p) for g in groups for p in g["params"]]
    assert len(in_groups) == len(set(in_groups))
    assert set(in_groups) == {id(p) for p in model.parameters() if p.requires_grad}
    assert not any(g["name"].startswith(("embeddings.", "layer_00.")) for g in groups)
    for g in groups:
        assert len(g["params"]) == len(g["param_names"])
        named = dict(model.named_parameters())
        assert all(named[n] is p for n, p in zip(g["param_names"], g["params"]))


def test_partition_check_catches_duplicates_missing_and_frozen():
    model = tiny_model("bert", layers=2)
    groups = groups_for(model)
    duplicated = groups + [{**groups[0], "name": "again"}]
    with pytest.raises(ValueError, match=r"is in both head.decay and again"):
        check_partition(model, duplicated)
    with pytest.raises(ValueError, match=r"trainable parameters in no optimizer group: classifier.weight"):
        check_partition(model, [g for g in groups if g["name"] != "head.decay"])
    model.classifier.weight.requires_grad_(False)
    with pytest.raises(ValueError, match=r"classifier.weight is frozen but in group head.decay"):
        check_partition(model, groups)


def test_groups_work_in_a_torch_optimizer_and_table_is_json_friendly():
    import json

    model = tiny_model("electra", layers=2)
    groups = groups_for(model)
    optimizer = torch.optim.AdamW(groups, lr=1.0)
    assert [g["name"] for g in optimizer.param_groups] == [g["name"] for g in groups]
    assert all(g["lr"] == 1e-3 for g in optimizer.param_groups)  # each group's own lr wins over the default
    table = param_group_table(optimizer.param_groups)
    json.dumps(table)
    assert table[0] == {"name": "head.decay", "weight_decay": 0.01, "lr": 1e-3, "params": groups[0]["param_names"]}


@pytest.mark.parametrize("optim, cls", [("adamw_torch", "AdamW"), ("adamw_torch_fused", "AdamW"), ("sgd", "SGD"),
                                         ("adafactor", "Adafactor")])
def test_trainer_optimizer_uses_the_groups_for_any_optim(optim, cls, tmp_path, tokenizer):
    from conftest import LABELS, SENTENCES, make_trainer, tiny_dataset, training_args

    model = tiny_model("distilbert", layers=2)
    args = training_args(tmp_path, optim=optim, learning_rate=4e-4, weight_decay=0.05, freeze=1)
    trainer = make_trainer(model, args, tokenizer, tiny_dataset(tokenizer, SENTENCES, LABELS))
    optimizer = trainer.create_optimizer()
    assert type(optimizer).__name__ == cls
    expected = build_param_groups(model, layer_groups=find_layer_groups(model), lr=4e-4, weight_decay=0.05)
    assert [g["name"] for g in optimizer.param_groups] == [g["name"] for g in expected]
    assert [[id(p) for p in g["params"]] for g in optimizer.param_groups] == [[id(p) for p in g["params"]] for g in expected]
    decays = [0.05 if g["name"].endswith(".decay") else 0.0 for g in expected]
    assert [g["weight_decay"] for g in optimizer.param_groups] == decays
    assert [row["name"] for row in param_group_table(optimizer.param_groups)] == [g["name"] for g in expected]


def lr_per_unit(groups):
    rates = {}
    for g in groups:
        rates.setdefault(g["name"].split(".")[0], set()).add(g["lr"])
    assert all(len(r) == 1 for r in rates.values()), rates  # decay and no_decay of one unit share its rate
    return {unit: r.pop() for unit, r in rates.items()}


def test_layer_lr_decay_rates_per_group():
    # 3 layers, d = 0.5: head and pooler at lr, layer_02 at lr*d, layer_00 at lr*d^3, embeddings at lr*d^4
    rates = lr_per_unit(groups_for(tiny_model("bert", layers=3), lr=1e-3, layer_lr_decay=0.5))
    assert rates == {"head": 1e-3, "pooler": 1e-3, "layer_02": 5e-4, "layer_01": 2.5e-4, "layer_00": 1.25e-4,
                     "embeddings": 6.25e-5}


def test_head_multiplier_covers_classifier_and_pooler():
    rates = lr_per_unit(groups_for(tiny_model("bert", layers=2), lr=1e-3, layer_lr_decay=0.5, head_lr_multiplier=10))
    assert rates["head"] == pytest.approx(1e-2) and rates["pooler"] == pytest.approx(1e-2)
    assert rates["layer_01"] == pytest.approx(5e-4) and rates["embeddings"] == pytest.approx(1.25e-4)


@pytest.mark.parametrize("arch", ["distilbert", "electra", "roberta"])
def test_layer_lr_decay_without_pooler(arch):
    # No pooler group: the classifier (and ELECTRA/RoBERTa's dense head layer) is the head.
    rates = lr_per_unit(groups_for(tiny_model(arch, layers=2), lr=1e-3, layer_lr_decay=0.5))
    assert rates == {"head": 1e-3, "layer_01": 5e-4, "layer_00": 2.5e-4, "embeddings": 1.25e-4}


def test_layer_lr_decay_skips_frozen_groups_but_keeps_their_depth():
    model = tiny_model("bert", layers=3)
    layer_groups = find_layer_groups(model)
    freeze_bottom(layer_groups, 2)  # embeddings, layer_00
    rates = lr_per_unit(build_param_groups(model, layer_groups=layer_groups, lr=1.0, weight_decay=0.0, layer_lr_decay=0.5))
    assert rates == {"head": 1.0, "pooler": 1.0, "layer_02": 0.5, "layer_01": 0.25}


def test_layer_lr_decay_out_of_range():
    with pytest.raises(ValueError, match=r"layer_lr_decay must be in \(0, 1\]"):
        groups_for(tiny_model("bert", layers=2), layer_lr_decay=1.5)
