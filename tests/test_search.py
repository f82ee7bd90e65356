"""`python -m cola.experiments.search`: the strict space, the objective (median over seeds of in-domain dev MCC,
out-of-domain never read), continuing a study, a failed and an interrupted trial, best_recipe.json's round trip,
and two worker processes on one SQLite study.

Most tests replace train.py by a stand-in launcher that writes a sweep's results.json from the trial's recipe
(numbers chosen by the test), so the search's own logic is checked exactly and in milliseconds; one test runs the
real train.py in-process on the tiny BERT, and the two-worker test runs the real CLI in two processes."""

import contextlib
import json
import logging
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import optuna
import pytest
from conftest import REPO

import train
from cola.errors import CliError
from cola.experiments import search, study_storage
from cola.experiments.search_space import as_sampled, load_space
from cola.experiments.stats import aggregate
from cola.recipes import load_recipe, parse_args, resolved_config

SPACE = {
    "learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True},
    "num_train_epochs": {"type": "int", "low": 1, "high": 4},
    "class_weights": {"type": "categorical", "choices": [True, False]},
}


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


def in_domain_mcc(recipe: dict, seed: int) -> float:
    """The stand-in's in-domain MCC: depends on the trial's options and the seed (seed 2 is the unlucky one); from
    -0.1 to 0.45 over the space, so its out-of-domain figure (0.9 minus it) is a MCC too (files are checked)."""
    return round(0.1 * recipe["num_train_epochs"] + (0.05 if recipe["class_weights"] else 0.0) - 0.2 * (seed == 2), 6)


class FakeTrain:
    """Stands in for train.py: reads the trial's argv, writes the sweep's results.json as run_seeds would."""

    def __init__(self, fail_when=None, interrupt_on_call=None):
        self.calls, self.envs = [], []
        self.fail_when, self.interrupt_on_call = fail_when, interrupt_on_call

    def __call__(self, argv, env, log_path):
        self.calls.append(argv)
        self.envs.append(env)
        if self.interrupt_on_call == len(self.calls):
            raise KeyboardInterrupt
        recipe = load_recipe(argv[argv.index("--recipe") + 1])
        if self.fail_when and self.fail_when(recipe):
            log_path.write_text("loading...\nerror: --freeze the model has only 3 layer groups\n")
            return 2
        seeds = [int(s) for s in argv[argv.index("--seeds") + 1: argv.index("--output_dir")]]
        out = Path(argv[argv.index("--output_dir") + 1])
        runs = []
        for seed in seeds:
            mcc = in_domain_mcc(recipe, seed)
            runs.append({"seed": seed, "output_dir": f"seed_{seed}",
                         "eval": {"matthews_correlation": mcc / 2, "accuracy": 0.7, "predicted_acceptable": 0.6},
                         # out-of-domain moves against in-domain: a search reading it would prefer other trials
                         "eval_in_domain": {"matthews_correlation": mcc, "accuracy": 0.7},
                         "eval_out_of_domain": {"matthews_correlation": 0.9 - mcc, "accuracy": 0.7},
                         "train": {"runtime_s": 10.0, "samples_per_second": 5.0}, "degenerate": False})
        write_json(out / "results.json", {"schema_version": 2, "kind": "sweep", "seeds": seeds, "runs": runs,
                                          "aggregate": aggregate(runs), "config": recipe, "versions": {}})
        return 0


def run_search(tmp_path, launch, *extra, trials=3, space=SPACE, seeds=("1", "2", "3")):
    space_path = write_json(tmp_path / "space.json", space)
    argv = ["--space", str(space_path), "--trials", str(trials), "--seeds", *seeds, "--study", "s",
            "--output_dir", str(tmp_path / "search"), "--sampler", "random", "--sampler_seed", "0",
            "--model_name_or_path", "all-MiniLM-L6-v2", *extra]
    return search.main(argv, launch=launch)


def load_study(tmp_path):
    return optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 'search' / 'search.db'}")


# --- the space ---

def test_space_loads_into_optuna_distributions(tmp_path):
    space = load_space(write_json(tmp_path / "space.json", {"description": "x", **SPACE}))
    assert list(space) == ["learning_rate", "num_train_epochs", "class_weights"]
    assert space["learning_rate"] == optuna.distributions.FloatDistribution(1e-5, 1e-3, log=True)
    assert space["num_train_epochs"] == optuna.distributions.IntDistribution(1, 4)
    assert space["class_weights"] == optuna.distributions.CategoricalDistribution([True, False])


