"""CoLA loading: real sizes, quoting, per-domain columns, hold-out, download, and every bad-data case."""

import os
import subprocess
import sys
import urllib.error
import zipfile
from collections import Counter

import numpy as np
import pytest
from conftest import REPO

from cola import cola_tsv as cola_data
from cola.config import DataArguments
from cola.data import load_data, tokenize
from cola.errors import CliError


def write_cola_dir(root, train_rows, dev_rows=("c\t1\t\tA dev sentence.",), ood_rows=("d\t0\t*\tDev sentence a.",)):
    root.mkdir(parents=True, exist_ok=True)
    for name, rows in (("in_domain_train.tsv", train_rows), ("in_domain_dev.tsv", dev_rows),
                       ("out_of_domain_dev.tsv", ood_rows)):
        (root / name).write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    return root


def test_real_files_glue_dev(data_dir):
    d = load_data(DataArguments(data_dir=str(data_dir)), seed=0)
    assert len(d.train) == 8551
    assert len(d.eval) == 1043
    assert d.group_sizes() == {"in_domain": 527, "out_of_domain": 516}
    assert d.class_counts() == [2528, 6023]
    assert set(d.train["group"]) == {0}


def test_holdout_is_stratified_and_seeded(data_dir):
    args = DataArguments(data_dir=str(data_dir), eval_split="holdout", holdout_fraction=0.1)
    a, b = load_data(args, seed=1), load_data(args, seed=1)
    assert len(a.eval) == 856 and len(a.train) == 8551 - 856
    assert a.eval["text"] == b.eval["text"]
    assert load_data(args, seed=2).eval["text"] != a.eval["text"]
    fraction_eval = np.mean(a.eval["labels"])
    assert abs(fraction_eval - 6023 / 8551) < 0.002  # stratified: the same class balance as the file
    # a partition of the file: together the two splits hold exactly its rows (CoLA repeats some sentences)
    whole = load_data(DataArguments(data_dir=str(data_dir)), seed=1).train
    rows = lambda d: Counter(zip(d["labels"], d["text"]))  # noqa: E731
    assert rows(a.train) + rows(a.eval) == rows(whole)
    assert a.group_sizes() == {"in_domain": 856}


def test_quoted_sentence_survives_intact(tmp_path, tokenizer):
    rows = ['s\t1\t\t"Quoted," she said, "is fine."', 's\t0\t*\tHe said "hello.', "s\t1\t\tNA", "s\t0\t*\tnull it is"]
    root = write_cola_dir(tmp_path / "cola", rows)
    d = load_data(DataArguments(data_dir=str(root)), seed=0)
    assert d.train["text"] == ['"Quoted," she said, "is fine."', 'He said "hello.', "NA", "null it is"]
    assert d.train["labels"] == [1, 0, 1, 0]
    t = tokenize(d, tokenizer, max_length=6)
    assert max(t.train["length"]) == 6  # truncated to max_length
    assert t.train["length"] == [len(ids) for ids in t.train["input_ids"]]
    assert {"input_ids", "attention_mask", "labels", "group", "length"} <= set(t.train.column_names)
    assert "text" not in t.train.column_names and t.truncated == {"train": 2, "eval": 0}


BAD_DATA = [
    (["s\t1\tonly three"], "in_domain_train.tsv:1: expected 4 tab-separated columns, found 3"),
    (["s\t1\t\tfine", "s\t1\t\ttoo\tmany"], "in_domain_train.tsv:2: expected 4 tab-separated columns, found 5"),
    (["s\t1\t\tfine", "s\t1\t\tfine", "s\t2\t\tbad label"], "in_domain_train.tsv:3: label must be 0 or 1, found '2'"),
    (["s\tx\t\tbad label"], "in_domain_train.tsv:1: label must be 0 or 1, found 'x'"),
    (["s\t1\t\tok", "s\t0\t*\t  "], "in_domain_train.tsv:2: empty sentence"),
    (["s\t1\t\tok", ""], "in_domain_train.tsv:2: expected 4 tab-separated columns, found 1"),
    ([], "in_domain_train.tsv: empty file"),
]


