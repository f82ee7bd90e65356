"""train.py through its real entry point on a slice of the real CoLA files with the packaged model."""

import json
import subprocess
import sys

import pytest

from cola.class_weights import class_weights_for
from cola.config import DataArguments, load_recipe
from cola.data import load_cola
from conftest import REPO

import train

METRIC_KEYS = {"matthews_correlation", "accuracy", "f1_macro", "loss", "n"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("e2e") / "run"
    argv = [
        "--model_name_or_path", "all-MiniLM-L6-v2", "--data_dir", str(data_dir), "--output_dir", str(out),
        "--max_train_samples", "96", "--max_eval_samples", "120", "--num_train_epochs", "2",
        "--per_device_train_batch_size", "16", "--learning_rate", "5e-5", "--freeze", "2", "--seed", "7",
    ]
    assert train.main(argv) == 0
    return out


def test_results_json_has_the_stable_keys(run_dir, data_dir):
    results = json.loads((run_dir / "results.json").read_text())
    assert {"eval", "eval_in_domain", "eval_out_of_domain", "train", "class_weights", "layer_groups", "param_groups",
            "trainable_parameters", "total_parameters", "config", "versions"} <= results.keys()
    for section in ("eval", "eval_in_domain", "eval_out_of_domain"):
        assert METRIC_KEYS <= results[section].keys(), section
        assert -1 <= results[section]["matthews_correlation"] <= 1
    assert results["eval"]["n"] == 120
    assert results["eval_in_domain"]["n"] + results["eval_out_of_domain"]["n"] == 120
    assert {"runtime_s", "samples_per_second", "steps", "epochs", "final_loss"} <= results["train"].keys()
    assert results["train"]["steps"] == 12 and results["train"]["epochs"] == 2

    # class weights from the (sub-sampled) training split the model trained on
    train_split = load_cola(DataArguments(data_dir=str(data_dir), max_train_samples=96), seed=7).train
    assert results["class_weights"] == pytest.approx(
        class_weights_for(train_split["labels"], enabled=True, values=None, num_labels=2))

    assert [g["name"] for g in results["layer_groups"]] == ["embeddings"] + [f"layer_{i:02d}" for i in range(6)] + ["pooler"]
    assert [g["frozen"] for g in results["layer_groups"]] == [True, True] + [False] * 6
    names = [g["name"] for g in results["param_groups"]]
    assert names[0] == "head.decay" and names[-1] == "layer_01.no_decay"
    grouped = [p for g in results["param_groups"] for p in g["params"]]
    assert len(grouped) == len(set(grouped)) and "classifier.weight" in grouped
    assert not any(p.startswith(("bert.embeddings.", "bert.encoder.layer.0.")) for p in grouped)
    assert results["trainable_parameters"] == sum(g["params"] for g in results["layer_groups"] if not g["frozen"]) + 384 * 2 + 2
    assert results["config"]["freeze"] == 2 and results["config"]["model_name_or_path"] == "all-MiniLM-L6-v2"
    assert results["versions"]["transformers"].startswith("5.")


def test_resolved_config_is_written_and_reloads(run_dir):
    values = load_recipe(run_dir / "run_config.json")
    assert values["freeze"] == 2 and values["seed"] == 7 and values["max_train_samples"] == 96


def test_output_loads_in_a_pipeline(run_dir):
    from transformers import pipeline

    assert (run_dir / "model.safetensors").is_file()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "unacceptable", "1": "acceptable"}
    classify = pipeline("text-classification", model=str(run_dir), device="cpu")
    predictions = classify(["The book was written by John.", "Books were sent to each other by the students."])
    assert [p["label"] in {"acceptable", "unacceptable"} for p in predictions] == [True, True]
    assert all(0.5 <= p["score"] <= 1 for p in predictions)


def test_accelerate_launch_runs_the_cli(tmp_path, data_dir):
    out = tmp_path / "launched"
    proc = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--cpu", "train.py",
         "--model_name_or_path", "all-MiniLM-L6-v2", "--data_dir", str(data_dir), "--output_dir", str(out),
         "--max_train_samples", "32", "--max_eval_samples", "32", "--max_steps", "2", "--save_strategy", "no",
         "--load_best_model_at_end", "false", "--no-class-weights"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["train"]["steps"] == 2 and results["class_weights"] is None



# --- prediction CLI, on the model trained above ---

def _predict(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "cola.predict", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, input=stdin, timeout=300)


def test_predict_prints_label_probability_sentence(run_dir, tmp_path):
    from transformers import pipeline

    sentences = ["The book was written by John.", "Books were sent to each other by the students.", '"Quoted," he said.']
    proc = _predict(run_dir, *sentences)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("\t") for line in proc.stdout.splitlines()]
    assert [r[2] for r in rows] == sentences
    classify = pipeline("text-classification", model=str(run_dir), device="cpu")
    for (label, probability, _), expected in zip(rows, classify(sentences)):
        assert label == expected["label"] and float(probability) == pytest.approx(expected["score"], abs=1e-4)

    listing = tmp_path / "sentences.txt"
    listing.write_text("\n".join(sentences) + "\n\n")  # blank lines are skipped
    from_file = _predict(run_dir, "--file", listing, "--batch_size", "2")
    from_stdin = _predict(run_dir, "--file", "-", stdin="\n".join(sentences))
    assert from_file.stdout == proc.stdout == from_stdin.stdout


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing", "no such model directory"),
    (lambda d: d, "not a loadable model directory"),
])
def test_predict_errors_are_one_line(tmp_path, make, message):
    proc = _predict(make(tmp_path), "A sentence.")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr and "Traceback" not in proc.stderr


def test_predict_needs_sentences(run_dir):
    proc = _predict(run_dir)
    assert proc.returncode == 2 and proc.stderr.strip() == "error: no sentences given: pass them as arguments or with --file"