@pytest.mark.parametrize("key, spec, message", [
    ("learnig_rate", {"type": "float", "low": 1e-5, "high": 1e-3},
     r"unknown key 'learnig_rate' \(did you mean 'learning_rate'\?\)"),
    ("freeze", {"type": "float", "low": 0, "high": 3}, r"key 'freeze' expects an integer, got 1.5"),
    ("learning_rate", {"type": "categorical", "choices": ["fast"]}, r"key 'learning_rate' expects a number, got \"fast\""),
    ("freeze_method", {"type": "categorical", "choices": ["lr0", "zero"]},
     r"key 'freeze_method' expects one of requires_grad, lr0"),
    ("class_weights", {"type": "categorical", "choices": [True, True]}, r"key 'class_weights': a choice is listed twice"),
    ("class_weights", {"type": "categorical", "choices": []}, r"key 'class_weights': a categorical distribution needs"),
    ("learning_rate", {"low": 1e-5, "high": 1e-3}, r"key 'learning_rate' needs a distribution"),
    ("learning_rate", {"type": "float", "low": 1e-5, "high": 1e-3, "scale": "log"}, r"unknown field\(s\) scale"),
    ("learning_rate", {"type": "float", "low": 1e-3, "high": 1e-5}, r"\"low\" must be below \"high\""),
    ("weight_decay", {"type": "float", "low": 0, "high": 0.1, "log": True}, r"a log-scale range needs \"low\" above 0"),
    ("warmup_steps", {"type": "float", "low": 0, "high": 0.2, "log": True, "step": 0.1}, r"cannot go with \"log\""),
    ("num_train_epochs", {"type": "int", "low": 1.5, "high": 4}, r"\"low\" must be an integer"),
    ("seeds", {"type": "categorical", "choices": [[1, 2], [3, 4]]}, r"'seeds' cannot be searched: the search sets it"),
    ("seed", {"type": "int", "low": 1, "high": 9}, r"'seed' cannot be searched"),
    ("metric_for_best_model", {"type": "categorical", "choices": ["matthews_correlation"]},
     r"'metric_for_best_model' cannot be searched: it changes what a trial is scored on"),
    ("evaluation_strategy", {"type": "categorical", "choices": ["epoch"]},
     r"'evaluation_strategy' is not an option in transformers 5"),
])
def test_space_is_strict(tmp_path, key, spec, message):
    path = write_json(tmp_path / "space.json", {key: spec})
    with pytest.raises(CliError, match=rf"^{tmp_path / 'space.json'}: .*{message}"):
        load_space(path)


def test_space_file_errors(tmp_path):
    freeze = '{"type": "int", "low": 0, "high": 2}'
    (tmp_path / "dup.json").write_text(f'{{"freeze": {freeze}, "freeze": {freeze}}}')
    with pytest.raises(CliError, match="key 'freeze' is given twice"):
        load_space(tmp_path / "dup.json")
    with pytest.raises(CliError, match="the space names no option"):
        load_space(write_json(tmp_path / "empty.json", {"description": "nothing"}))
    with pytest.raises(CliError, match="cannot read search space .*missing.json"):
        load_space(tmp_path / "missing.json")
    with pytest.raises(CliError, match="a search space is a JSON object"):
        load_space(write_json(tmp_path / "list.json", [1, 2]))


def test_shipped_spaces_load_and_start_from_their_recipes():
    for space_file, recipe in [("offline.json", "best_offline.json"), ("bert_base_gpu.json", "full_cw.json")]:
        space = load_space(REPO / "recipes" / "search" / space_file)
        assert {"learning_rate", "num_train_epochs", "per_device_train_batch_size", "warmup_steps", "weight_decay",
                "freeze", "layer_lr_decay", "head_lr_multiplier", "class_weights", "label_smoothing_factor"} <= space.keys()
        assert load_recipe(REPO / "recipes" / recipe)  # the starting recipe named in the space's description exists
    for space_file, recipe in [("offline.json", "best_offline.json"), ("base.json", "half_base.json")]:
        space = load_space(REPO / "recipes" / "search" / space_file)
        start = resolved_config(parse_args(["--recipe", str(REPO / "recipes" / recipe)]))
        assert all(as_sampled(d, start[name])[0] for name, d in space.items())  # its first trial is the recipe itself


def test_a_space_may_search_lora(tmp_path):
    space = load_space(write_json(tmp_path / "lora.json", {
        "lora_r": {"type": "categorical", "choices": [4, 8, 16]}, "lora_alpha": {"type": "float", "low": 4, "high": 32}}))
    assert space["lora_r"].choices == (4, 8, 16) and space["lora_alpha"].high == 32


def test_as_sampled():
    ints = optuna.distributions.IntDistribution(2, 8, step=2)
    assert as_sampled(ints, 4.0) == (True, 4) and as_sampled(ints, 5) == (False, None) and as_sampled(ints, 10)[0] is False
    steps = optuna.distributions.FloatDistribution(0.0, 0.2, step=0.05)
    assert as_sampled(steps, 0.1) == (True, 0.1) and as_sampled(steps, 0.12)[0] is False
    choices = optuna.distributions.CategoricalDistribution([16, 32, True])
    assert as_sampled(choices, 32.0) == (True, 32) and as_sampled(choices, 1) == (False, None)


# --- the objective ---

