"""Layer groups per architecture, exact requires_grad states, range errors, and frozen weights that never move."""

import pytest
import torch
from conftest import ARCHITECTURES, MORE_ARCHITECTURES, tiny_model

from cola.freezing import check_bottom_up, find_layer_groups, freeze_bottom, head_parameters

EXPECTED = {
    # arch: (embedding parameter that must be in `embeddings`, has pooler, head parameter prefix)
    "bert": ("bert.embeddings.word_embeddings.weight", True, "classifier."),
    "roberta": ("roberta.embeddings.word_embeddings.weight", False, "classifier."),
    "distilbert": ("distilbert.embeddings.word_embeddings.weight", False, ""),
    "electra": ("electra.embeddings_project.weight", False, "classifier."),
}


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_groups_follow_the_structure(arch):
    model = tiny_model(arch, layers=3)
    groups = find_layer_groups(model)
    embedding_param, has_pooler, _ = EXPECTED[arch]
    names = [g.name for g in groups]
    assert names == ["embeddings", "layer_00", "layer_01", "layer_02"] + (["pooler"] if has_pooler else [])
    assert embedding_param in dict(groups[0].parameters)
    for i in range(3):
        layer_params = [n for n, _ in groups[1 + i].parameters]
        assert layer_params and all(f".{i}." in n for n in layer_params)
    # groups + head cover every parameter exactly once
    covered = [id(p) for g in groups for _, p in g.parameters] + [id(p) for _, p in head_parameters(model, groups)]
    assert sorted(covered) == sorted(id(p) for p in model.parameters())
    head_names = [n for n, _ in head_parameters(model, groups)]
    assert head_names and not any(n.startswith(f"{model.base_model_prefix}.") for n in head_names)


def test_electra_projection_belongs_to_embeddings():
    groups = find_layer_groups(tiny_model("electra"))
    assert [n for n, _ in groups[0].parameters if "embeddings_project" in n] == [
        "electra.embeddings_project.weight", "electra.embeddings_project.bias"]


# Where the structural rule needed a decision (README, "Architectures"): tables every layer reads stay with the
# embeddings, what runs after the layers is a group on top, ALBERT's one layer is one group at every depth.
MORE_EXPECTED = {
    "mpnet": (["layer_00", "layer_01", "layer_02"], "mpnet.encoder.relative_attention_bias.weight"),
    "deberta-v2": (["layer_00", "layer_01", "layer_02"], "deberta.encoder.rel_embeddings.weight"),
    "albert": (["shared_layer", "pooler"], "albert.encoder.embedding_hidden_mapping_in.weight"),
    "xlm-roberta": (["layer_00", "layer_01", "layer_02"], "roberta.embeddings.word_embeddings.weight"),
    "camembert": (["layer_00", "layer_01", "layer_02"], "roberta.embeddings.word_embeddings.weight"),
    "modernbert": (["layer_00", "layer_01", "layer_02", "final_norm"], "model.embeddings.tok_embeddings.weight"),
    "mobilebert": (["layer_00", "layer_01", "layer_02", "pooler"], "mobilebert.embeddings.embedding_transformation.weight"),
    "ernie": (["layer_00", "layer_01", "layer_02", "pooler"], "ernie.embeddings.word_embeddings.weight"),
}


@pytest.mark.parametrize("arch", MORE_ARCHITECTURES)
def test_the_other_encoders_groups(arch):
    model = tiny_model(arch, layers=3)
    groups = find_layer_groups(model)
    above, in_embeddings = MORE_EXPECTED[arch]
    assert [g.name for g in groups] == ["embeddings", *above]
    assert in_embeddings in dict(groups[0].parameters)
    covered = [id(p) for g in groups for _, p in g.parameters] + [id(p) for _, p in head_parameters(model, groups)]
    assert sorted(covered) == sorted(id(p) for p in model.parameters())  # every parameter exactly once
    check_bottom_up(model, groups)


