"""Progressive freezing (`cola.progressive`): decisions at the steps a planted statistic says, the floor rising in
the Trainer (gradients, eval mode, optimizer, schedule, cache), cached = uncached, resume bit-exact, sweeps, the
search, one-line errors."""

import copy
import json
import math

import pytest
import torch
from conftest import (
    ARCHITECTURES,
    LABELS,
    MORE_ARCHITECTURES,
    SENTENCES,
    make_trainer,
    sweep_argv,
    tiny_dataset,
    tiny_model,
    training_args,
)
from safetensors.torch import load_file
from transformers import TrainerCallback

import train
from cola.experiments.search_space import load_space
from cola.freezing import find_layer_groups, modules_of
from cola.frozen_cache import FrozenPrefixCache
from cola.progressive import FloorRise, ProgressiveFreezing, linear_floor, settled_prefix, settled_threshold

EVAL_SENTENCES = ["The dog barked.", "Barked dog the.", "The cat sat on the mat.", "She voted for herself."]
NAMES = ["embeddings", "layer_00", "layer_01", "layer_02", "pooler"]  # a 3-layer tiny BERT's groups


def schedule(mode="auto", most=3, every=2, start=4, percentile=50.0):
    return ProgressiveFreezing(mode=mode, most=most, every=every, start=start, percentile=percentile)


# --- the decisions, pure ---


def test_a_settled_run_counts_bottom_up_and_stops_at_the_first_moving_group():
    assert settled_prefix([0.1, 0.2, 0.9, 0.05], threshold=0.2) == 2  # the settled top group waits for the one below
    assert settled_prefix([0.5, 0.1], threshold=0.2) == 0
    assert settled_prefix([math.nan, 0.1], threshold=0.2) == 0  # no gradient in a window: not settled
    assert settled_threshold([0.1, 0.3, 0.2, math.nan], percentile=50) == pytest.approx(0.2)
    assert math.isnan(settled_threshold([math.nan], percentile=50))


def test_linear_rises_evenly_to_the_most_at_the_last_point():
    floors = [linear_floor(2, 12, done=k, points=8) for k in range(1, 9)]
    assert floors == [4, 5, 6, 7, 9, 10, 11, 12]
    assert schedule(mode="linear", every=None, start=None).decision_steps(100) == [20, 30, 40, 50, 60, 70, 80, 90]
    assert schedule(every=3, start=4).decision_steps(20) == [6, 9, 12, 15, 18]  # window ends from the start on
    assert schedule(every=None, start=None).windows(7) == (1, 2)  # a short run still decides


def test_auto_freezes_the_groups_a_planted_statistic_says_have_settled():
    rise = FloorRise(schedule(most=3), NAMES, floor=0)
    planted = {1: [1, 1, 1, 1, 1], 2: [1, 1, 1, 1, 1],  # window 1: every mean 1
               3: [1, 1, 2, 1, 2], 4: [1, 1, 2, 1, 2]}  # window 2: changes 0, 0, 1, 0, 1: median 0
    decided = []
    for step in range(1, 9):
        if step <= 4:
            rise.observe(planted[step][rise.floor:])
        else:  # window 3 (steps 5-6), from the floor (2) up: layer_01 2 -> 2, layer_02 1 -> 1.5, pooler 2 -> 2
            rise.observe([2.0, 1.5, 2.0][rise.floor - 2:])
        floor, statistic = rise.decide(step, 10)
        if floor > rise.floor:
            decided.append(rise.record(step, floor, statistic))
    assert [(e["step"], e["frozen_groups"]) for e in decided] == [
        (4, ["embeddings", "layer_00"]),  # step 2 has no earlier window; step 4 is the first decision
        (6, ["embeddings", "layer_00", "layer_01"]),  # layer_01's change is 0 <= the median; capped at most=3
    ]
    assert decided[0]["statistic"] == {"relative_change": {"embeddings": 0.0, "layer_00": 0.0, "layer_01": 1.0,
                                                           "layer_02": 0.0, "pooler": 1.0}, "threshold": 0.0}