def test_objective_is_the_in_domain_median_and_ignores_out_of_domain():
    def runs(in_domain, ood):
        return aggregate([{"seed": s, "eval": {"matthews_correlation": 0.3, "accuracy": 0.7},
                           "eval_in_domain": {"matthews_correlation": i, "accuracy": 0.8},
                           "eval_out_of_domain": {"matthews_correlation": o, "accuracy": 0.6},
                           "train": {"runtime_s": 1.0, "samples_per_second": 1.0}, "degenerate": False}
                          for s, (i, o) in enumerate(zip(in_domain, ood))])

    figures = search.objective_figures(runs([0.40, 0.10, 0.35], [0.2, 0.2, 0.2]), "in_domain_matthews_correlation")
    assert figures["objective"] == 0.35  # the median, not the mean (0.283) nor the best seed
    assert figures["out_of_domain_mcc"]["median"] == 0.2 and figures["in_domain_mcc"]["q1"] == pytest.approx(0.225)
    moved = search.objective_figures(runs([0.40, 0.10, 0.35], [0.9, -0.5, 0.0]), "in_domain_matthews_correlation")
    assert moved["objective"] == figures["objective"]
    assert search.objective_figures(runs([0.4, 0.1, 0.35], [0.2] * 3), "in_domain_accuracy")["objective"] == 0.8


def test_search_scores_trials_on_the_in_domain_median(tmp_path):
    fake = FakeTrain()
    assert run_search(tmp_path, fake, trials=4) == 0
    study = load_study(tmp_path)
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert [t.number for t in complete] == [0, 1, 2, 3]
    for t in complete:
        median = sorted(in_domain_mcc(t.params, s) for s in (1, 2, 3))[1]
        assert t.value == pytest.approx(median)
        assert t.user_attrs["out_of_domain_mcc"]["median"] == pytest.approx(0.9 - median)
    # the seeds are never a parameter, and every trial ran the same ones
    assert all("seed" not in t.params and "seeds" not in t.params for t in complete)
    assert all(argv[argv.index("--seeds") + 1: argv.index("--seeds") + 4] == ["1", "2", "3"] for argv in fake.calls)
    # each run picks its checkpoint on the objective (in-domain), never on the whole dev set
    assert all(load_recipe(tmp_path / "search" / f"trial_{n:04d}" / "recipe.json")["metric_for_best_model"]
               == "in_domain_matthews_correlation" for n in range(4))
    # W&B: a trial's seeds are one group named after the study and the trial
    assert [env["WANDB_RUN_GROUP"] for env in fake.envs] == [f"s-trial_{n:04d}" for n in range(4)]


def test_outputs_and_best_recipe_round_trip(tmp_path):
    assert run_search(tmp_path, FakeTrain(), trials=3) == 0
    out = tmp_path / "search"
    study = load_study(tmp_path)
    best = max(study.trials, key=lambda t: t.value)
    trials = json.loads((out / "trials.json").read_text())
    assert [t["number"] for t in trials["trials"]] == [0, 1, 2] and trials["objective"] == "in_domain_matthews_correlation"
    assert trials["trials"][best.number]["in_domain_mcc"]["median"] == best.value
    report = (out / "report.md").read_text()
    assert f"## Best: trial {best.number}, {best.value:.4f}" in report and "out-of-domain MCC median (IQR)" in report
    fixed_line = next(line for line in report.splitlines() if line.startswith("Fixed for every trial"))
    assert "`model_name_or_path=\"all-MiniLM-L6-v2\"`" in fixed_line and "learning_rate" not in fixed_line
    assert (out / "report.png").stat().st_size > 10_000
    # best_recipe.json loads with train.py's parser and configures what the best trial's runs were given
    recipe_file = out / "best_recipe.json"
    config = parse_args(["--recipe", str(recipe_file)])
    trial_config = parse_args(["--recipe", str(out / f"trial_{best.number:04d}" / "recipe.json")])
    differs = {k for k, v in resolved_config(config).items() if resolved_config(trial_config)[k] != v}
    assert differs == {"description", "output_dir"}
    for name, value in best.params.items():
        assert getattr(config.training, name) == value


def test_real_train_py_trials_in_process(tmp_path, tiny_bert_dir, data_dir):
    """train.py itself runs each trial: the score is the median of the seed runs' own in-domain MCC."""
    def launch(argv, env, log_path):
        with mock.patch.dict(os.environ, env), open(log_path, "a") as log, contextlib.redirect_stderr(log):
            return train.main(argv)

    space = {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True},
             "freeze": {"type": "int", "low": 0, "high": 2}}
    extra = ["--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(data_dir), "--max_train_samples", "48",
             "--max_eval_samples", "60", "--max_steps", "4", "--per_device_train_batch_size", "16",
             "--save_strategy", "no", "--eval_strategy", "no", "--load_best_model_at_end", "false"]
    assert run_search(tmp_path, launch, *extra, trials=2, space=space, seeds=("1", "2")) == 0
    for t in load_study(tmp_path).trials:
        folder = tmp_path / "search" / t.user_attrs["folder"]
        per_seed = [json.loads((folder / f"seed_{s}" / "results.json").read_text()) for s in (1, 2)]
        assert [r["config"]["freeze"] for r in per_seed] == [t.params["freeze"]] * 2
        assert [r["config"]["learning_rate"] for r in per_seed] == [t.params["learning_rate"]] * 2
        assert t.value == pytest.approx(sum(r["eval_in_domain"]["matthews_correlation"] for r in per_seed) / 2)


