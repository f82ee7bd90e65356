"""python -m cola.predict on a trained run: the output lines, reading from files and stdin, one-line errors."""

import subprocess
import sys

import pytest
from conftest import REPO
from transformers import pipeline

pytestmark = pytest.mark.slow  # each test starts python -m cola.predict


def _predict(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "cola.predict", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, input=stdin, timeout=300)


def test_predict_prints_label_probability_sentence(trained_run, tmp_path):
    sentences = ["The book was written by John.", "Books were sent to each other by the students.", '"Quoted," he said.']
    proc = _predict(trained_run, *sentences)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("\t") for line in proc.stdout.splitlines()]
    assert [r[2] for r in rows] == sentences
    classify = pipeline("text-classification", model=str(trained_run), device="cpu")
    for (label, probability, _), expected in zip(rows, classify(sentences)):
        assert label == expected["label"] and float(probability) == pytest.approx(expected["score"], abs=1e-4)

    listing = tmp_path / "sentences.txt"
    listing.write_text("\n".join(sentences) + "\n\n")  # blank lines are skipped
    from_file = _predict(trained_run, "--file", listing, "--batch_size", "2")
    from_stdin = _predict(trained_run, "--file", "-", stdin="\n".join(sentences))
    assert from_file.stdout == proc.stdout == from_stdin.stdout


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing", "no such model directory"),
    (lambda d: d, "not a loadable model directory"),
])
def test_predict_errors_are_one_line(tmp_path, make, message):
    proc = _predict(make(tmp_path), "A sentence.")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr and "Traceback" not in proc.stderr


def test_predict_needs_sentences(trained_run):
    proc = _predict(trained_run)
    assert proc.returncode == 2 and proc.stderr.strip() == "error: no sentences given: pass them as arguments or with --file"
