"""python -m cola.predict on a trained run: the output lines, reading from files and stdin, one-line errors."""

import subprocess
import sys

import pytest
from conftest import REPO
from transformers import pipeline

from cola import predict


def _predict(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "cola.predict", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, input=stdin, timeout=300)


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing", "no such model directory"),
    (lambda d: d, "not a loadable model directory"),
    (lambda d: (d / "file").write_text("x") and d / "file", "file: not a directory"),
])
def test_predict_errors_are_one_line(tmp_path, make, message):
    proc = _predict(make(tmp_path), "A sentence.")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_predict_needs_sentences(trained_run):
    proc = _predict(trained_run)
    assert proc.returncode == 2 and proc.stderr.strip() == "error: no sentences given: pass them as arguments or with --file"


@pytest.mark.parametrize("argv, message", [
    (["--batch_size", "-3", "A sentence."], "--batch_size must be 1 or more, got -3"),
    (["--max_length", "1", "A sentence."], "--max_length must be at least 2 (room for [CLS] and [SEP]), got 1"),
    (["--max_length", "1000", "A sentence."], "--max_length 1000 is longer than this model's 128 positions"),
])
def test_bad_options_are_one_line_errors(tiny_bert_dir, capsys, argv, message):
    assert predict.main([str(tiny_bert_dir), *argv]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines()[-1] == f"error: {message}" and captured.out == ""  # after any progress bar


def test_sentences_after_the_options_are_read(tiny_bert_dir, capsys):
    assert predict.main([str(tiny_bert_dir), "--batch_size", "2", "One.", "Two.", "Three."]) == 0
    assert [line.split("\t")[2] for line in capsys.readouterr().out.splitlines()] == ["One.", "Two.", "Three."]


def test_a_sentence_file_that_is_not_utf8_or_not_a_file(tiny_bert_dir, tmp_path, capsys):
    latin = tmp_path / "latin1.txt"
    latin.write_bytes(b"Fine.\nna\xefve\n")
    assert predict.main([str(tiny_bert_dir), "--file", str(latin)]) == 2
    assert capsys.readouterr().err == f"error: {latin}:2: not UTF-8 text (byte 0xef at offset 2); save the file as UTF-8\n"
    assert predict.main([str(tiny_bert_dir), "--file", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: cannot read {tmp_path}: Is a directory\n"
