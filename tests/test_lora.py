"""LoRA (`cola.lora`): adapters only above the --freeze floor, the only base weights that change, the merged model's
logits equal to PEFT's, the frozen prefix cached exactly beside adapters, exact resume, one-line errors, and every
architecture the suite supports."""

import copy
import json
import shutil
from types import SimpleNamespace

import pytest
import torch
from conftest import ARCHITECTURES, LABELS, MORE_ARCHITECTURES, SENTENCES, make_trainer, tiny_dataset, tiny_model, training_args
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification, pipeline

import train
from cola.freezing import find_layer_groups, place
from cola.lora import ADAPTER_MARK, lora_plan, merged_copy
from cola.plan import supported_layer_groups


def _options(r=4, alpha=8.0, dropout=0.0, targets=None, freeze=1):
    return SimpleNamespace(lora_r=r, lora_alpha=alpha, lora_dropout=dropout, lora_target_modules=targets, freeze=freeze,
                           freeze_method="requires_grad", frozen_eval_mode=True, cache_frozen=None,
                           gradual_unfreeze_steps=None, progressive_freeze=None)


def _inputs(seed=0):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 1000, (3, 11), generator=generator)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


@pytest.mark.parametrize("arch", ARCHITECTURES + MORE_ARCHITECTURES)
def test_every_architecture_takes_adapters_above_the_floor_and_merges_exactly(arch):
    model = tiny_model(arch, layers=4, dropout=0.0)
    groups = supported_layer_groups(model, arch)
    floor = 1 if arch == "albert" else 2  # ALBERT's one layer is shared by every depth: one layer group
    plan = lora_plan(_options(freeze=floor), model, groups, base_model="tiny")
    plan.apply()
    adapters = plan.adapters
    assert adapters.modules and adapters.parameters > 0
    # adapters only in the groups above the floor (the embeddings and the first layer), never below it
    for group in plan.groups[:floor]:
        assert not any(ADAPTER_MARK in name for name, _ in group.parameters), group.name
    assert set(adapters.held) == {g.name for g in plan.groups[floor:] if place(g.name) == "layer"}
    # what trains: adapters, the groups after the layers, the head; nothing else
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    in_groups = {name: group.name for group in plan.groups for name, _ in group.parameters}
    for name in trainable:
        group = in_groups.get(name)
        assert group is None or ADAPTER_MARK in name or group not in adapters.held and plan.groups.index(
            next(g for g in plan.groups if g.name == group)) >= floor, name
    assert {name for name in in_groups if ADAPTER_MARK in name} <= trainable
    assert {name for name, _ in model.named_parameters() if name not in in_groups} <= trainable  # the head
    # non-zero adapters (B starts at zero): the merged plain model computes what the adapted one does
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.2)
    model.eval()
    merged = merged_copy(model).eval()
    assert not any(ADAPTER_MARK in name or "base_layer" in name for name in merged.state_dict())
    assert sorted(merged.state_dict()) == sorted(tiny_model(arch, layers=4, dropout=0.0).state_dict())
    with torch.no_grad():
        torch.testing.assert_close(merged(**_inputs()).logits, model(**_inputs()).logits, rtol=1e-5, atol=1e-5)


def test_adapters_get_their_layers_learning_rate(tmp_path, tokenizer):
    model = tiny_model("bert", layers=3, dropout=0.0)
    plan = lora_plan(_options(freeze=1), model, supported_layer_groups(model, "bert"), base_model="tiny")
    plan.apply()
    args = training_args(tmp_path, max_steps=1, learning_rate=1e-2, layer_lr_decay=0.5, lora_r=4, freeze=1)
    trainer = make_trainer(model, args, tokenizer, tiny_dataset(tokenizer, SENTENCES, LABELS), plan=plan)
    trainer.create_optimizer()
    rates = {}
    for group in trainer.optimizer.param_groups:
        names = [n for n, p in model.named_parameters() if any(p is q for q in group["params"])]
        for name in names:
            rates[name] = group["lr"]
    # 3 layers, decay 0.5: layer i at lr * 0.5^(3 - i); the head at lr
    assert rates["bert.encoder.layer.0.attention.self.query.lora_A.default.weight"] == pytest.approx(1e-2 * 0.5**3)
    assert rates["bert.encoder.layer.2.attention.self.value.lora_B.default.weight"] == pytest.approx(1e-2 * 0.5)
    assert rates["classifier.weight"] == pytest.approx(1e-2)
    assert not any("base_layer" in name or "embeddings" in name for name in rates)