def test_own_data_is_searched_on_the_whole_evaluation_set(tmp_path, tiny_bert_dir):
    """With --train_file the objective defaults to the whole evaluation set's MCC, and the checkpoint metric is left
    as it is (there is no held-out half to protect)."""
    import pandas as pd

    texts = [f"ticket {i} about my {'invoice' if i % 3 == 0 else 'parcel' if i % 3 == 1 else 'password'}" for i in range(60)]
    frame = pd.DataFrame({"text": texts, "label": [["billing", "shipping", "login"][i % 3] for i in range(60)]})
    frame.iloc[:45].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[45:].to_csv(tmp_path / "dev.csv", index=False)

    def launch(argv, env, log_path):
        with mock.patch.dict(os.environ, env), open(log_path, "a") as log, contextlib.redirect_stderr(log):
            return train.main(argv)

    space = {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}}
    extra = ["--model_name_or_path", str(tiny_bert_dir), "--train_file", str(tmp_path / "train.csv"), "--validation_file",
             str(tmp_path / "dev.csv"), "--text_column", "text", "--max_steps", "3", "--per_device_train_batch_size", "16",
             "--save_strategy", "no", "--eval_strategy", "no", "--load_best_model_at_end", "false"]
    assert run_search(tmp_path, launch, *extra, trials=1, space=space, seeds=("1", "2")) == 0
    (trial,) = load_study(tmp_path).trials
    folder = tmp_path / "search" / trial.user_attrs["folder"]
    per_seed = [json.loads((folder / f"seed_{s}" / "results.json").read_text()) for s in (1, 2)]
    assert [r["data"]["class_names"] for r in per_seed] == [["billing", "login", "shipping"]] * 2
    assert trial.value == pytest.approx(sum(r["eval"]["matthews_correlation"] for r in per_seed) / 2)
    assert load_study(tmp_path).user_attrs["search"]["objective"] == "matthews_correlation"


# --- continuing, failing, interrupting ---

def test_rerunning_continues_the_study(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="cola.experiments.search")
    assert run_search(tmp_path, FakeTrain(), trials=2) == 0
    first = (tmp_path / "search" / "trial_0001" / "results.json").stat().st_mtime_ns
    fake = FakeTrain()
    assert run_search(tmp_path, fake, trials=3) == 0
    assert len(fake.calls) == 1 and "trial_0002" in " ".join(fake.calls[0])  # one more trial, a new number and folder
    assert (tmp_path / "search" / "trial_0001" / "results.json").stat().st_mtime_ns == first
    assert [t.state.name for t in load_study(tmp_path).trials] == ["COMPLETE"] * 3
    fake = FakeTrain()
    assert run_search(tmp_path, fake, trials=3) == 0 and fake.calls == []  # target reached: nothing runs
    assert "already has 3 finished trials" in caplog.text


def test_continuing_with_another_space_is_refused(tmp_path, capsys):
    assert run_search(tmp_path, FakeTrain(), trials=1) == 0
    other = {**SPACE, "num_train_epochs": {"type": "int", "low": 1, "high": 6}}
    assert run_search(tmp_path, FakeTrain(), trials=2, space=other) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: study 's' in sqlite:") and "was started with a different space" in err
    assert run_search(tmp_path, FakeTrain(), "--max_length", "32", trials=2) == 2
    assert "was started with a different fixed options (max_length)" in capsys.readouterr().err
    assert len(load_study(tmp_path).trials) == 1


def test_failed_trial_is_recorded_and_the_search_goes_on(tmp_path):
    fake = FakeTrain(fail_when=lambda recipe: recipe["num_train_epochs"] >= 3)
    assert run_search(tmp_path, fake, trials=6) == 0
    trials = load_study(tmp_path).trials
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert failed and len(trials) == 6  # failures count towards the target, so an all-failing space still ends
    assert all(t.params["num_train_epochs"] >= 3 for t in failed)
    assert all(t.user_attrs["error"] == "--freeze the model has only 3 layer groups" for t in failed)
    assert all(t.state.name == "COMPLETE" for t in trials if t.params["num_train_epochs"] < 3)
    report = (tmp_path / "search" / "report.md").read_text()
    assert "## Failed trials" in report and f"| {failed[0].number} | --freeze the model has only 3 layer groups |" in report


def test_a_trial_whose_results_are_damaged_fails_naming_the_field(tmp_path):
    """The trial's results.json is read as any reader reads one: an MCC that is no number fails that trial (its
    summary is recomputed from its runs, never taken from the file), and the search goes on."""
    class Damaged(FakeTrain):
        def __call__(self, argv, env, log_path):
            code = super().__call__(argv, env, log_path)
            path = Path(argv[argv.index("--output_dir") + 1]) / "results.json"
            results = json.loads(path.read_text())
            results["runs"][0]["eval"]["matthews_correlation"] = "0.9"
            path.write_text(json.dumps(results))
            return code

    assert run_search(tmp_path, Damaged(), trials=2) == 0
    trials = load_study(tmp_path).trials
    assert [t.state.name for t in trials] == ["FAIL", "FAIL"]
    assert all(t.user_attrs["error"].endswith('results.json: runs[0].eval.matthews_correlation is "0.9", not a MCC in '
                                              '[-1, 1]') for t in trials)