def test_a_tolerance_keeps_groups_training_when_every_norm_jumps_at_once():
    jumps = {1: [1, 1, 1, 1, 1], 2: [1, 1, 1, 1, 1], 3: [2, 2.2, 4, 3, 3.5], 4: [2, 2.2, 4, 3, 3.5]}  # changes 1-3
    for tolerance, expected in ((None, 2), (0.1, 0)):
        rise = FloorRise(ProgressiveFreezing(mode="auto", most=3, every=2, start=4, percentile=50.0,
                                             tolerance=tolerance), NAMES, floor=0)
        for step in range(1, 5):
            rise.observe(jumps[step])
            floor, statistic = rise.decide(step, 10)
        assert floor == expected  # the percentile alone freezes the lower half of a jump; the bound does not
        assert statistic["threshold"] == (2.0 if tolerance is None else 0.1)


def test_the_decision_state_round_trips_through_a_checkpoint():
    rise = FloorRise(schedule(), NAMES, floor=1)
    for step in (1, 2, 3):
        rise.observe([0.5 * step] * (5 - rise.floor))
        rise.decide(step, 10)
    restored = FloorRise(schedule(), NAMES, floor=1)
    restored.load_state_dict(json.loads(json.dumps(rise.state_dict())))
    assert restored.state_dict() == rise.state_dict()
    with pytest.raises(ValueError, match="started at 1 groups of 5, this run's at 0"):
        FloorRise(schedule(), NAMES, floor=0).load_state_dict(rise.state_dict())


# --- the floor rising in a real Trainer ---