LORA_RUN = ["--max_train_samples", "64", "--max_eval_samples", "40", "--max_steps", "4", "--per_device_train_batch_size",
            "16", "--learning_rate", "5e-3", "--eval_strategy", "no", "--load_best_model_at_end", "false",
            "--lora_r", "4", "--lora_alpha", "16", "--freeze", "2", "--precision", "fp32", "--seed", "5"]


@pytest.fixture(scope="module")
def lora_runs(tmp_path_factory, tiny_bert_dir, data_dir):
    """A LoRA run (checkpoints at steps 2 and 4), the same run uncached, and the same run resumed from step 2."""
    root = tmp_path_factory.mktemp("lora")
    argv = ["--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(data_dir), *LORA_RUN,
            "--save_strategy", "steps", "--save_steps", "2", "--save_total_limit", "5"]
    assert train.main(argv + ["--output_dir", str(root / "cached")]) == 0
    assert train.main(argv + ["--output_dir", str(root / "uncached"), "--cache_frozen", "false"]) == 0
    (root / "resumed").mkdir()
    shutil.copytree(root / "cached" / "checkpoint-2", root / "resumed" / "checkpoint-2")
    assert train.main(argv + ["--output_dir", str(root / "resumed"), "--resume_from_checkpoint", "last"]) == 0
    return root


def test_only_the_adapted_weights_and_the_head_change(lora_runs, tiny_bert_dir):
    base, trained = load_file(tiny_bert_dir / "model.safetensors"), load_file(lora_runs / "cached" / "model.safetensors")
    assert sorted(base) == sorted(trained)  # a plain model: no adapter or wrapper names
    changed = {name for name in base if not torch.equal(base[name], trained[name])}
    adapted = {f"bert.encoder.layer.{i}.attention.self.{m}.weight" for i in (1, 2) for m in ("query", "value")}
    head = {"classifier.weight", "classifier.bias", "bert.pooler.dense.weight", "bert.pooler.dense.bias"}
    assert changed == adapted | head  # floor 2: layer 0 carries no adapter; biases of adapted layers stay
    results = json.loads((lora_runs / "cached" / "results.json").read_text())
    lora = results["plan"]["lora"]
    assert lora == {"r": 4, "alpha": 16.0, "dropout": 0.0, "target_modules": ["query", "value"], "adapted_layers": 4,
                    "adapter_parameters": 4 * 4 * (32 + 32)}
    assert results["trainable_parameters"] == lora["adapter_parameters"] + sum(base[n].numel() for n in head)
    assert results["frozen_cache"]["used"]


def test_the_merged_model_equals_the_peft_model_and_loads_without_peft(lora_runs, tiny_bert_dir):
    from peft import PeftModel

    out = lora_runs / "cached"
    assert not (out / "adapter_config.json").exists()  # beside config.json, transformers would load it as an adapter
    merged = AutoModelForSequenceClassification.from_pretrained(out).eval()
    adapted = PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(tiny_bert_dir),
                                        out / "adapter").eval()
    with torch.no_grad():
        torch.testing.assert_close(merged(**_inputs()).logits, adapted(**_inputs()).logits, rtol=1e-5, atol=1e-5)
    classify = pipeline("text-classification", model=str(out), device="cpu")
    assert classify("The book was written by John.")[0]["label"] in ("unacceptable", "acceptable")
    card = (out / "README.md").read_text()
    assert "- LoRA: rank 4, alpha 16, dropout 0, on query value (4 linear layers" in card


def test_lora_beside_a_cached_prefix_equals_lora_beside_an_uncached_one(lora_runs):
    cached, uncached = (load_file(lora_runs / name / "model.safetensors") for name in ("cached", "uncached"))
    for name, value in cached.items():
        torch.testing.assert_close(uncached[name], value, rtol=1e-5, atol=1e-6, msg=name)
    assert not json.loads((lora_runs / "uncached" / "results.json").read_text())["frozen_cache"]["used"]


def test_a_resumed_lora_run_is_bit_identical(lora_runs):
    whole, resumed = (load_file(lora_runs / name / "model.safetensors") for name in ("cached", "resumed"))
    assert [name for name in whole if not torch.equal(whole[name], resumed[name])] == []
    adapter = [load_file(lora_runs / name / "adapter" / "adapter_model.safetensors") for name in ("cached", "resumed")]
    assert all(torch.equal(adapter[0][k], adapter[1][k]) for k in adapter[0])