def test_interrupted_trial_is_failed_queued_again_and_not_counted_twice(tmp_path, capsys):
    assert run_search(tmp_path, FakeTrain(interrupt_on_call=2), trials=3) == 130
    assert "interrupted; the study is saved" in capsys.readouterr().err
    trials = load_study(tmp_path).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "WAITING"]
    assert trials[1].user_attrs["interrupted"] is True and "error" not in trials[1].user_attrs
    assert trials[2].system_attrs["fixed_params"] == trials[1].params and trials[2].user_attrs["retry_of"] == 1
    assert (tmp_path / "search" / "report.md").is_file()  # the outputs are written on the way out
    fake = FakeTrain()
    assert run_search(tmp_path, fake, trials=3) == 0
    trials = load_study(tmp_path).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert trials[2].params == trials[1].params  # the stopped point, run again as trial 2
    assert search.counted(trials) == 3 and len(fake.calls) == 2
    # the link is in both outputs: trial 2 runs trial 1 again
    rows = json.loads((tmp_path / "search" / "trials.json").read_text())["trials"]
    assert [r["retry_of"] for r in rows] == [None, None, 1, None]
    assert "| 2 | complete |" in (report := (tmp_path / "search" / "report.md").read_text()) and "| trial 1 |" in report


def test_ctrl_c_before_any_trial_is_one_line(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(search, "open_study", interrupted)
    assert run_search(tmp_path, FakeTrain()) == 130
    assert capsys.readouterr().err == "error: interrupted before any trial ran; nothing was started\n"


def test_a_trial_whose_worker_died_is_failed_and_queued_again(tmp_path, monkeypatch):
    """A worker killed outright leaves its trial RUNNING; once its heartbeat is stale the next worker fails it and
    runs its parameters again."""
    monkeypatch.setattr(study_storage, "HEARTBEAT_S", 1)
    monkeypatch.setattr(study_storage, "STALE_AFTER_S", 1)
    assert run_search(tmp_path, FakeTrain(), trials=1) == 0
    study = load_study(tmp_path)
    dead = study.ask({name: load_space(tmp_path / "space.json")[name] for name in SPACE})
    study._storage.record_heartbeat(dead._trial_id)  # its last sign of life, then nothing
    time.sleep(2.5)
    assert run_search(tmp_path, FakeTrain(), trials=2) == 0
    trials = load_study(tmp_path).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "COMPLETE"]
    assert trials[2].params == trials[1].params and search.counted(trials) == 2
    assert "its worker stopped answering" in (tmp_path / "search" / "report.md").read_text()


def test_first_trial_is_the_recipe_when_it_lies_in_the_space(tmp_path):
    recipe = write_json(tmp_path / "r.json", {"learning_rate": 1e-4, "num_train_epochs": 2, "class_weights": False})
    assert run_search(tmp_path, FakeTrain(), "--recipe", str(recipe), trials=2) == 0
    first = load_study(tmp_path).trials[0]
    assert first.params == {"learning_rate": 1e-4, "num_train_epochs": 2, "class_weights": False}
    assert first.user_attrs["baseline"] is True


@pytest.mark.parametrize("extra, message", [
    (["--seed", "3"], "--seed is set by the search for each trial"),
    (["--learning_rate", "1e-4"], "--learning_rate is both fixed on the command line and searched"),
    (["--metric_for_best_model", "matthews_correlation"], "would pick each run's checkpoint partly on out-of-domain"),
    (["--eval_split", "holdout"], "use eval_split glue_dev"),
    (["--learnig_rate", "1e-4"], "unknown option(s): --learnig_rate (did you mean --learning_rate?)"),
    (["--trials", "0"], "--trials must be 1 or more"),
    (["--timeout", "-5"], "--timeout a positive number of seconds"),
    (["--seeds", "1", "1"], "--seeds takes distinct integers"),
    (["--objective", "matthews_correlation"], "on CoLA the search scores the in-domain dev half only"),
    (["--train_file", "t.csv", "--validation_file", "d.csv", "--objective", "in_domain_accuracy"],
     "needs CoLA's in-domain dev half; on your own data use matthews_correlation"),
])
def test_bad_search_options(tmp_path, capsys, extra, message):
    assert run_search(tmp_path, FakeTrain(), *extra) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "search").exists()  # refused before anything was created


def test_output_dir_that_holds_a_run_is_refused(tmp_path, capsys):
    (tmp_path / "search").mkdir()
    (tmp_path / "search" / "results.json").write_text("{}")
    assert run_search(tmp_path, FakeTrain()) == 2
    assert "holds a finished run (results.json), not a search" in capsys.readouterr().err


@pytest.mark.parametrize("kind, said, retried", [
    ("ProgrammingError", 'relation "alembic_version" already exists', True),  # PostgreSQL: created a moment before
    ("OperationalError", "table studies already exists", True),  # SQLite's form of the same race
    ("OperationalError", "database is locked", True),
    ("ProgrammingError", "permission denied for schema public", False),  # a real mistake: one line at once
    ("OperationalError", 'connection to server at "127.0.0.1", port 9 failed: Connection refused', False),
])
def test_a_worker_that_loses_the_race_to_create_the_tables_opens_them(monkeypatch, kind, said, retried):
    """Two workers starting a new study at once: the loser's CREATE TABLE fails (PostgreSQL: a ProgrammingError,
    SQLSTATE 42P07; SQLite: an OperationalError), which is retried; any other such error is the user's to fix (a
    server that is not there, a permission) and is one line at once, with no wait."""
    import sqlalchemy.exc

    calls = []

    def storage(url, **kwargs):
        calls.append(url)
        if len(calls) == 1:
            raise getattr(sqlalchemy.exc, kind)("CREATE TABLE alembic_version", {}, Exception(said))
        return optuna.storages.InMemoryStorage()

    monkeypatch.setattr(study_storage, "RDBStorage", storage)
    monkeypatch.setattr(study_storage.time, "sleep", lambda s: None)
    args = mock.Mock(sampler="random", sampler_seed=0, startup_trials=1, study="s")
    if retried:
        assert study_storage.open_study(args, "postgresql://ana:pw@/db").study_name == "s" and len(calls) == 2
    else:
        with pytest.raises(CliError, match=said.split(":")[0]) as refused:
            study_storage.open_study(args, "postgresql://ana:pw@/db")
        assert len(calls) == 1 and "pw" not in str(refused.value)


