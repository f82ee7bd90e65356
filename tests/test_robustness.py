"""The README's robustness table, the rows not covered elsewhere: unwritable output, an interrupted run."""

import signal
import subprocess
import sys
import time

import train
from conftest import REPO


def test_unwritable_output_directory(tmp_path, data_dir, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    argv = ["--model_name_or_path", "all-MiniLM-L6-v2", "--data_dir", str(data_dir), "--output_dir", str(blocker / "out")]
    assert train.main(argv) == 2
    assert capsys.readouterr().err.strip() == f"error: cannot write to output directory {blocker / 'out'}: Not a directory"


def test_interrupted_run_leaves_no_results(tmp_path, data_dir):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "train.py", "--model_name_or_path", "all-MiniLM-L6-v2", "--data_dir", str(data_dir),
         "--output_dir", str(out), "--max_train_samples", "256", "--max_steps", "100000", "--save_strategy", "no",
         "--eval_strategy", "no", "--load_best_model_at_end", "false", "--disable_tqdm", "true"],
        cwd=REPO, stderr=subprocess.PIPE, text=True,
        # As in a terminal: a test run started in the background by a non-interactive shell (`cmd &`) inherits
        # SIGINT ignored, and the child would never see the Ctrl-C.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines = []
    for line in proc.stderr:  # wait until training has really started
        lines.append(line)
        if "Optimizer" in line:
            break
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(lines) + rest
    assert rest.strip().splitlines()[-1].startswith("error: interrupted; no results.json was written")
    assert "Traceback" not in rest
    assert not (out / "results.json").exists()
    assert [p.name for p in out.iterdir() if p.name.startswith(".results")] == []


def test_unknown_metric_for_best_model_fails_before_training(tmp_path, tiny_bert_dir, data_dir, capsys):
    out = tmp_path / "run"
    argv = ["--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(data_dir), "--output_dir", str(out),
            "--max_train_samples", "32", "--max_eval_samples", "40", "--metric_for_best_model", "mcc"]
    assert train.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the model-loading progress bar
    assert err.startswith("error: --metric_for_best_model 'mcc' is not reported by this run's evaluation; choose one of: loss, ")
    assert "in_domain_matthews_correlation" in err
    assert not list(out.glob("checkpoint-*")) and not (out / "results.json").exists()