@pytest.mark.parametrize("arch", ARCHITECTURES + MORE_ARCHITECTURES)
@pytest.mark.parametrize("n", [0, 1, 3])
def test_freeze_bottom_sets_exact_states(arch, n):
    model = tiny_model(arch, layers=4)
    groups = find_layer_groups(model)
    freeze_bottom(groups, n)
    for i, group in enumerate(groups):
        assert all(p.requires_grad == (i >= n) for _, p in group.parameters), group.name
    assert all(p.requires_grad for _, p in head_parameters(model, groups))
    assert [g.frozen for g in groups] == [i < n for i in range(len(groups))]


@pytest.mark.parametrize("arch", ARCHITECTURES + MORE_ARCHITECTURES)
def test_freeze_everything_leaves_only_the_head(arch):
    model = tiny_model(arch, layers=2)
    groups = find_layer_groups(model)
    freeze_bottom(groups, len(groups))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in head_parameters(model, groups)}
    freeze_bottom(groups, 0)  # and back: freezing is a state, not a one-way switch
    assert all(p.requires_grad for p in model.parameters())


def test_out_of_range_names_the_valid_range():
    groups = find_layer_groups(tiny_model("bert", layers=2))
    for n in (-1, 5):
        with pytest.raises(ValueError, match=rf"^{n} is out of range: this model has 4 layer groups "
                                           r"\(embeddings, layer_00, layer_01, pooler\); use 0..4"):
            freeze_bottom(groups, n)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_frozen_weights_are_bit_identical_after_training(arch, tmp_path, tokenizer):
    from conftest import make_trainer, tiny_dataset, training_args

    model = tiny_model(arch, layers=3)
    groups = find_layer_groups(model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    sentences = ["The cat sat.", "Sat cat the.", "She voted for herself.", "Herself voted she for the."] * 4
    dataset = tiny_dataset(tokenizer, sentences, [1, 0, 1, 0] * 4)
    args = training_args(tmp_path, max_steps=3, per_device_train_batch_size=4, learning_rate=1e-2, weight_decay=0.1,
                         freeze=2, cache_frozen=False)  # the frozen groups run at every step: their gradients stay None
    trainer = make_trainer(model, args, tokenizer, dataset, class_weights=[2.0, 1.0])
    assert trainer.plan.floor == 2 and not any(p.requires_grad for g in groups[:2] for _, p in g.parameters)
    trainer.train()
    frozen = {n for g in groups[:2] for n, _ in g.parameters}
    for name, param in model.named_parameters():
        if name in frozen:
            assert torch.equal(param, before[name]), f"{name} moved although frozen"
            assert param.grad is None
    moved = [n for n, p in model.named_parameters() if n not in frozen and not torch.equal(p, before[n])]
    assert any(n.startswith(groups[2].parameters[0][0].rsplit(".", 3)[0]) for n in moved)
    optimizer_params = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    assert not optimizer_params & {id(p) for g in groups[:2] for _, p in g.parameters}


@pytest.mark.parametrize("arch", ["bert", "distilbert", "electra", "roberta"])
def test_backward_stops_at_the_first_trainable_group(arch, tokenizer):
    """Below the first trainable group nothing requires grad, so autograd computes no gradient there at all."""
    model = tiny_model(arch, layers=4).train()
    groups = find_layer_groups(model)
    freeze_bottom(groups, 3)  # embeddings, layer_00, layer_01
    layers = {g.name: g for g in groups}
    frozen_top = _module_owning(model, layers["layer_01"].parameters[0][0])
    first_trainable = _module_owning(model, layers["layer_02"].parameters[0][0])
    seen = {}
    frozen_top.register_forward_hook(lambda m, i, out: seen.__setitem__("frozen", _first_tensor(out)))
    first_trainable.register_forward_hook(lambda m, i, out: seen.__setitem__("trainable", _first_tensor(out)))
    model(**tokenizer(["The cat sat on the mat."], return_tensors="pt", return_token_type_ids=arch != "distilbert"))
    assert seen["frozen"].requires_grad is False and seen["frozen"].grad_fn is None
    assert seen["trainable"].requires_grad is True


def _module_owning(model, param_name):
    # "bert.encoder.layer.1.attention.self.query.weight" -> the encoder layer module "bert.encoder.layer.1"
    parts = param_name.split(".")
    index = next(i for i, p in enumerate(parts) if p.isdigit())
    return model.get_submodule(".".join(parts[: index + 1]))


def _first_tensor(output):
    return output[0] if isinstance(output, tuple) else output