def _train(model, tokenizer, tmp_path, **overrides):
    settings = dict(max_steps=8, per_device_train_batch_size=4, learning_rate=1e-3, eval_strategy="no",
                    per_device_eval_batch_size=3, progressive_freeze="linear", progressive_freeze_every=2,
                    progressive_freeze_start=2)
    settings.update(overrides)
    trainer = make_trainer(model, training_args(tmp_path, **settings), tokenizer, tiny_dataset(tokenizer, SENTENCES, LABELS),
                           eval=tiny_dataset(tokenizer, EVAL_SENTENCES, [1, 0, 1, 1]), class_weights=[2.0, 0.8])
    trainer.train()
    return trainer, [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


class Watch(TrainerCallback):
    """The weights as they are after each step."""

    def __init__(self, model):
        self.model, self.after = model, {}

    def on_step_end(self, args, state, control, **kwargs):
        self.after[state.global_step] = {n: p.detach().clone() for n, p in self.model.named_parameters()}


def test_a_planted_statistic_freezes_at_the_expected_steps_and_each_event_does_everything(tmp_path, tokenizer, monkeypatch):
    # Gradient norms planted per optimizer step, groups from the floor up: windows of 2 steps; at step 4 the bottom
    # two groups' changes are 0 (the median), at step 6 layer_01's too.
    norms = iter([[1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 2, 1, 2], [1, 1, 2, 1, 2],
                  [2, 1.5, 2], [2, 1.5, 2], [1.5, 2], [1.5, 2]])
    monkeypatch.setattr("cola.progressive.group_norms", lambda groups: [float(x) for x in next(norms)][:len(groups)])
    model = tiny_model("bert", layers=3, dropout=0.1)
    modes = []
    for name, module in [("embeddings", model.bert.embeddings), *[(f"layer_0{i}", layer) for i, layer in
                                                                   enumerate(model.bert.encoder.layer)]]:
        module.register_forward_pre_hook(lambda m, _a, name=name: modes.append((name, m.training)))
    trainer, _ = _train(model, tokenizer, tmp_path, progressive_freeze="auto", progressive_freeze_start=4,
                        progressive_freeze_max=3, cache_frozen=False)
    rise = trainer.floor_rise
    assert [(e["step"], e["frozen_groups"]) for e in rise.events] == [
        (4, ["embeddings", "layer_00"]), (6, ["embeddings", "layer_00", "layer_01"])]
    groups = find_layer_groups(model)
    frozen = {id(p) for g in groups[:3] for _, p in g.parameters}
    assert all(not p.requires_grad for g in groups[:3] for _, p in g.parameters)
    assert all(p.requires_grad for g in groups[3:] for _, p in g.parameters)
    # They left the optimizer, their AdamW state freed, and the schedule holds one rate per remaining group.
    optimizer, scheduler = trainer.optimizer, trainer.lr_scheduler
    assert {g["unit"] for g in optimizer.param_groups} == {"head", "pooler", "layer_02"}
    assert not any(id(p) in frozen for g in optimizer.param_groups for p in g["params"])
    assert not any(id(p) in frozen for p in optimizer.state)
    assert len(scheduler.lr_lambdas) == len(scheduler.base_lrs) == len(optimizer.param_groups)
    # In eval mode from the step after their event: embeddings and layer_00 trained in steps 1-4, eval in 5-8.
    per_step = [dict(modes[i:i + 4]) for i in range(0, len(modes), 4)]
    assert [s["embeddings"] for s in per_step] == [True] * 4 + [False] * 4
    assert [s["layer_01"] for s in per_step] == [True] * 6 + [False] * 2
    assert [s["layer_02"] for s in per_step] == [True] * 8


def test_frozen_groups_stop_moving_at_their_event(tmp_path, tokenizer):
    model = tiny_model("bert", layers=3, dropout=0.1)
    watch = Watch(model)
    trainer = make_trainer(model, training_args(tmp_path, max_steps=8, per_device_train_batch_size=4, learning_rate=1e-3,
                                                weight_decay=0.1, progressive_freeze="linear",
                                                progressive_freeze_every=2, progressive_freeze_start=2),
                           tokenizer, tiny_dataset(tokenizer, SENTENCES, LABELS))
    trainer.add_callback(watch)
    trainer.train()
    events = trainer.floor_rise.events
    # 3 decision points (2, 4, 6) from 0 to 3 groups: one group each
    assert [(e["step"], len(e["frozen_groups"])) for e in events] == [(2, 1), (4, 2), (6, 3)]
    groups = find_layer_groups(model)
    for event, group in zip(events, groups):
        for name, _ in group.parameters:
            at_event = watch.after[event["step"]][name]
            assert all(torch.equal(watch.after[s][name], at_event) for s in range(event["step"], 9)), name
            assert not torch.equal(watch.after[1][name], watch.after[event["step"]][name]) or event["step"] == 1, name


CASES = ARCHITECTURES + MORE_ARCHITECTURES


@pytest.mark.parametrize("arch", CASES)
def test_cached_run_equals_uncached_run_with_the_same_events(arch, tmp_path, tokenizer):
    """The cache fills lazily, then grows over each newly frozen group from its cached states: the losses and
    weights are the uncached run's."""
    base = tiny_model(arch, layers=4, dropout=0.1)
    plain, plain_losses = _train(copy.deepcopy(base), tokenizer, tmp_path / "plain", cache_frozen=False)
    cached, cached_losses = _train(copy.deepcopy(base), tokenizer, tmp_path / "cached", cache_frozen=True)
    # 3 decision points (steps 2, 4, 6) to the top layer; ALBERT's one shared layer group rises once
    assert cached.floor_rise.events == plain.floor_rise.events
    assert len(cached.floor_rise.events) == (1 if arch == "albert" else 3)
    summary = cached.frozen_cache.summary()
    expected = [n for n in cached.floor_rise.events[-1]["frozen_groups"] if not n.startswith(("pooler", "final"))]
    assert summary["groups"] == expected and summary["grow_passes"] == (0 if arch == "albert" else 2)
    assert plain.frozen_cache is None
    torch.testing.assert_close(torch.tensor(cached_losses), torch.tensor(plain_losses), rtol=1e-5, atol=1e-6)
    final = dict(cached.model.named_parameters())
    for name, value in plain.model.named_parameters():
        torch.testing.assert_close(final[name], value, rtol=1e-5, atol=1e-6, msg=name)
    assert cached.evaluate()["eval_loss"] == pytest.approx(plain.evaluate()["eval_loss"], rel=1e-5)


def test_growing_runs_only_the_new_groups_over_cached_sentences(tmp_path, tokenizer, monkeypatch):
    model = tiny_model("bert", layers=3, dropout=0.1)
    calls = {name: 0 for name in ("embeddings", "layer_00", "layer_01")}
    groups = find_layer_groups(model)
    for group in groups[:3]:
        modules_of(model, [group])[0].register_forward_pre_hook(
            lambda *_, name=group.name: calls.__setitem__(name, calls[name] + 1))
    grown = []
    original = FrozenPrefixCache._grow

    def spy(self, *args):
        before, cached = dict(calls), len(self.filled)
        original(self, *args)
        grown.append(({k: calls[k] - before[k] for k in calls}, cached))

    monkeypatch.setattr(FrozenPrefixCache, "_grow", spy)
    _train(model, tokenizer, tmp_path, cache_frozen=True, max_steps=8)
    # Growing over layer_00 (the event at step 4) and layer_01 (step 6): the new layer runs once per batch of cached
    # sentences (3 a batch), the layers below it not at all (their states come from the cache; the embeddings'
    # module is patched, and a patched module's call still counts: it only hands the cached states on).
    assert len(grown) == 2
    (first, cached_first), (second, cached_second) = grown
    assert first["layer_00"] == -(-cached_first // 3) and first["layer_01"] == 0
    assert second["layer_01"] == -(-cached_second // 3) and second["layer_00"] == -(-cached_second // 3)


# --- through train.py: results, resume, sweeps, the search, errors ---


RESUMABLE = ["--max_train_samples", "96", "--max_eval_samples", "32", "--max_steps", "10",
             "--per_device_train_batch_size", "16", "--learning_rate", "1e-3", "--eval_strategy", "no",
             "--save_strategy", "steps", "--save_steps", "1", "--save_total_limit", "20",
             "--load_best_model_at_end", "false", "--seed", "1", "--progressive_freeze", "auto",
             "--progressive_freeze_every", "2", "--progressive_freeze_start", "4", "--disable_tqdm", "true"]


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory, tiny_bert_dropout_dir, data_dir):
    out = tmp_path_factory.mktemp("progressive") / "whole"
    argv = ["--model_name_or_path", str(tiny_bert_dropout_dir), "--data_dir", str(data_dir), *RESUMABLE]
    assert train.main(argv + ["--output_dir", str(out)]) == 0
    return out, argv


def test_results_list_every_event_and_the_cache_that_grew(whole_run):
    out, _ = whole_run
    results = json.loads((out / "results.json").read_text())
    progressive = results["plan"]["progressive"]
    assert progressive["mode"] == "auto" and progressive["max_frozen_groups"] == 3
    events = progressive["events"]
    assert events and all(e["step"] in (4, 6, 8) for e in events)
    assert all(set(e["statistic"]) == {"relative_change", "threshold"} for e in events)
    assert results["frozen_cache"]["groups"] == events[-1]["frozen_groups"]
    assert results["plan"]["frozen_groups"] == []  # the floor it started from


@pytest.mark.parametrize("cut", [5, 6], ids=["between_two_events", "right_after_one"])
def test_a_resumed_run_continues_the_same_decisions_bit_exactly(whole_run, tmp_path, cut):
    out, argv = whole_run
    events = json.loads((out / "results.json").read_text())["plan"]["progressive"]["events"]
    assert any(e["step"] < cut for e in events), "the run must have frozen something before the cut"
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    import shutil

    shutil.copytree(out / f"checkpoint-{cut}", resumed / f"checkpoint-{cut}")
    assert train.main(argv + ["--output_dir", str(resumed), "--resume_from_checkpoint", "last"]) == 0
    whole, resumed_results = (json.loads((d / "results.json").read_text()) for d in (out, resumed))
    assert resumed_results["plan"]["progressive"]["events"] == events
    # what trained at the start, not after the checkpoint's floor; what the resumed process measured says so
    assert resumed_results["trainable_parameters"] == whole["trainable_parameters"] == whole["total_parameters"]
    assert (whole["train"]["resumed_from_step"], resumed_results["train"]["resumed_from_step"]) == (None, cut)
    assert resumed_results["train"]["step_seconds"]["steps"] == 10 - cut
    assert resumed_results["train"]["losses"] == whole["train"]["losses"]
    whole_w, resumed_w = load_file(out / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert all(torch.equal(whole_w[k], resumed_w[k]) for k in whole_w)


def test_an_early_best_checkpoint_is_evaluated_on_its_own_states(tmp_path, tiny_bert_dropout_dir, data_dir,
                                                                  monkeypatch):
    """The floor rises after the best checkpoint: the cache then holds states computed by the later weights of the
    groups frozen since, so the final evaluation of the loaded checkpoint (results.json, eval_predictions.csv, the
    card) must not read it. Cached and uncached runs end with the same model, scored the same. (Planted: a metric
    that falls at every evaluation picks the first checkpoint, step 2, as the best.)"""
    import cola.trainer

    real = cola.trainer.build_compute_metrics

    def planted(*args):
        compute, calls = real(*args), []

        def with_planted(prediction):
            calls.append(1)
            metrics = {**compute(prediction), "planted": -len(calls)}
            with_planted.last = compute.last  # what eval_predictions.csv is written from
            return metrics

        with_planted.last = None
        return with_planted

    monkeypatch.setattr(cola.trainer, "build_compute_metrics", planted)
    argv = ["--model_name_or_path", str(tiny_bert_dropout_dir), "--data_dir", str(data_dir), "--max_train_samples", "96",
            "--max_eval_samples", "48", "--max_steps", "8", "--per_device_train_batch_size", "16", "--learning_rate",
            "5e-3", "--eval_strategy", "steps", "--eval_steps", "2", "--save_strategy", "steps", "--save_steps", "2",
            "--save_total_limit", "10", "--metric_for_best_model", "planted", "--progressive_freeze", "linear",
            "--progressive_freeze_every", "2", "--progressive_freeze_start", "2", "--seed", "3", "--disable_tqdm", "true"]
    runs = {}
    for cache in ("true", "false"):
        out = tmp_path / cache
        assert train.main(argv + ["--output_dir", str(out), "--cache_frozen", cache]) == 0
        runs[cache] = (json.loads((out / "results.json").read_text()), load_file(out / "model.safetensors"),
                       (out / "eval_predictions.csv").read_text())
    (cached, cached_w, cached_rows), (plain, plain_w, plain_rows) = runs["true"], runs["false"]
    state = json.loads((tmp_path / "true" / "checkpoint-8" / "trainer_state.json").read_text())
    assert state["best_global_step"] == 2
    assert [e["step"] for e in cached["plan"]["progressive"]["events"]] == [2, 4, 6]
    assert all(torch.equal(cached_w[k], plain_w[k]) for k in plain_w)  # the same model ...
    assert cached["eval"]["loss"] == pytest.approx(plain["eval"]["loss"], rel=1e-5)  # ... scored the same,
    during = next(e for e in state["log_history"] if e.get("step") == 2 and "eval_cross_entropy" in e)
    assert cached["eval"]["loss"] == pytest.approx(during["eval_cross_entropy"], rel=1e-5)  # as when it was saved
    assert cached_rows == plain_rows


def test_a_sweep_of_seeds_rises_in_every_run(tmp_path, tiny_bert_dir, data_dir):
    argv = sweep_argv(tiny_bert_dir, data_dir, tmp_path / "sweep") + ["--progressive_freeze", "linear",
                                                                      "--progressive_freeze_every", "1"]
    assert train.main(argv) == 0
    for seed in (3, 4):
        results = json.loads((tmp_path / "sweep" / f"seed_{seed}" / "results.json").read_text())
        assert results["plan"]["progressive"]["events"]


def test_a_space_may_search_progressive_freezing(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps({"progressive_freeze": {"type": "categorical", "choices": ["auto", "linear", None]},
                                "progressive_freeze_percentile": {"type": "float", "low": 25, "high": 75}}))
    space = load_space(path)
    assert space["progressive_freeze"].choices == ("auto", "linear", None)


@pytest.mark.parametrize(("flags", "message"), [
    (["--progressive_freeze", "sometimes"], "argument --progressive_freeze/--progressive-freeze: invalid choice: 'sometimes'"),
    (["--progressive_freeze", "auto", "--progressive_freeze_every", "0"], "progressive_freeze_every must be a positive"),
    (["--progressive_freeze", "auto", "--progressive_freeze_tolerance", "-1"],
     "progressive_freeze_tolerance must be 0 or more, got -1.0"),
    (["--progressive_freeze", "auto", "--progressive_freeze_percentile", "101"],
     "progressive_freeze_percentile must be in [0, 100], got 101.0"),
    (["--progressive_freeze", "auto", "--lora_r", "4"], "progressive_freeze and lora_r do not combine"),
    (["--progressive_freeze", "linear", "--gradual_unfreeze_steps", "3"],
     "progressive_freeze and gradual_unfreeze_steps do not combine"),
    (["--progressive_freeze", "linear", "--freeze", "2", "--freeze_method", "lr0"],
     "progressive_freeze and freeze_method lr0 do not combine"),
    (["--progressive_freeze", "auto", "--freeze", "2", "--progressive_freeze_max", "2"],
     "progressive_freeze_max (2) must be above --freeze (2)"),
    (["--progressive_freeze", "auto", "--lr_scheduler_type", "reduce_lr_on_plateau"],
     "progressive_freeze needs a step-based schedule"),
    (["--progressive_freeze", "auto", "--ddp_find_unused_parameters", "false"],
     "progressive_freeze needs ddp_find_unused_parameters"),
])
def test_bad_progressive_options_are_one_line_errors(flags, message, tmp_path, capsys):
    assert train.main(["--output_dir", str(tmp_path / "out"), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_floor_above_the_model_is_a_one_line_error(tmp_path, tiny_bert_dir, data_dir, capsys):
    argv = ["--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(data_dir), "--output_dir", str(tmp_path / "o"),
            "--max_train_samples", "16", "--max_steps", "1", "--progressive_freeze", "auto", "--progressive_freeze_max", "4"]
    assert train.main(argv) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # (the progress bars of loading come before it)
    assert last.startswith("error: --progressive_freeze_max 4 is out of range: the floor rises from --freeze 0 to at "
                           "most 3 groups")


@pytest.mark.parametrize("edit, field", [
    ({"floor": 99}, "floor_rise.floor is 99, not a floor between 0 and 5"),
    ({"floor": -1}, "floor_rise.floor is -1, not a floor between 0 and 5"),
    ({"floor": "2"}, 'floor_rise.floor is "2", not a floor between 0 and 5'),
    ({"floor": None}, "floor_rise.floor is null, not a floor between 0 and 5"),
    ({"events": "x"}, "floor_rise.events is \"x\", not a list of rises"),
    ({"events": []}, "floor_rise.floor is 1, not the floor its last event left (0)"),
    ({"sums": None}, "floor_rise.sums is null, not a list of gradient-norm sums"),
    ({"previous": [1.0]}, "floor_rise.previous is [1.0], not null or 5 mean gradient norms"),
])
def test_a_checkpoints_damaged_floor_is_one_line_naming_the_field(whole_run, tmp_path, capsys, edit, field):
    out, argv = whole_run
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    import shutil

    shutil.copytree(out / "checkpoint-5", resumed / "checkpoint-5")
    state_file = resumed / "checkpoint-5" / "cola_suite.json"
    state = json.loads(state_file.read_text())
    assert state["floor_rise"]["floor"] == 1  # the event at step 4 (seed 1)
    state["floor_rise"].update(edit)
    state_file.write_text(json.dumps(state))
    assert train.main(argv + ["--output_dir", str(resumed), "--resume_from_checkpoint", "last"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"error: {state_file}: its rising floor cannot be continued ({field}")
    assert "Traceback" not in last and not (resumed / "results.json").exists()


@pytest.mark.parametrize("freeze", ["2", None, -1, True])
def test_a_checkpoints_damaged_freeze_is_one_line(whole_run, tmp_path, capsys, freeze):
    out, argv = whole_run
    import shutil

    shutil.copytree(out / "checkpoint-5", tmp_path / "resumed" / "checkpoint-5")
    state_file = tmp_path / "resumed" / "checkpoint-5" / "cola_suite.json"
    state = json.loads(state_file.read_text())
    state["config"]["freeze"] = freeze
    state_file.write_text(json.dumps(state))
    assert train.main(argv + ["--output_dir", str(tmp_path / "resumed"), "--resume_from_checkpoint", "last"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    if freeze is None:  # an older checkpoint's "no floor stored": its configuration still has to match
        assert "was written by a run with other settings (freeze)" in err
    else:
        assert err == f"error: {state_file}: config.freeze is {json.dumps(freeze)}, not a number of layer groups"