# --- several workers ---

@pytest.mark.slow
def test_two_workers_share_one_sqlite_study(tmp_path, tiny_bert_dir, data_dir):
    """Two CLI processes on one study: every trial number and folder is used once, and the trials add up."""
    space = write_json(tmp_path / "space.json", {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}})
    out = tmp_path / "search"
    argv = [sys.executable, "-m", "cola.experiments.search", "--space", str(space), "--trials", "4", "--seeds", "1",
            "--study", "shared", "--output_dir", str(out), "--model_name_or_path", str(tiny_bert_dir), "--data_dir",
            str(data_dir), "--max_train_samples", "32", "--max_eval_samples", "40", "--max_steps", "2",
            "--per_device_train_batch_size", "16", "--save_strategy", "no", "--eval_strategy", "no",
            "--load_best_model_at_end", "false"]
    out.mkdir()
    workers = [subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(2)]
    logs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], logs
    study = optuna.load_study(study_name="shared", storage=f"sqlite:///{out / 'search.db'}")
    numbers = [t.number for t in study.trials]
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    # each worker stops once the study has 4; one may start its last trial just before the other's lands
    assert 4 <= len(numbers) <= 5 and sorted(numbers) == list(range(len(numbers)))
    done_by = [[int(line.split("Trial ")[1].split()[0]) for line in log.splitlines() if " done in " in line] for log in logs]
    assert sorted(done_by[0] + done_by[1]) == numbers and all(done_by)  # both worked, no trial run twice
    assert len({t.user_attrs["worker"] for t in study.trials}) == 2
    assert sorted(p.name for p in out.glob("trial_*")) == [f"trial_{n:04d}" for n in numbers]
    assert all((out / f"trial_{n:04d}" / "results.json").is_file() for n in numbers)
    assert math.isfinite(json.loads((out / "trials.json").read_text())["trials"][0]["value"])


@pytest.mark.parametrize("recipe, study", [("best_offline.json", "offline"), ("best_base.json", "base")])
def test_the_shipped_best_recipes_are_the_committed_searches_best(recipe, study):
    """recipes/best_offline.json and best_base.json are re-derived from their study's best_recipe.json: the same
    options, except where the data lives and where the run goes."""
    shipped = resolved_config(parse_args(["--recipe", str(REPO / "recipes" / recipe)]))
    found = resolved_config(parse_args(["--recipe", str(REPO / "docs" / "search" / study / "best_recipe.json")]))
    assert {k for k in shipped if shipped[k] != found[k]} == {"description", "data_dir", "output_dir"}


# --- secrets and dying workers ---

PASSWORD = "s3cret-Pw"
URL = f"postgresql://ana:{PASSWORD}@127.0.0.1:9/cola"


SPACED = "hunter two2"  # a password with a space: redaction once stopped at it, and 'two2' was shown


@pytest.mark.parametrize("url, shown, password", [
    (URL, "postgresql://ana:***@127.0.0.1:9/cola", PASSWORD),
    (f"postgresql://ana:{SPACED}@127.0.0.1:9/cola", "postgresql://ana:***@127.0.0.1:9/cola", SPACED),
    (f"postgresql://ana@127.0.0.1:9/cola?password={SPACED}&sslmode=disable",
     "postgresql://ana@127.0.0.1:9/cola?password=***&sslmode=disable", SPACED),
])
def test_a_storage_password_is_never_printed_or_written(tmp_path, monkeypatch, caplog, capsys, url, shown, password):
    """The URL's password is hidden in the log, report.md, trials.json and best_recipe.json (the study itself is
    opened on a SQLite file here, by a stand-in for Optuna's RDBStorage, as no server runs in this test)."""
    real = study_storage.RDBStorage
    monkeypatch.setattr(study_storage, "RDBStorage",
                        lambda url, **kwargs: real(f"sqlite:///{tmp_path / 'stand-in.db'}", **kwargs))
    with caplog.at_level(logging.INFO):
        assert run_search(tmp_path, FakeTrain(), "--storage", url, trials=2) == 0
    secrets = (password, *password.split())  # nor any word of it
    assert shown in caplog.text and not any(s in caplog.text + "".join(capsys.readouterr()) for s in secrets)
    written = {name: (tmp_path / "search" / name).read_text() for name in ("report.md", "trials.json", "best_recipe.json")}
    assert shown in written["report.md"] and not any(s in text for text in written.values() for s in secrets)
    trial_files = "".join(p.read_text() for p in (tmp_path / "search").rglob("*") if p.suffix in (".json", ".log"))
    assert not any(s in trial_files for s in secrets)


