"""Frozen layers: eval mode during training, the frozen-prefix cache (exactly the uncached run), freezing by LR 0."""

import contextlib
import copy
import json

import pytest
import torch
from conftest import (
    ARCHITECTURES,
    LABELS,
    MORE_ARCHITECTURES,
    SENTENCES,
    make_run_parts,
    require_base_model,
    sweep_argv,
    tiny_dataset,
    tiny_model,
    training_args,
)
from transformers import DataCollatorWithPadding

import train
from cola.errors import CliError
from cola.freezing import find_layer_groups, freeze_bottom, modules_of
from cola.frozen_cache import FrozenPrefixCache

EVAL_SENTENCES = ["The dog barked.", "Barked dog the.", "The cat sat on the mat.", "She voted for herself."]


def _train(model, tokenizer, tmp_path, n, **overrides):
    """A few steps of a real Trainer run with the bottom n groups frozen; returns (trainer, per-step losses, the
    run's report)."""
    settings = dict(max_steps=4, per_device_train_batch_size=4, learning_rate=1e-3, freeze=n, eval_strategy="no",
                    per_device_eval_batch_size=3)
    settings.update(overrides)
    trainer, report = make_run_parts(model, training_args(tmp_path, **settings), tokenizer,
                                     tiny_dataset(tokenizer, SENTENCES, LABELS),
                                     eval=tiny_dataset(tokenizer, EVAL_SENTENCES, [1, 0, 1, 1]), class_weights=[2.0, 0.8])
    trainer.train()
    return trainer, [entry["loss"] for entry in trainer.state.log_history if "loss" in entry], report


