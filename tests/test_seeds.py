"""--seeds (`cola.experiments.seeds`): a sub-run per seed, the top-level summary, resuming a sweep; and the
statistics themselves (`cola.experiments.stats`)."""

import json
import math
import os

import pytest
from conftest import sweep_argv
from safetensors.torch import load_file

import train
from cola.experiments.stats import aggregate, describe
from cola.recipes import load_recipe


def test_describe():
    assert describe([5, 1, 4, 2, 3]) == {"median": 3.0, "mean": 3.0, "std": math.sqrt(2.5), "min": 1.0, "max": 5.0,
                                         "q1": 2.0, "q3": 4.0}
    assert describe([0.3]) == {"median": 0.3, "mean": 0.3, "std": 0.0, "min": 0.3, "max": 0.3, "q1": 0.3, "q3": 0.3}


def _entry(seed, mcc, acc, degenerate=False):
    return {"seed": seed, "eval": {"matthews_correlation": mcc, "accuracy": acc},
            "eval_in_domain": {"matthews_correlation": mcc + 0.1, "accuracy": acc},
            "train": {"runtime_s": 10.0 * seed, "samples_per_second": 100.0}, "degenerate": degenerate}


def test_aggregate_keys_and_degenerate_runs():
    summary = aggregate([_entry(1, 0.3, 0.7), _entry(2, 0.0, 0.69, degenerate=True), _entry(3, 0.4, 0.8)])
    assert summary["n_runs"] == 3
    assert summary["matthews_correlation"]["median"] == 0.3 and summary["matthews_correlation"]["min"] == 0.0
    assert summary["accuracy"]["max"] == 0.8
    assert summary["in_domain"]["matthews_correlation"]["median"] == pytest.approx(0.4)
    assert "out_of_domain" not in summary  # only sections every run has
    assert summary["train_runtime_s"]["median"] == 20.0
    assert summary["degenerate_runs"] == [2]


@pytest.fixture
def sweep(seed_sweep):
    return seed_sweep  # read only


@pytest.fixture
def own_sweep(tmp_path, tiny_bert_dir, data_dir):
    """A sweep of this test's own, for tests that resume into it (and so change the folder)."""
    out = tmp_path / "sweep"
    assert train.main(sweep_argv(tiny_bert_dir, data_dir, out)) == 0
    return out


def test_one_sub_run_per_seed(sweep):
    for seed in (3, 4):
        results = json.loads((sweep / f"seed_{seed}" / "results.json").read_text())
        assert results["config"]["seed"] == seed and results["config"]["seeds"] is None
        assert results["config"]["output_dir"] == str(sweep / f"seed_{seed}")
        assert load_recipe(sweep / f"seed_{seed}" / "run_config.json")["seed"] == seed  # each sub-run is reproducible alone
    a, b = load_file(sweep / "seed_3" / "model.safetensors"), load_file(sweep / "seed_4" / "model.safetensors")
    assert any(not (a[k] == b[k]).all() for k in a)  # different seeds, different batches, different weights


def test_top_level_results_summarise_the_runs(sweep):
    results = json.loads((sweep / "results.json").read_text())
    subs = {s: json.loads((sweep / f"seed_{s}" / "results.json").read_text()) for s in (3, 4)}
    assert results["seeds"] == [3, 4] and [r["seed"] for r in results["runs"]] == [3, 4]
    for run in results["runs"]:
        sub = subs[run["seed"]]
        assert run["eval"] == sub["eval"] and run["train"] == sub["train"] and run["output_dir"] == f"seed_{run['seed']}"
        assert run["eval_in_domain"] == sub["eval_in_domain"]
        assert run["degenerate"] == (sub["eval"]["predicted_acceptable"] in (0.0, 1.0))
    mccs = [subs[s]["eval"]["matthews_correlation"] for s in (3, 4)]
    aggregate_mcc = results["aggregate"]["matthews_correlation"]
    assert aggregate_mcc["median"] == pytest.approx(sum(mccs) / 2) and aggregate_mcc["min"] == min(mccs)
    assert set(aggregate_mcc) == {"median", "mean", "std", "min", "max", "q1", "q3"}
    assert set(results["aggregate"]["accuracy"]) == set(aggregate_mcc)
    assert results["aggregate"]["degenerate_runs"] == [r["seed"] for r in results["runs"] if r["degenerate"]]
    assert {"in_domain", "out_of_domain", "train_runtime_s", "n_runs"} <= results["aggregate"].keys()
    assert load_recipe(sweep / "run_config.json")["seeds"] == [3, 4]  # the whole sweep is one recipe