@pytest.mark.parametrize("url, shown", [
    (URL, "postgresql://ana:***@127.0.0.1:9/cola"),
    (f"postgresql://ana@127.0.0.1:9/cola?password={PASSWORD}", "postgresql://ana@127.0.0.1:9/cola?password=***"),
    (f"postgresql://127.0.0.1:9/cola?user=ana&PASSWORD={PASSWORD}&sslmode=disable",
     "postgresql://127.0.0.1:9/cola?user=ana&PASSWORD=***&sslmode=disable"),
    (f"postgresql://ana:{PASSWORD} two2@127.0.0.1:9/cola", "postgresql://ana:***@127.0.0.1:9/cola"),
    (f"postgresql://ana@127.0.0.1:9/cola?password={PASSWORD}+two2", "postgresql://ana@127.0.0.1:9/cola?password=***"),
])
def test_a_study_that_cannot_be_opened_is_one_line_without_the_password_or_a_folder(tmp_path, capsys, url, shown):
    assert run_search(tmp_path, FakeTrain(), "--storage", url) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot open the study in {shown}: ")
    assert PASSWORD not in err and "two2" not in err and err.count("\n") == 1
    assert not (tmp_path / "search").exists()


def test_sigterm_stops_a_worker_as_ctrl_c_does(tmp_path, capsys):
    """SIGTERM (kill, Slurm, Kubernetes) during a trial: the trial is failed, queued again, and the worker ends
    with the interrupted message; the handler is put back afterwards."""
    import signal

    class Terminated(FakeTrain):
        def __call__(self, argv, env, log_path):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts this
            raise AssertionError("SIGTERM did not stop the trial")

    before = signal.getsignal(signal.SIGTERM)
    assert run_search(tmp_path, Terminated()) == 130
    assert "interrupted; the study is saved" in capsys.readouterr().err
    assert [t.state.name for t in load_study(tmp_path).trials] == ["FAIL", "WAITING"]
    assert signal.getsignal(signal.SIGTERM) == before


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has ended; only its exit status waits for a parent to read it


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_a_trials_train_py_never_outlives_its_worker(tmp_path, sig):
    """A worker killed outright (SIGKILL) or told to stop (SIGTERM) takes its trial's train.py with it."""
    import signal

    sleeper = tmp_path / "sleeper_trial.py"  # stands in for the trial's module (`python -m cola`)
    sleeper.write_text("import os, pathlib, sys, time\n"
                       f"pathlib.Path({str(tmp_path / 'child.pid')!r}).write_text(str(os.getpid()))\n"
                       "time.sleep(120)\n")
    worker = subprocess.Popen([sys.executable, "-c", (
        "import os, signal, sys\nfrom pathlib import Path\nfrom cola.experiments import trials\n"
        f"trials.TRIAL_MODULE, trials.PACKAGE_ROOT = 'sleeper_trial', Path({str(tmp_path)!r})\n"
        "signal.signal(signal.SIGTERM, trials.interrupt)\n"
        f"trials.launch_subprocess([], dict(os.environ), Path({str(tmp_path / 'log')!r}))\n")], cwd=REPO)
    pid_file = tmp_path / "child.pid"
    for _ in range(300):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.1)
    child = int(pid_file.read_text())
    assert _alive(child) and os.getpgid(child) != os.getpgid(worker.pid)  # its own process group
    worker.send_signal(getattr(signal, sig))
    worker.wait(timeout=60)
    for _ in range(100):
        if not _alive(child):
            break
        time.sleep(0.1)
    assert not _alive(child)


def test_a_dead_workers_trial_is_reclaimed_even_when_the_target_is_reached(tmp_path, monkeypatch):
    monkeypatch.setattr(study_storage, "HEARTBEAT_S", 1)
    monkeypatch.setattr(study_storage, "STALE_AFTER_S", 1)
    assert run_search(tmp_path, FakeTrain(), trials=1) == 0
    study = load_study(tmp_path)
    dead = study.ask({name: load_space(tmp_path / "space.json")[name] for name in SPACE})
    study._storage.record_heartbeat(dead._trial_id)
    time.sleep(2.5)
    fake = FakeTrain()
    assert run_search(tmp_path, fake, trials=1) == 0  # the target is reached: nothing runs, but the trial is reclaimed
    trials = load_study(tmp_path).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "WAITING"] and not fake.calls
    assert trials[2].params == trials[1].params


# --- a real PostgreSQL server (pgserver: the server's binaries in a pip package, on a Unix socket in a temporary
# folder, so nothing listens on the network) ---

@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """A running server and a role with a password; each test gets its own database (`database(name)`)."""
    pgserver = pytest.importorskip("pgserver")
    import psycopg

    server = pgserver.get_server(tmp_path_factory.mktemp("pgdata"), cleanup_mode="stop")
    admin = server.get_uri()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE ana LOGIN PASSWORD '{PASSWORD}'")
    socket_dir = admin.split("host=")[1]

    def database(name: str) -> str:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} OWNER ana")
        return f"postgresql://ana:{PASSWORD}@/{name}?host={socket_dir}"

    yield database
    server.cleanup()