@pytest.mark.parametrize("flags, message", [
    (["--lora_r", "-1"], "lora_r must be 0 (off) or more, got -1"),
    (["--lora_r", "4", "--lora_alpha", "0"], "lora_alpha must be a positive number, got 0.0"),
    (["--lora_r", "4", "--lora_dropout", "1"], "lora_dropout must be in [0, 1), got 1.0"),
    (["--lora_r", "4", "--gradual_unfreeze_steps", "2"], "lora_r and gradual_unfreeze_steps do not combine"),
    (["--lora_r", "4", "--freeze", "2", "--freeze_method", "lr0"], "lora_r needs --freeze_method requires_grad"),
    (["--lora_r", "4", "--lora_target_modules", "qkv"],
     "--lora_target_modules: no linear layer named qkv in this model's encoder layers; they hold: dense, key, query, value"),
    (["--lora_r", "4", "--lora_target_modules", "all-linear", "query"], "all-linear stands alone"),
    (["--lora_r", "4", "--freeze", "4"], "--lora_r 4 with --freeze 4: no encoder layer is left above the floor"),
    # a typo's rank would allocate gigabytes of adapters; above the layer's width it adds nothing
    (["--lora_r", "100000"], "--lora_r 100000 is larger than the layers it adapts (bert.encoder.layer.0.attention.self."
     "query: 32 wide at the narrowest); give at most 32"),
    (["--lora_r", "33", "--lora_target_modules", "all-linear"], "give at most 32"),
])
def test_bad_lora_options_are_one_line_errors(flags, message, tmp_path, tiny_bert_dir, data_dir, capsys):
    argv = ["--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(data_dir), "--output_dir", str(tmp_path / "run"),
            "--max_steps", "1", *flags]
    assert train.main(argv) == 2
    err = capsys.readouterr().err  # the target and floor checks need the model: its loading bar comes first
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("error: ")
    assert message in err.strip().splitlines()[-1]


def test_all_linear_adapts_every_linear_layer_of_the_layers_above_the_floor():
    model = tiny_model("bert", layers=3, dropout=0.0)
    plan = lora_plan(_options(targets=["all-linear"], freeze=2), model, find_layer_groups(model), base_model="tiny")
    per_layer = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                 "intermediate.dense", "output.dense")
    assert sorted(plan.adapters.modules) == sorted(f"bert.encoder.layer.{i}.{m}" for i in (1, 2) for m in per_layer)


def test_the_merged_copy_leaves_the_training_model_as_it_was():
    model = tiny_model("bert", layers=2, dropout=0.0)
    lora_plan(_options(freeze=1), model, find_layer_groups(model), base_model="tiny")
    before = copy.deepcopy(model.state_dict())
    merged_copy(model)
    after = model.state_dict()
    assert sorted(before) == sorted(after) and all(torch.equal(before[k], after[k]) for k in before)


def test_predicting_from_a_lora_checkpoint_is_refused_not_random(lora_runs, capsys):
    """A checkpoint keeps the adapters apart from the base weights: loaded as a plain model, the adapted layers
    would start at random. predict refuses it and points at the run's folder, which predicts as trained."""
    from cola import predict

    assert predict.main([str(lora_runs / "cached" / "checkpoint-4"), "The book was written by John."]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "weight(s) missing" in err and "use the run's output folder, which holds the merged model" in err
    assert predict.main([str(lora_runs / "cached"), "The book was written by John."]) == 0


def test_an_adapter_on_a_packaged_model_loads_offline_from_its_own_config(tmp_path, data_dir):
    """The adapter's config names the packaged model's folder as its base (its Hub id would need the network), so
    PEFT loads it whole from the adapter folder alone, and it equals the merged model."""
    from peft import AutoPeftModelForSequenceClassification

    out = tmp_path / "minilm"
    assert train.main(["--model_name_or_path", "all-MiniLM-L6-v2", "--data_dir", str(data_dir), "--output_dir", str(out),
                       "--max_train_samples", "32", "--max_eval_samples", "16", "--max_steps", "2", "--lora_r", "2",
                       "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false"]) == 0
    from cola.packaged import packaged_model

    config = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == packaged_model("all-MiniLM-L6-v2").folder()
    adapted = AutoPeftModelForSequenceClassification.from_pretrained(out / "adapter").eval()
    merged = AutoModelForSequenceClassification.from_pretrained(out).eval()
    with torch.no_grad():
        torch.testing.assert_close(merged(**_inputs()).logits, adapted(**_inputs()).logits, rtol=1e-5, atol=1e-5)