def _frozen_counts(arch):
    groups = len(find_layer_groups(tiny_model(arch, layers=4)))
    # embeddings only, a middle value, every group (the pooler or final norm too, where there is one)
    return sorted({1, groups // 2, groups})


CASES = [(arch, n) for arch in ARCHITECTURES + MORE_ARCHITECTURES for n in _frozen_counts(arch)]


@pytest.mark.parametrize(("arch", "n"), CASES, ids=[f"{a}-freeze{n}" for a, n in CASES])
def test_cached_run_equals_uncached_run(arch, n, tmp_path, tokenizer):
    base = tiny_model(arch, layers=4, dropout=0.1)  # dropout on: the trainable layers draw the same random numbers
    plain, plain_losses, plain_report = _train(copy.deepcopy(base), tokenizer, tmp_path / "plain", n, cache_frozen=False,
                                 gradient_accumulation_steps=2, layer_lr_decay=0.8)
    cached_model = copy.deepcopy(base)
    first_frozen = modules_of(cached_model, find_layer_groups(cached_model)[:1])[0]
    calls = []
    first_frozen.register_forward_pre_hook(lambda *_: calls.append(1))  # runs even while replaying (hooks stay)
    lookups = []
    # The embeddings' own submodules do not: count the word-embedding look-ups during training.
    embedding_table = next(m for m in first_frozen.modules() if isinstance(m, torch.nn.Embedding))
    cached, cached_losses = None, None
    handle = embedding_table.register_forward_hook(lambda *_: lookups.append(1))
    cached, cached_losses, cached_report = _train(cached_model, tokenizer, tmp_path / "cached", n, cache_frozen=True,
                                   gradient_accumulation_steps=2, layer_lr_decay=0.8)
    handle.remove()

    assert cached.frozen_cache is not None and cached_report.frozen_cache["used"]
    assert plain.frozen_cache is None and plain_report.frozen_cache == {"used": False, "reason": "--cache_frozen false"}
    # Look-ups happened only while the cache filled: the probe (2 passes) and the forward-order trace on dummy inputs,
    # then once per chunk of sentences (of one length each), when a batch first held one of them; then none.
    assert len(lookups) == 3 + len(cached.frozen_cache.chunks)
    cache = cached.frozen_cache
    assert all(set(chunk) <= cache.filled for chunk in cache.chunks if set(chunk) & cache.filled)  # whole chunks
    assert len(SENTENCES) <= cache.summary()["cached_sentences"]  # and the evaluation's that share their chunks
    assert len(calls) >= 8  # the patched module was still called at each of the 8 micro-batches
    assert len(plain_losses) == 4
    torch.testing.assert_close(torch.tensor(cached_losses), torch.tensor(plain_losses), rtol=1e-5, atol=1e-6)
    final = dict(cached.model.named_parameters())
    for name, value in plain.model.named_parameters():
        torch.testing.assert_close(final[name], value, rtol=1e-5, atol=1e-6, msg=name)
    # Evaluation goes through the cache too, and gives the same loss.
    assert cached.evaluate()["eval_loss"] == pytest.approx(plain.evaluate()["eval_loss"], rel=1e-5)


def test_the_model_is_unchanged_between_steps_and_saves_whole(tmp_path, tokenizer):
    trainer, _, report = _train(tiny_model("electra", layers=3), tokenizer, tmp_path, 3, cache_frozen=True)
    assert all("forward" not in vars(m) for m in trainer.model.modules())  # no patched forward left behind
    trainer.save_model(str(tmp_path / "saved"))
    from transformers import AutoModelForSequenceClassification

    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "saved")
    assert set(reloaded.state_dict()) == set(trainer.model.state_dict())
    enc = tokenizer(EVAL_SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(reloaded.eval()(**enc).logits, trainer.model.eval()(**enc).logits)


def test_a_batch_with_an_unknown_sentence_runs_uncached(tmp_path, tokenizer):
    trainer, _, report = _train(tiny_model("bert", layers=2), tokenizer, tmp_path, 2, cache_frozen=True, max_steps=1)
    cache = trainer.frozen_cache
    known = DataCollatorWithPadding(tokenizer)([tokenizer(s) for s in SENTENCES[:3]])
    assert cache.states_for(dict(known)).shape == (*known["input_ids"].shape, 32)
    unknown = DataCollatorWithPadding(tokenizer)([tokenizer(s) for s in [SENTENCES[0], "A sentence never seen."]])
    assert cache.states_for(dict(unknown)) is None
    predictions = trainer.predict(tiny_dataset(tokenizer, ["A sentence never seen.", "Nor this one."], [1, 0]))
    model = trainer.model.eval()
    with torch.no_grad():
        expected = model(**tokenizer(["A sentence never seen.", "Nor this one."], padding=True, return_tensors="pt")).logits
    torch.testing.assert_close(torch.tensor(predictions.predictions), expected, rtol=1e-5, atol=1e-6)


def test_cache_is_not_built_where_it_would_not_be_exact(tmp_path, tokenizer):
    for overrides, reason in [
        (dict(freeze=0), "nothing is frozen"),
        (dict(freeze=2, frozen_eval_mode=False), "dropout"),
        (dict(freeze=2, freeze_method="lr0"), "backward"),
    ]:
        n = overrides.pop("freeze")
        trainer, _, report = _train(tiny_model("bert", layers=2), tokenizer, tmp_path / reason, n, max_steps=1, **overrides)
        assert trainer.frozen_cache is None and reason in report.frozen_cache["reason"]


@pytest.mark.parametrize(("overrides", "message"), [
    (dict(freeze=0), "give --freeze N"),
    (dict(freeze=2, frozen_eval_mode=False), "needs frozen_eval_mode"),
    (dict(freeze=2, freeze_method="lr0"), "needs --freeze_method requires_grad"),
])
def test_asking_for_a_cache_that_cannot_be_exact_is_refused(overrides, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        training_args(tmp_path, cache_frozen=True, **overrides)


def test_an_architecture_that_cannot_be_cut_falls_back_or_is_refused(tmp_path, tokenizer, monkeypatch, caplog):
    # A model whose forward scales the embeddings' output before the encoder: replaying the embeddings' output
    # alone skips that step, and the probe notices.
    def scaled_embeddings(model):
        embeddings = model.bert.embeddings
        embeddings.register_forward_hook(lambda _m, _i, output: output * 3.0)
        return model

    trainer, _, report = _train(scaled_embeddings(tiny_model("bert", layers=2)), tokenizer, tmp_path / "auto", 1, max_steps=1)
    assert trainer.frozen_cache is None and "differ from the full model" in report.frozen_cache["reason"]
    with pytest.raises(CliError, match="--cache_frozen: .*differ from the full model"):
        _train(scaled_embeddings(tiny_model("bert", layers=2)), tokenizer, tmp_path / "asked", 1, cache_frozen=True)


def test_cache_larger_than_the_memory_allowed_lives_in_an_unlinked_file(tmp_path, tokenizer):
    trainer, losses, report = _train(tiny_model("bert", layers=2), tokenizer, tmp_path, 2, cache_frozen=True, cache_memory_gb=0)
    assert "memory-mapped file" in report.frozen_cache["where"]
    assert not list((tmp_path / "out").glob(".frozen-cache-*"))  # unlinked as soon as it was mapped
    plain, plain_losses, plain_report = _train(tiny_model("bert", layers=2), tokenizer, tmp_path / "p", 2, cache_frozen=False)
    torch.testing.assert_close(torch.tensor(losses), torch.tensor(plain_losses), rtol=1e-5, atol=1e-6)


def test_cache_that_fits_nowhere_is_refused_before_the_pass(tmp_path, tokenizer, monkeypatch):
    from collections import namedtuple

    monkeypatch.setattr("cola.frozen_cache.shutil.disk_usage", lambda _: namedtuple("U", "total used free")(1, 1, 100))
    with pytest.raises(CliError, match=r"fits neither in memory .* nor on disk"):
        _train(tiny_model("bert", layers=2), tokenizer, tmp_path, 2, cache_frozen=True, cache_memory_gb=0)


# --- frozen groups in eval mode ---


@pytest.mark.parametrize("eval_mode", [True, False])
def test_frozen_groups_stay_in_eval_mode_during_real_steps(eval_mode, tmp_path, tokenizer):
    model = tiny_model("bert", layers=3)
    seen = {"embeddings": [], "layer_00": [], "layer_01": [], "layer_02": [], "classifier": []}
    for name, module in [("embeddings", model.bert.embeddings), ("classifier", model.classifier),
                         *[(f"layer_0{i}", layer) for i, layer in enumerate(model.bert.encoder.layer)]]:
        # The flag of the module and of every submodule (its dropouts) as the step's forward reaches it.
        module.register_forward_pre_hook(lambda m, _a, name=name: seen[name].append({s.training for s in m.modules()}))
    _train(model, tokenizer, tmp_path, 2, max_steps=2, frozen_eval_mode=eval_mode, cache_frozen=False)
    assert seen["embeddings"] == seen["layer_00"] == [{not eval_mode}] * 2  # one forward per step
    assert seen["layer_01"] == seen["layer_02"] == seen["classifier"] == [{True}] * 2


# --- freezing by learning rate 0 ---


@pytest.mark.parametrize("method", ["requires_grad", "lr0"])
def test_both_freeze_methods_leave_frozen_weights_bit_identical(method, tmp_path, tokenizer):
    model = tiny_model("bert", layers=3)
    groups = find_layer_groups(model)
    before = {n: p.detach().clone() for g in groups[:2] for n, p in g.parameters}
    gradients = []  # lr0 pays the full backward: gradients reach the frozen weights; requires_grad stops above them
    if method == "lr0":
        model.bert.embeddings.word_embeddings.weight.register_post_accumulate_grad_hook(lambda _: gradients.append(1))
    trainer, _, report = _train(model, tokenizer, tmp_path, 2, freeze_method=method, weight_decay=0.1)
    for name, param in model.named_parameters():
        if name in before:
            assert torch.equal(param, before[name]), name
            assert param.requires_grad == (method == "lr0"), name
    assert len(gradients) == (4 if method == "lr0" else 0)
    zero = {g["name"] for g in trainer.optimizer.param_groups if g["initial_lr"] == 0}
    frozen_groups = {"embeddings.decay", "embeddings.no_decay", "layer_00.decay", "layer_00.no_decay"}
    assert zero == (frozen_groups if method == "lr0" else set())
    assert (trainer.frozen_cache is None) == (method == "lr0")  # lr0 is never cached: the backward is paid


def test_replaying_restores_the_modules_after_an_error(tokenizer):
    model = tiny_model("bert", layers=2)
    groups = find_layer_groups(model)
    freeze_bottom(groups, 2)
    cache = FrozenPrefixCache(model, groups, 2, [tiny_dataset(tokenizer, SENTENCES, LABELS)],
                              collate=DataCollatorWithPadding(tokenizer), device=torch.device("cpu"),
                              autocast=contextlib.nullcontext, memory_gb=1, spill_dir="unused")
    with pytest.raises(RuntimeError), cache.replaying(torch.zeros(1, 3, 32)):
        raise RuntimeError("a step failed")
    assert all("forward" not in vars(m) for m in model.modules())


# --- through train.py ---


def test_a_sweep_of_seeds_caches_in_every_run(tmp_path, tiny_bert_dir, data_dir):

    assert train.main(sweep_argv(tiny_bert_dir, data_dir, tmp_path / "sweep") + ["--freeze", "3"]) == 0
    runs = [json.loads((tmp_path / "sweep" / f"seed_{seed}" / "results.json").read_text()) for seed in (3, 4)]
    assert [r["frozen_cache"]["used"] for r in runs] == [True, True]
    assert runs[0]["frozen_cache"]["groups"] == ["embeddings", "layer_00", "layer_01"]
    assert runs[0]["train"]["final_loss"] != runs[1]["train"]["final_loss"]  # the seeds still differ


FLOORS = {"static": ["--freeze", "2", "--cache_frozen", "true"],
          "rising": ["--progressive_freeze", "linear", "--progressive_freeze_every", "3", "--progressive_freeze_start", "3",
                     "--cache_frozen", "true"],
          "none": []}  # nothing frozen, no cache: the length-grouped order of the second epoch once differed


@pytest.fixture(scope="module", params=list(FLOORS))
def uninterrupted(request, tmp_path_factory, tiny_bert_dropout_dir, data_dir):
    """An fp32 run of 12 steps (2 epochs of 6) with a checkpoint at every step, and the flags that made it."""
    out = tmp_path_factory.mktemp(f"uninterrupted_{request.param}") / "whole"
    argv = ["--model_name_or_path", str(tiny_bert_dropout_dir), "--data_dir", str(data_dir), "--max_train_samples", "96",
            "--max_eval_samples", "32", "--max_steps", "12", "--per_device_train_batch_size", "16", "--learning_rate",
            "1e-3", "--eval_strategy", "no", "--save_strategy", "steps", "--save_steps", "1", "--save_total_limit", "20",
            "--load_best_model_at_end", "false", "--seed", "3", "--precision", "fp32", "--disable_tqdm", "true",
            *FLOORS[request.param]]
    assert train.main(argv + ["--output_dir", str(out)]) == 0
    return out, argv


@pytest.mark.parametrize("cut", [2, 5, 8])
def test_a_run_resumed_anywhere_ends_as_the_uninterrupted_one(uninterrupted, tmp_path, cut):
    """A resumed run's cache starts empty and fills in another order than the uninterrupted run's did (sentences
    first read before the cut are computed again after it, in other batches), and its global RNG never went through
    the draws before the cut: the weights are the same, bit for bit, for a static floor, a rising one and none,
    killed in the first epoch or the second."""
    import shutil

    from safetensors.torch import load_file

    out, argv = uninterrupted
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copytree(out / f"checkpoint-{cut}", resumed / f"checkpoint-{cut}")
    assert train.main(argv + ["--output_dir", str(resumed), "--resume_from_checkpoint", "last"]) == 0
    whole_w, resumed_w = load_file(out / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert [k for k in whole_w if not torch.equal(whole_w[k], resumed_w[k])] == []
    whole, again = (json.loads((d / "results.json").read_text()) for d in (out, resumed))
    assert again["eval"] == {**whole["eval"], **{k: again["eval"][k] for k in ("runtime_s", "samples_per_second")}}


@pytest.mark.parametrize(("flags", "message"), [
    (["--cache_frozen", "true"], "cache_frozen cannot be exact: nothing is frozen; give --freeze N (N > 0)"),
    (["--cache_frozen", "true", "--freeze", "2", "--freeze_method", "lr0"],
     "cache_frozen cannot be exact: --freeze_method lr0 keeps the frozen groups in the backward pass; it needs "
     "--freeze_method requires_grad"),
    (["--cache_memory_gb", "-1"], "cache_memory_gb must be 0 or more, got -1.0"),
])
def test_bad_cache_options_are_one_line_errors(flags, message, tmp_path, capsys):
    assert train.main(["--output_dir", str(tmp_path / "out"), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_packaged_base_model_trains_the_same_cached_and_uncached(tmp_path, data_dir):
    """all-mpnet-base-v2 (MPNet, 12 layers), the notebook's half frozen: the cache gives the uncached run's losses and
    weights (MPNet's relative attention bias, a table every layer reads, keeps running beside the cache)."""
    from safetensors.torch import load_file

    require_base_model()
    runs = {}
    for cache in ("true", "false"):
        out = tmp_path / f"cache_{cache}"
        argv = ["--model_name_or_path", "all-mpnet-base-v2", "--data_dir", str(data_dir), "--output_dir", str(out),
                "--max_train_samples", "32", "--max_eval_samples", "16", "--max_steps", "3", "--per_device_train_batch_size",
                "8", "--learning_rate", "1e-4", "--freeze", "7", "--cache_frozen", cache, "--eval_strategy", "no",
                "--save_strategy", "no", "--load_best_model_at_end", "false", "--precision", "fp32", "--logging_steps", "1"]
        assert train.main(argv) == 0
        runs[cache] = json.loads((out / "results.json").read_text()), load_file(out / "model.safetensors")
    (cached, cached_weights), (plain, plain_weights) = runs["true"], runs["false"]
    assert cached["frozen_cache"]["used"] and not plain["frozen_cache"]["used"]
    assert cached["plan"]["frozen_groups"] == ["embeddings"] + [f"layer_{i:02d}" for i in range(6)]
    assert cached["train"]["mean_loss"] == pytest.approx(plain["train"]["mean_loss"], rel=1e-4)
    assert cached["eval"]["loss"] == pytest.approx(plain["eval"]["loss"], rel=1e-4)
    for name, value in plain_weights.items():
        torch.testing.assert_close(cached_weights[name], value, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("arch", ["bert", "mpnet", "deberta-v2"])
def test_the_cache_is_exact_in_bf16_too(arch, tmp_path, tokenizer):
    """Under bf16 autocast the cache keeps the frozen prefix's output in the dtype the prefix gives it, so a cached
    run replays exactly what the uncached run computes at every step: the same losses and weights, bit for bit."""
    base = tiny_model(arch, layers=4, dropout=0.1)
    n = len(find_layer_groups(base)) // 2
    plain, plain_losses, plain_report = _train(copy.deepcopy(base), tokenizer, tmp_path / "plain", n, cache_frozen=False,
                                 precision="bf16")
    cached, cached_losses, cached_report = _train(copy.deepcopy(base), tokenizer, tmp_path / "cached", n, cache_frozen=True,
                                   precision="bf16")
    assert plain.args.bf16 and cached_report.frozen_cache["used"]
    assert cached_losses == plain_losses
    final = dict(cached.model.named_parameters())
    assert all(torch.equal(final[name], value) for name, value in plain.model.named_parameters())