@pytest.mark.parametrize("rows, message", BAD_DATA)
def test_bad_data_is_a_one_line_error(tmp_path, rows, message):
    root = write_cola_dir(tmp_path / "cola", rows)
    with pytest.raises(CliError) as error:
        load_data(DataArguments(data_dir=str(root)), seed=0)
    assert str(error.value) == f"{root}/{message}"


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(CliError, match=r"no such directory \(from --data_dir\)"):
        load_data(DataArguments(data_dir=str(tmp_path / "nowhere")), seed=0)
    root = write_cola_dir(tmp_path / "cola", ["s\t1\t\tfine"])
    (root / "out_of_domain_dev.tsv").unlink()
    with pytest.raises(CliError, match=r"out_of_domain_dev.tsv: no such file"):
        load_data(DataArguments(data_dir=str(root)), seed=0)


@pytest.mark.slow
def test_bad_data_through_the_cli_exits_2_without_traceback(tmp_path):
    root = write_cola_dir(tmp_path / "cola", ["s\t1\t\tfine", "s\t7\t\tbad"])
    proc = subprocess.run(
        [sys.executable, "train.py", "--model_name_or_path", "all-MiniLM-L6-v2", "--data_dir", str(root),
         "--output_dir", str(tmp_path / "out")],
        cwd=REPO, capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == f"error: {root}/in_domain_train.tsv:2: label must be 0 or 1, found '7'"
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "results.json").exists()


def test_data_dir_from_environment(tmp_path, monkeypatch):
    root = write_cola_dir(tmp_path / "env_cola", ["s\t1\t\tfrom the environment"])
    monkeypatch.setenv("COLA_DATA_DIR", str(root))
    assert load_data(DataArguments(), seed=0).train["text"] == ["from the environment"]
    monkeypatch.setenv("COLA_DATA_DIR", str(tmp_path / "missing"))
    with pytest.raises(CliError, match=r"no such directory \(from \$COLA_DATA_DIR\)"):
        load_data(DataArguments(), seed=0)


def _official_like_archive(data_dir, path, drop_rows=0):
    with zipfile.ZipFile(path, "w") as zf:
        for name in cola_data.EXPECTED_ROWS:
            text = (data_dir / name).read_text(encoding="utf-8")
            if drop_rows:
                text = "".join(text.splitlines(keepends=True)[:-drop_rows])
            zf.writestr(f"cola_public/raw/{name}", text)
        zf.writestr("cola_public/README", "CoLA")
    return path