def test_a_study_on_postgres_fails_a_dead_workers_trial_and_continues(tmp_path, postgres, monkeypatch, caplog):
    """Against the real server: a dead worker's trial is failed and run again, a continued study keeps its trials,
    and the password appears in no log line or file."""
    url = postgres("dead_worker")
    monkeypatch.setattr(study_storage, "HEARTBEAT_S", 1)
    monkeypatch.setattr(study_storage, "STALE_AFTER_S", 1)
    with caplog.at_level(logging.INFO):
        assert run_search(tmp_path, FakeTrain(), "--storage", url, trials=1) == 0
        study = optuna.load_study(study_name="s", storage=url)
        dead = study.ask({name: load_space(tmp_path / "space.json")[name] for name in SPACE})
        study._storage.record_heartbeat(dead._trial_id)  # its worker's last sign of life
        time.sleep(2.5)
        assert run_search(tmp_path, FakeTrain(), "--storage", url, trials=2) == 0  # continues: target 2
        assert run_search(tmp_path, FakeTrain(), "--storage", url, trials=3) == 0  # and again, further
    trials = optuna.load_study(study_name="s", storage=url).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert trials[2].params == trials[1].params and search.counted(trials) == 3
    rows = json.loads((tmp_path / "search" / "trials.json").read_text())["trials"]
    assert rows[2]["retry_of"] == 1 and "| trial 1 |" in (tmp_path / "search" / "report.md").read_text()
    written = "".join(p.read_text() for p in (tmp_path / "search").rglob("*") if p.suffix in (".json", ".md", ".log"))
    assert PASSWORD not in caplog.text + written and "postgresql://ana:***@/dead_worker" in caplog.text


@pytest.mark.slow
def test_two_workers_share_one_postgres_study(tmp_path, tiny_bert_dir, data_dir, postgres):
    """Two CLI worker processes on one study on the server: every trial number and folder is used once."""
    url = postgres("two_workers")
    space = write_json(tmp_path / "space.json", {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}})
    out = tmp_path / "search"
    argv = [sys.executable, "-m", "cola.experiments.search", "--space", str(space), "--trials", "3", "--seeds", "1",
            "--study", "shared", "--output_dir", str(out), "--storage", url, "--model_name_or_path", str(tiny_bert_dir),
            "--data_dir", str(data_dir), "--max_train_samples", "32", "--max_eval_samples", "40", "--max_steps", "2",
            "--per_device_train_batch_size", "16", "--save_strategy", "no", "--eval_strategy", "no",
            "--load_best_model_at_end", "false"]
    workers = [subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(2)]
    logs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], logs
    study = optuna.load_study(study_name="shared", storage=url)
    numbers = [t.number for t in study.trials]
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    assert 3 <= len(numbers) <= 4 and sorted(numbers) == list(range(len(numbers)))  # at most workers - 1 more
    assert len({t.user_attrs["worker"] for t in study.trials}) == 2
    assert sorted(p.name for p in out.glob("trial_*")) == [f"trial_{n:04d}" for n in numbers]
    assert PASSWORD not in "".join(logs) and all("postgresql://ana:***@" in log for log in logs)


def test_a_missing_driver_names_the_package_to_install(tmp_path, capsys):
    import importlib.util

    if importlib.util.find_spec("pymysql"):
        pytest.skip("pymysql is installed here")
    assert run_search(tmp_path, FakeTrain(), "--storage", f"mysql+pymysql://ana:{PASSWORD}@127.0.0.1/cola") == 2
    err = capsys.readouterr().err
    assert err == ("error: --storage mysql+pymysql://ana:***@127.0.0.1/cola: the mysql+pymysql driver is not installed "
                   "(no module 'pymysql'): pip install -e \".[mysql]\"\n")
    assert not (tmp_path / "search").exists()


def test_a_running_trial_says_now_and_then_where_it_is(tmp_path, monkeypatch, caplog):
    """A trial runs for minutes: the worker logs its elapsed time and its log's last line while it waits."""
    import subprocess as sp

    from cola.experiments import trials as search_module

    log = tmp_path / "trial_0003" / "train.log"
    log.parent.mkdir()
    log.write_text("Seed 2 of [1, 2]: training in trial_0003/seed_2\n{'loss': 0.61, 'epoch': 0.4}\n")
    waits = []

    class Child:
        def wait(self, timeout=None):
            waits.append(timeout)
            if len(waits) < 3:
                raise sp.TimeoutExpired("train.py", timeout)
            return 0

    monkeypatch.setattr(search_module.subprocess, "Popen", lambda *a, **k: Child())
    with caplog.at_level("INFO", logger="cola.experiments.trials"):
        assert search_module.launch_subprocess([], {}, log) == 0
    assert waits == [search_module.PROGRESS_EVERY_S] * 3
    lines = [r.getMessage() for r in caplog.records if "running for" in r.getMessage()]
    assert len(lines) == 2 and lines[0].startswith("trial_0003: running for 0m")
    assert lines[0].endswith(f"its log ({log}) last says: {{'loss': 0.61, 'epoch': 0.4}}")
