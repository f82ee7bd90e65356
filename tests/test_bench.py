"""python -m cola.experiments.bench runs and reports every figure the README table shows (speed itself is not asserted)."""

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

from cola.class_weights import class_weights_for
from cola.config import DataArguments
from cola.data import load_data
from cola.precision import detect_precision


@pytest.mark.slow
def test_bench_reports_the_table_and_json(tmp_path, data_dir):
    out, scratch = tmp_path / "bench.json", tmp_path / "tmp"
    scratch.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "cola.experiments.bench", "--data_dir", str(data_dir), "--samples", "192", "--repeats", "1",
         "--rows", "notebook", "suite", "suite_freeze_cached", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600, env=os.environ | {"TMPDIR": str(scratch)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not list(scratch.glob("cola-bench-*"))  # the rows' output folders go with them
    report = json.loads(out.read_text())
    assert set(report["rows"]) == {"notebook", "suite", "suite_freeze_cached"} and report["samples"] == 192
    for row in report["rows"].values():
        for key in ("samples_per_second", "useful_tokens_per_second", "padding_ratio", "mfu", "peak_memory_mb",
                    "eval_sentences_per_second", "step_s"):
            assert row[key] > 0, key
        # MFU is a ratio of two timings (a busy machine can push it past 1): its sign is asserted, not its size
        assert row["mfu"] > 0 and 0 <= row["padding_ratio"] < 1
    # padding is a count, not a timing: the notebook pads every sentence to 64 tokens, the suite groups lengths
    assert report["rows"]["notebook"]["padding_ratio"] > 0.7 > report["rows"]["suite"]["padding_ratio"]
    assert "| notebook | fp32 |" in proc.stdout and "| suite |" in proc.stdout
    assert len(report["runs"]["suite"]) == 1 and "fp32" in report["matmul_peak_flops"]
    # The suite row is train.py's own path: its class weights are train.py's (balanced, from the training file),
    # and it trains in the precision train.py would pick here.
    train_labels = load_data(DataArguments(data_dir=str(data_dir)), seed=0).train["labels"]
    assert report["rows"]["suite"]["class_weights"] == pytest.approx(
        class_weights_for(train_labels, enabled=True, values=None, num_labels=2))
    assert report["rows"]["suite"]["precision"] == detect_precision(use_cpu=True)
    assert report["rows"]["notebook"]["class_weights"] is None and report["rows"]["suite"]["frozen_fraction"] == 0
    # The cached row froze half the groups and built its cache once; its step is compared with the suite's.
    cached, suite = report["rows"]["suite_freeze_cached"], report["rows"]["suite"]
    assert cached["cache_build_s"] > 0 == suite["cache_build_s"]
    assert cached["amortised_step_s"] > cached["step_s"] and suite["step_vs_suite"] == 1
    assert cached["step_vs_suite"] == pytest.approx(cached["step_s"] / suite["step_s"])
    assert 0.3 < cached["frozen_fraction"] < 0.7 and cached["forward_fraction"] == pytest.approx(1 - cached["frozen_fraction"])
    assert "| suite_freeze_cached |" in proc.stdout


@pytest.mark.slow
def test_the_peer_row_is_the_trainer_with_the_flags_a_knowing_user_sets(tmp_path, data_dir):
    """peer: the plain Trainer with length-grouped batches and the precision `auto` picks; it pads less than the
    Trainer as it comes, and every row is compared with it."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "cola.experiments.bench", "--data_dir", str(data_dir), "--samples", "128", "--repeats", "1",
         "--rows", "trainer", "peer", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert rows["trainer"]["precision"] == "fp32" and rows["peer"]["precision"] == detect_precision(use_cpu=True)
    assert rows["peer"]["padding_ratio"] < rows["trainer"]["padding_ratio"]  # a count, not a timing
    assert rows["peer"]["speedup_vs_peer"] == 1
    assert rows["trainer"]["speedup_vs_peer"] == pytest.approx(
        rows["trainer"]["samples_per_second"] / rows["peer"]["samples_per_second"])
    assert "| vs peer |" in proc.stdout and "| peer |" in proc.stdout


@pytest.mark.parametrize("extra, message", [
    (["--samples", "0"], "--samples must be at least 128"),
    (["--samples", "100"], "--samples must be at least 128"),
    (["--repeats", "0"], "--repeats must be 1 or more"),
    (["--out", "no/such/folder/bench.json"], "its folder does not exist or is not writable"),
    (["--out", "."], "a folder"),
    (["--suite_args", "--learning_rate -1"], "--suite_args: learning_rate must be a positive number"),
    (["--suite_args", "--learnig_rate 1e-4"],
     "--suite_args: unknown option(s): --learnig_rate (did you mean --learning_rate?)"),
    (["--suite_args", "--freeze 'x"], "--suite_args: No closing quotation"),
])
def test_bad_bench_options_are_refused_before_any_row_runs(tmp_path, monkeypatch, capsys, extra, message):
    from cola.experiments import bench

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(bench, "run_benchmark", lambda args: pytest.fail("the benchmark ran"))
    assert bench.main(extra) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("error: ") and err.count("\n") == 1