def test_download_checks_and_caches(tmp_path, monkeypatch, data_dir):
    monkeypatch.delenv("COLA_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    archive = _official_like_archive(data_dir, tmp_path / "cola_public_1.1.zip")
    monkeypatch.setattr(cola_data, "CoLA_URL", archive.as_uri())
    d = load_data(DataArguments(), seed=0)
    assert d.source == f"CoLA ({tmp_path / 'cache' / 'cola-suite' / 'cola_public' / 'raw'})"
    assert len(d.train) == 8551 and len(d.eval) == 1043
    archive.unlink()  # a second call uses the cache, not the network
    assert load_data(DataArguments(), seed=0).source == d.source


def test_download_rejects_a_truncated_archive(tmp_path, monkeypatch, data_dir):
    archive = _official_like_archive(data_dir, tmp_path / "short.zip", drop_rows=3)
    with pytest.raises(CliError, match=r"has 8548 rows in in_domain_train.tsv, expected 8551"):
        cola_data.download_cola(url=archive.as_uri(), cache=tmp_path / "cache")
    assert not (tmp_path / "cache" / "cola_public").exists()
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(CliError, match=r"is damaged"):
        cola_data.download_cola(url=garbage.as_uri(), cache=tmp_path / "cache")


def test_offline_without_data_says_to_pass_data_dir(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(cola_data.urllib.request, "urlopen", offline)
    with pytest.raises(CliError) as error:
        cola_data.download_cola(cache=tmp_path / "cache")
    message = str(error.value)
    assert "could not be downloaded from https://nyu-mll.github.io/CoLA/cola_public_1.1.zip" in message
    assert "pass --data_dir" in message and "\n" not in message


def test_a_file_that_is_not_utf8_names_its_line(tmp_path):
    root = write_cola_dir(tmp_path / "cola", ["s\t1\t\tfine"])
    (root / "in_domain_train.tsv").write_bytes(b"s\t1\t\tfine\ns\t0\t*\tna\xefve caf\xe9 latin-1\n")
    with pytest.raises(CliError) as error:
        load_data(DataArguments(data_dir=str(root)), seed=0)
    assert str(error.value) == (f"{root}/in_domain_train.tsv:2: not UTF-8 text (byte 0xef at offset 8); "
                                "save the file as UTF-8")


def test_a_byte_order_mark_and_crlf_line_ends_are_read_as_text(tmp_path):
    root = write_cola_dir(tmp_path / "cola", ["s\t1\t\tfine"])
    (root / "in_domain_train.tsv").write_bytes("\ufeffs\t1\t\tFirst one.\r\ns\t0\t*\tSecond one.\r\n".encode())
    assert load_data(DataArguments(data_dir=str(root)), seed=0).train["text"] == ["First one.", "Second one."]


def test_directories_and_files_are_not_confused(tmp_path):
    root = write_cola_dir(tmp_path / "cola", ["s\t1\t\tfine"])
    (root / "in_domain_dev.tsv").unlink()
    (root / "in_domain_dev.tsv").mkdir()
    with pytest.raises(CliError, match=r"in_domain_dev.tsv: a directory, not a file$"):
        load_data(DataArguments(data_dir=str(root)), seed=0)
    with pytest.raises(CliError, match=r"in_domain_train.tsv: not a directory \(from --data_dir\)$"):
        load_data(DataArguments(data_dir=str(root / "in_domain_train.tsv")), seed=0)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_an_unreadable_file_is_a_one_line_error(tmp_path):
    root = write_cola_dir(tmp_path / "cola", ["s\t1\t\tfine"])
    (root / "in_domain_train.tsv").chmod(0)
    with pytest.raises(CliError, match=r"in_domain_train.tsv: cannot read it \(Permission denied\)$"):
        load_data(DataArguments(data_dir=str(root)), seed=0)


def test_a_holdout_fraction_that_leaves_a_split_empty(tmp_path):
    root = write_cola_dir(tmp_path / "cola", ["s\t1\t\tOne.", "s\t0\t*\tTwo.", "s\t1\t\tThree.", "s\t0\t*\tFour."])
    with pytest.raises(CliError, match=r"^--holdout_fraction 0.01 cannot split 4 training examples into two non-empty"):
        load_data(DataArguments(data_dir=str(root), eval_split="holdout", holdout_fraction=0.01), seed=0)


def test_warnings_for_data_that_flatters_or_says_nothing(tmp_path, caplog):
    root = write_cola_dir(tmp_path / "cola", ["s\t1\t\tSame.", "s\t1\t\tSame.", "s\t0\t*\tA dev sentence."],
                          dev_rows=["c\t1\t\tA dev sentence."], ood_rows=["d\t1\t\tAnother."])
    with caplog.at_level("WARNING", logger="cola.data"):
        load_data(DataArguments(data_dir=str(root)), seed=0)
    assert [r.getMessage() for r in caplog.records] == [
        "Data: the evaluation set has one class only: MCC is 0 whatever the model predicts",
        "Data: 1 training text(s) occur more than once",
        "Data: 1 evaluation text(s) also occur in the training split: their scores are flattered",
    ]