def test_resuming_a_sweep_keeps_finished_seeds_and_runs_the_rest(own_sweep, tiny_bert_dir, data_dir):
    sweep = own_sweep
    kept = os.stat(sweep / "seed_3" / "results.json").st_mtime_ns
    before = json.loads((sweep / "seed_4" / "results.json").read_text())
    (sweep / "seed_4" / "results.json").unlink()  # seed 4 "did not finish"
    assert train.main(sweep_argv(tiny_bert_dir, data_dir, sweep) + ["--resume_from_checkpoint", "last"]) == 0
    assert os.stat(sweep / "seed_3" / "results.json").st_mtime_ns == kept
    again = json.loads((sweep / "seed_4" / "results.json").read_text())
    for key in ("matthews_correlation", "accuracy", "loss", "predicted_acceptable"):
        assert again["eval"][key] == before["eval"][key]  # retrained from scratch with the same seed: same result
    assert [r["seed"] for r in json.loads((sweep / "results.json").read_text())["runs"]] == [3, 4]


def test_resuming_with_other_settings_is_refused(own_sweep, tiny_bert_dir, data_dir, capsys):
    sweep = own_sweep
    argv = sweep_argv(tiny_bert_dir, data_dir, sweep) + ["--resume_from_checkpoint", "last", "--learning_rate", "5e-4"]
    assert train.main(argv) == 2
    assert "was produced with different settings (learning_rate)" in capsys.readouterr().err


def test_bad_seeds(capsys):
    assert train.main(["--seeds", "1", "1"]) == 2
    assert capsys.readouterr().err == "error: seeds takes one or more distinct integers, got [1, 1]\n"
    assert train.main(["--seeds", "1", "2", "--resume_from_checkpoint", "some/checkpoint-3"]) == 2
    assert "takes only 'last'" in capsys.readouterr().err
    assert train.main(["--seeds"]) == 2  # argparse's own refusal, as one line too
    assert capsys.readouterr().err == "error: argument --seeds: expected at least one argument (see --help)\n"


def test_each_seeds_card_quotes_the_command_that_runs_it_alone(seed_sweep):
    card = (seed_sweep / "seed_3" / "README.md").read_text()
    started = card.split("This run was started with:")[1].split("```bash\n")[1].split("\n")[0]
    assert started.startswith("python train.py --model_name_or_path ") and "--seeds" not in started
    assert started.endswith(f"--seed 3 --output_dir {seed_sweep / 'seed_3'}")


@pytest.mark.parametrize("mcc, shown", [("0.9", '"0.9"'), (True, "true"), (None, "null")])
def test_a_continued_sweep_refuses_a_seeds_mcc_that_is_no_number(own_sweep, tiny_bert_dir, data_dir, capsys, mcc, shown):
    """A seed's results.json is read back when its sweep continues: an MCC of "0.9" or true was summed into the
    median (float("0.9"), float(True)); now one line names the file and the field, and nothing is written."""
    path = own_sweep / "seed_3" / "results.json"
    results = json.loads(path.read_text())
    results["eval"]["matthews_correlation"] = mcc
    path.write_text(json.dumps(results))
    summary = (own_sweep / "results.json").read_bytes()
    assert train.main(sweep_argv(tiny_bert_dir, data_dir, own_sweep) + ["--resume_from_checkpoint", "last"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {path}: eval.matthews_correlation is {shown}, not a MCC in [-1, 1]\n"
    assert (own_sweep / "results.json").read_bytes() == summary
