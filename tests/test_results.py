"""`cola.results`: results.json's sections from the Trainer's flat metrics and the run's report, written whole."""

import json
from types import SimpleNamespace

from cola.results import RunReport, build_results, metric_sections, write_results

CLASSES, GROUPS = ("unacceptable", "acceptable"), ("in_domain", "out_of_domain")


def _metrics(prefix="eval"):
    flat = {}
    for section in ("", "in_domain_", "out_of_domain_"):
        flat |= {f"{prefix}_{section}matthews_correlation": 0.3, f"{prefix}_{section}accuracy": 0.7,
                 f"{prefix}_{section}cross_entropy": 0.6, f"{prefix}_{section}n": 10}
    return flat | {f"{prefix}_runtime": 1.5, f"{prefix}_samples_per_second": 20.0, f"{prefix}_loss": 0.61}


def test_metric_sections_split_per_group_and_take_the_exact_loss():
    sections = metric_sections(_metrics(), "eval", CLASSES, GROUPS)
    assert set(sections) == {"eval", "eval_in_domain", "eval_out_of_domain"}
    assert sections["eval"]["loss"] == 0.6  # compute_metrics' cross-entropy, not the Trainer's batch average
    assert sections["eval"]["runtime_s"] == 1.5 and "runtime_s" not in sections["eval_in_domain"]


def test_build_results_takes_the_report_as_it_is(tmp_path):
    param_groups = [{"name": "head.decay", "weight_decay": 0.01, "lr": 1e-4, "params": ["w"]}]
    report = RunReport(class_weights=[1.4, 0.8], layer_groups=[{"name": "embeddings", "params": 5, "frozen": True}],
                       unfreeze_after_steps=None, frozen_cache={"used": False, "reason": "nothing is frozen"},
                       trainable_parameters=10, total_parameters=15, precision={"requested": "auto", "used": "fp32"},
                       plan={"frozen_groups": ["embeddings"], "layer_groups": 1, "method": "requires_grad",
                             "frozen_eval_mode": True, "unfreeze_every": None},
                       distributed={"world_size": 1, "nodes": 1, "processes_per_node": 1, "global_batch": 16},
                       base_model={"name": "m", "hub_id": "org/m", "license": "mit"})
    split = [0] * 4
    data = SimpleNamespace(class_names=CLASSES, group_names=GROUPS, source="CoLA (x)", truncated={"train": 0},
                           splits=lambda: {"train": split, "eval": split[:2]})
    state = SimpleNamespace(log_history=[{"loss": 0.9, "step": 3}, {"loss": 0.5, "step": 6}], global_step=6, epoch=2.0,
                            best_model_checkpoint=None)
    train_output = SimpleNamespace(metrics={"train_runtime": 3.0, "train_samples_per_second": 8.0}, training_loss=0.7)
    results = build_results(report, param_groups=param_groups, eval_metrics=_metrics(), test_metrics=None, data=data,
                            train_output=train_output, trainer_state=state, config={"seed": 1},
                            step_seconds={"steps": 6, "median": 0.5, "mean_by_tenth": [0.5] * 6})
    assert {k: results[k] for k in ("class_weights", "layer_groups", "param_groups", "frozen_cache", "plan",
                                    "trainable_parameters", "precision")} == {
        "class_weights": [1.4, 0.8], "layer_groups": report.layer_groups, "param_groups": param_groups,
        "frozen_cache": report.frozen_cache, "plan": report.plan, "trainable_parameters": 10,
        "precision": {"requested": "auto", "used": "fp32"}}
    assert results["data"] == {"source": "CoLA (x)", "class_names": list(CLASSES), "group_names": list(GROUPS),
                               "rows": {"train": 4, "eval": 2}, "truncated": {"train": 0}}
    assert results["train"] == {"losses": [[3, 0.9], [6, 0.5]], "runtime_s": 3.0, "samples_per_second": 8.0, "steps": 6,
                                "epochs": 2.0,
                                "final_loss": 0.5, "mean_loss": 0.7, "best_checkpoint": None,
                                "step_seconds": {"steps": 6, "median": 0.5, "mean_by_tenth": [0.5] * 6},
                                "resumed_from_step": None}
    path = write_results(results, tmp_path / "run")
    assert json.loads(path.read_text())["config"] == {"seed": 1}


def test_the_step_clock_reports_the_median_and_each_tenth():
    from cola.progress import StepClock

    clock = StepClock()
    assert clock.summary() is None
    clock.seconds = [1.0] * 10 + [3.0] * 10
    assert clock.summary() == {"steps": 20, "median": 2.0, "mean_by_tenth": [1.0] * 5 + [3.0] * 5}
    clock.seconds = [1.0, 2.0, 4.0]  # fewer steps than tenths: one part per step
    assert clock.summary()["mean_by_tenth"] == [1.0, 2.0, 4.0]


def test_the_report_after_training_holds_the_cache_as_filled_and_the_events():
    from dataclasses import replace

    from cola.results import after_training

    report = RunReport(class_weights=None, layer_groups=[], unfreeze_after_steps=None, frozen_cache={"used": True},
                       trainable_parameters=1, total_parameters=1, precision={}, distributed={}, base_model={},
                       plan={"frozen_groups": [], "progressive": {"mode": "auto"}})
    events = [{"step": 4, "frozen_groups": ["embeddings"], "statistic": None}]
    after = after_training(report, frozen_cache={"used": True, "cached_sentences": 9}, floor_events=events)
    assert after.plan["progressive"] == {"mode": "auto", "events": events} and after.frozen_cache["cached_sentences"] == 9
    assert report.plan["progressive"] == {"mode": "auto"}  # the report it started from is left as it was
    assert after_training(replace(report, plan={"progressive": None}), frozen_cache={}, floor_events=None).plan == {
        "progressive": None}



def test_a_collapsed_run_is_told_what_to_try_and_class_weights_only_when_it_had_none():
    from cola.results import single_class_warning

    collapsed = {"eval": {"predicted_unacceptable": 0.0, "predicted_acceptable": 1.0}}
    assert single_class_warning({**collapsed, "class_weights": None}).endswith(
        "Try another learning rate or seed, or class weights (--class_weights)")
    assert single_class_warning({**collapsed, "class_weights": [1.4, 0.8]}).endswith("Try another learning rate or seed")
    assert single_class_warning({"eval": {"predicted_unacceptable": 0.3, "predicted_acceptable": 0.7}}) is None
