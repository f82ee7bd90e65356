"""--report_to wandb with no credentials: offline at once, and the run file holds metrics and the freeze setting."""

import json
import os
import subprocess
import sys

from conftest import REPO
from wandb_records import read_run


def _train_offline(tmp_path, model, data_dir, out, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env["HOME"] = str(tmp_path / "home")  # no ~/.netrc: no credentials
    proc = subprocess.run(
        [sys.executable, "train.py", "--model_name_or_path", str(model), "--data_dir", str(data_dir),
         "--output_dir", str(out), "--max_train_samples", "64", "--max_eval_samples", "40", "--num_train_epochs", "1",
         "--per_device_train_batch_size", "16", "--freeze", "2", "--logging_steps", "1", "--report_to", "wandb", *extra],
        cwd=REPO, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_offline_run_records_metrics_config_and_tables(tmp_path, data_dir):
    out = tmp_path / "run"
    proc = _train_offline(tmp_path, "all-MiniLM-L6-v2", data_dir, out)
    assert f"W&B: no credentials found, logging offline to {out.resolve()}/wandb" in proc.stderr

    [run_file] = (out / "wandb").glob("offline-run-*/run-*.wandb")
    config, history, summary = read_run(run_file)
    results = json.loads((out / "results.json").read_text())

    assert config["freeze"] == 2 and config["suite"]["freeze"] == 2 and config["suite"]["max_length"] == 64
    assert config["class_weights"] == results["class_weights"]
    assert [g["frozen"] for g in config["layer_groups"]] == [g["frozen"] for g in results["layer_groups"]]
    assert [g["name"] for g in config["param_groups"]] == [g["name"] for g in results["param_groups"]]
    assert summary["eval/matthews_correlation"] == results["eval"]["matthews_correlation"]
    assert summary["eval/in_domain_matthews_correlation"] == results["eval_in_domain"]["matthews_correlation"]
    assert summary["eval/out_of_domain_accuracy"] == results["eval_out_of_domain"]["accuracy"]
    assert sum("train/loss" in row for row in history) == results["train"]["steps"] == 4
    assert any("tables/layer_groups/_type" in row for row in history)


def test_each_seed_gets_its_own_run(tmp_path, tiny_bert_dir, data_dir):
    out = tmp_path / "sweep"
    _train_offline(tmp_path, tiny_bert_dir, data_dir, out, "--seeds", "1", "2")
    run_files = sorted((out / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(run_files) == 2  # not both seeds in one run
    seeds = set()
    for run_file in run_files:
        config, history, summary = read_run(run_file)
        seeds.add(config["seed"])
        assert sum("train/loss" in row for row in history) == 4  # this seed's steps only
        result = json.loads((out / f"seed_{config['seed']}" / "results.json").read_text())
        assert summary["eval/matthews_correlation"] == result["eval"]["matthews_correlation"]
    assert seeds == {1, 2}
