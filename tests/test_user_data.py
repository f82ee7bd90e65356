"""Your own data: each file format and the Hub path, k = 2 and 3 classes, integer and string labels, sentence pairs,
groups, every bad-input case (one line naming file, row and column, exit 2, before a model loads), and runs of
train.py that give the CoLA path's exact metrics on CoLA exported as CSV."""

import json
import subprocess
import sys

import datasets
import pandas as pd
import pytest
import torch
from conftest import REPO

import train
from cola.config import DataArguments
from cola.data import load_data, tokenize
from cola.errors import CliError

# A synthetic 3-class set: the class is the sentence's topic word; the group is where it was "collected".
TOPICS = {"billing": ["invoice", "refund", "charge"], "login": ["password", "account", "sign-in"],
          "shipping": ["parcel", "delivery", "courier"]}


def three_class_frame(n_per_class: int, offset: int = 0) -> pd.DataFrame:
    rows = []
    for i in range(n_per_class):
        for label, words in TOPICS.items():
            rows.append({"text": f"Ticket {offset + i}: my {words[i % 3]} has a problem number {i}.", "label": label,
                         "channel": "email" if i % 2 else "phone", "reply": f"We looked at the {words[(i + 1) % 3]}."})
    return pd.DataFrame(rows)


def write(frame: pd.DataFrame, path) -> str:
    suffix = path.suffix
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif suffix in (".jsonl", ".json"):
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path, index=False)
    return str(path)


def own(train_file, validation_file=None, **options) -> DataArguments:
    return DataArguments(train_file=str(train_file), validation_file=validation_file and str(validation_file),
                         text_column=options.pop("text_column", "text"), **options)


# --- reading: formats, labels, pairs, groups ---

@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_each_format_reads_the_same_three_class_rows(tmp_path, suffix):
    frame = three_class_frame(4)
    frame.loc[0, "text"] = '"Quoted," she said\tthen a tab; NA'  # quoting, a tab and "NA" survive every format
    data = load_data(own(write(frame, tmp_path / f"train{suffix}"), write(three_class_frame(2, 50), tmp_path / f"dev{suffix}"),
                         group_column="channel"), seed=0)
    assert data.class_names == ("billing", "login", "shipping")  # sorted
    assert data.train["text"] == frame["text"].tolist()
    assert data.train["labels"] == [["billing", "login", "shipping"].index(x) for x in frame["label"]]
    assert data.group_names == ("email", "phone") and data.train["group"] == [1, 1, 1, 0, 0, 0] * 2
    assert data.class_counts() == [4, 4, 4] and data.group_sizes() == {"email": 3, "phone": 3}


def test_integer_labels_are_sorted_by_value_and_class_names_name_them(tmp_path):
    labels = [10, 2, 5, 2, 10, 5, 2, 10, 5]
    frame = pd.DataFrame({"text": [f"text {i}" for i in range(9)], "label": labels})
    data = load_data(own(write(frame, tmp_path / "t.jsonl"), eval_split="holdout", holdout_fraction=1 / 3), seed=0)
    assert data.class_names == ("2", "5", "10")  # by value, not as strings ("10" < "2")
    by_text = dict(zip(frame["text"], labels))
    for split in (data.train, data.eval):  # the stratified hold-out keeps every text's class id
        assert [data.class_names[i] for i in split["labels"]] == [str(by_text[t]) for t in split["text"]]
    assert sorted(data.eval["labels"]) == [0, 1, 2]
    frame = pd.DataFrame({"text": ["a b", "c d", "e f", "g h"], "label": [0, 1, 2, 1]})
    path = write(frame, tmp_path / "ids.jsonl")
    data = load_data(own(path, path, class_names=["neg", "neu", "pos"]), seed=0)
    assert data.class_names == ("neg", "neu", "pos") and data.train["labels"] == [0, 1, 2, 1]


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_labels_in_text_files_are_the_class_names_as_written(tmp_path, suffix, caplog):
    """`01` and `1` are two classes, not one number; `2.0` is not `2`; plain integers still sort by number."""
    cells = ["01", "1", "2.0", "2", "01", "1", "2.0", "2"]
    frame = pd.DataFrame({"text": [f"text {i}" for i in range(8)], "label": cells})
    data = load_data(own(write(frame, tmp_path / f"t{suffix}"), write(frame, tmp_path / f"d{suffix}")), seed=0)
    assert data.class_names == ("01", "1", "2", "2.0") and data.labels_read_as == "texts as written, sorted"
    assert [data.class_names[i] for i in data.train["labels"]] == cells
    plain = pd.DataFrame({"text": [f"text {i}" for i in range(6)], "label": ["10", "2", "9"] * 2})
    data = load_data(own(write(plain, tmp_path / f"p{suffix}"), write(plain, tmp_path / f"q{suffix}")), seed=0)
    assert data.class_names == ("2", "9", "10") and data.labels_read_as == "texts as written, sorted by number"


def test_text_labels_that_write_ids_are_ids_into_class_names(tmp_path):
    """A CSV of 0/1 with --class_names naming them: the plainly written integers are class ids, as before."""
    frame = pd.DataFrame({"text": [f"text {i}" for i in range(4)], "label": ["0", "1", "1", "0"]})
    data = load_data(own(write(frame, tmp_path / "t.csv"), write(frame, tmp_path / "d.csv"), class_names=["no", "yes"]),
                     seed=0)
    assert data.class_names == ("no", "yes") and data.train["labels"] == [0, 1, 1, 0]
    assert data.labels_read_as == "texts: class names, and 0, 1 as class ids into --class_names"
    frame["label"] = ["00", "1", "1", "0"]  # "00" writes no id plainly: a name, and not among the names
    with pytest.raises(CliError, match=r"t2.csv, row 1, column 'label': label '00' is not among --class_names no yes"):
        load_data(own(write(frame, tmp_path / "t2.csv"), write(frame, tmp_path / "d2.csv"), class_names=["no", "yes"]),
                  seed=0)


def test_class_names_set_the_order_of_string_labels(tmp_path):
    frame = pd.DataFrame({"text": ["a b", "c d", "e f"], "label": ["pos", "neg", "pos"]})
    path = write(frame, tmp_path / "t.csv")
    assert load_data(own(path, path), seed=0).train["labels"] == [1, 0, 1]  # neg, pos: alphabetical
    data = load_data(own(path, path, class_names=["pos", "neg"]), seed=0)
    assert data.class_names == ("pos", "neg") and data.train["labels"] == [0, 1, 0]


def test_pairs_are_encoded_together(tmp_path, tokenizer):
    frame = three_class_frame(2)
    path = write(frame, tmp_path / "t.parquet")
    data = load_data(own(path, path, text_pair_column="reply"), seed=0)
    assert data.train["text_pair"] == frame["reply"].tolist()
    encoded = tokenize(data, tokenizer, max_length=64)
    first = encoded.train[0]
    expected = tokenizer(frame["text"][0], frame["reply"][0])
    assert first["input_ids"] == expected["input_ids"] and set(first["token_type_ids"]) == {0, 1}
    assert tokenizer.decode(first["input_ids"]).count("[SEP]") == 2


def test_a_long_text_is_truncated_and_counted_not_refused(tmp_path, tokenizer, caplog):
    frame = pd.DataFrame({"text": ["short one", " ".join(["word"] * 5000), "another short"], "label": [0, 1, 0]})
    path = write(frame, tmp_path / "t.csv")
    with caplog.at_level("INFO", logger="cola.data"):
        encoded = tokenize(load_data(own(path, path), seed=0), tokenizer, max_length=32)
    assert encoded.truncated == {"train": 1, "eval": 1}
    assert max(encoded.train["length"]) == 32
    assert "Truncated 1 of 3 train texts to --max_length 32 tokens" in caplog.text


def test_a_hub_dataset_through_a_local_stand_in(tmp_path):
    """--dataset_name takes what load_dataset takes: here a local folder, with a ClassLabel column and a test split
    whose labels are hidden (-1), as GLUE's are."""
    folder = tmp_path / "hub_like"
    folder.mkdir()
    features = datasets.Features({"sentence": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["negative", "positive"]),
                                  "site": datasets.ClassLabel(names=["web shop", "app"])})
    for split, labels in (("train", [0, 1, 1, 0]), ("validation", [1, 0]), ("test", [-1, -1])):
        rows = {"sentence": [f"{split} sentence {i}" for i in range(len(labels))], "label": labels,
                "site": [i % 2 for i in range(len(labels))]}
        datasets.Dataset.from_dict(rows, features=features).to_parquet(folder / f"{split}.parquet")
    args = DataArguments(dataset_name=str(folder), test_split="test", group_column="site")
    data = load_data(args, seed=0)
    assert data.class_names == ("negative", "positive")  # the ClassLabel's own names
    assert data.group_names == ("app", "web_shop") and data.eval["group"] == [1, 0]  # by name, made key-safe
    assert data.train["labels"] == [0, 1, 1, 0] and len(data.eval) == 2
    assert len(data.test) == 2 and data.test_labelled is False
    assert data.source == str(folder)
    with pytest.raises(CliError, match=r"^cannot load .*hub_like split 'dev' \(.*\); offline, use local files"):
        load_data(DataArguments(dataset_name=str(folder), validation_split="dev"), seed=0)


def test_a_labelled_test_file_is_kept_with_its_texts(tmp_path, tokenizer):
    path = write(three_class_frame(2), tmp_path / "t.csv")
    unlabelled = write(three_class_frame(1).drop(columns="label"), tmp_path / "unlabelled.csv")
    data = load_data(own(path, path, test_file=path), seed=0)
    assert data.test_labelled and data.test["labels"] == data.train["labels"]
    data = load_data(own(path, path, test_file=unlabelled), seed=0)
    assert not data.test_labelled and len(data.test) == 3
    assert "text" in tokenize(data, tokenizer, 32).test.column_names  # for test_predictions.csv


# --- bad input: one line naming file, row and column ---

def _bad(tmp_path, train, dev=None, **options):
    """Write `train` (and `dev`) as CSV and return the error message load_data gives."""
    train_path = write(pd.DataFrame(train), tmp_path / "train.csv")
    dev_path = write(pd.DataFrame(dev), tmp_path / "dev.csv") if dev is not None else train_path
    with pytest.raises(CliError) as error:
        load_data(own(train_path, dev_path, **options), seed=0)
    message = str(error.value)
    assert "\n" not in message
    return message.replace(str(tmp_path) + "/", "")


GOOD = {"text": ["one text", "two text", "three text"], "label": ["a", "b", "a"]}


def test_missing_column(tmp_path):
    assert _bad(tmp_path, GOOD, text_column="sentence") == (
        "train.csv, column 'sentence': no such column (the columns are: text, label)")
    assert _bad(tmp_path, GOOD, group_column="site") == "train.csv, column 'site': no such column (the columns are: text, label)"


@pytest.mark.parametrize("text, message", [("", "empty or whitespace-only text"), ("   ", "empty or whitespace-only text")])
def test_empty_text_names_its_row(tmp_path, text, message):
    rows = {"text": ["fine", "also fine", text], "label": ["a", "b", "a"]}
    assert _bad(tmp_path, rows) == f"train.csv, row 3, column 'text': {message}"


def test_a_validation_label_the_training_split_lacks(tmp_path):
    dev = {"text": ["x y", "z w"], "label": ["a", "c"]}
    assert _bad(tmp_path, GOOD, dev) == "dev.csv, row 2, column 'label': label 'c' is not among the training split's labels: a, b"


def test_a_label_outside_class_names(tmp_path):
    message = _bad(tmp_path, GOOD, class_names=["a", "c"])
    assert message == "train.csv, row 2, column 'label': label 'b' is not among --class_names a c"


def test_fewer_than_two_classes(tmp_path):
    rows = {"text": ["one", "two"], "label": ["a", "a"]}
    assert _bad(tmp_path, rows) == ("train.csv, column 'label': the training split has one class only (a); a classifier "
                                    "needs two or more")


def test_an_empty_split(tmp_path):
    (tmp_path / "dev.csv").write_text("text,label\n")
    train_path = write(pd.DataFrame(GOOD), tmp_path / "train.csv")
    with pytest.raises(CliError, match=r"dev.csv: no rows \(an empty split\)$"):
        load_data(own(train_path, tmp_path / "dev.csv"), seed=0)
    pd.DataFrame({"text": pd.Series([], dtype=str), "label": pd.Series([], dtype=int)}).to_parquet(tmp_path / "dev.parquet")
    with pytest.raises(CliError, match=r"dev.parquet: no rows \(an empty split\)$"):
        load_data(own(train_path, tmp_path / "dev.parquet"), seed=0)


def test_a_file_that_is_not_utf8(tmp_path):
    (tmp_path / "train.csv").write_bytes(b"text,label\nfine,a\ncaf\xe9 latin-1,b\n")
    with pytest.raises(CliError) as error:
        load_data(own(tmp_path / "train.csv", tmp_path / "train.csv"), seed=0)
    assert str(error.value) == f"{tmp_path}/train.csv:3: not UTF-8 text (byte 0xe9 at offset 3); save the file as UTF-8"


def test_a_byte_order_mark_and_crlf_line_ends_are_read_as_text(tmp_path):
    (tmp_path / "excel.csv").write_bytes("\ufefftext,label\r\nhello there,a\r\nbye now,b\r\n".encode())
    data = load_data(own(tmp_path / "excel.csv", tmp_path / "excel.csv"), seed=0)
    assert data.train["text"] == ["hello there", "bye now"] and data.class_names == ("a", "b")


# A TSV written by joining cells with tabs, not by a CSV writer: a text starting with a quote is read as a quoted cell.
@pytest.mark.parametrize("lines, line, message", [
    (["ok fine\t1", '"Yes," he said.\t0'], 3, "the quote closing it is followed by more text"),
    (['"Hello there.\t1', "ok\t0", "fine\t1"], 2, "it is never closed (it would swallow every row after it)"),
    (['"Hello there.\t1', "ok\t0", 'and left."\t1', "fine\t0"], 2, "a quoted cell runs over lines 2-4 and holds tabs"),
])
def test_a_tsv_cell_starting_with_a_quote_never_merges_rows_silently(tmp_path, lines, line, message):
    path = tmp_path / "hand.tsv"
    path.write_text("\n".join(["text\tlabel", *lines]) + "\n")
    with pytest.raises(CliError) as error:
        load_data(own(path, path), seed=0)
    assert str(error.value).startswith(f"{path}:{line}: ") and message in str(error.value)


def test_quoted_cells_as_a_csv_writer_writes_them_are_read_as_written(tmp_path):
    texts = ['"Yes," he said.', 'He said "hi"', "a tab\there", "two\nlines", "a, comma"]
    frame = pd.DataFrame({"text": texts, "label": ["a", "b", "a", "b", "a"]})
    for suffix in (".csv", ".tsv"):
        path = tmp_path / f"written{suffix}"
        write(frame, path)
        assert load_data(own(path, path), seed=0).train["text"] == texts


def test_file_problems(tmp_path):
    (tmp_path / "train.txt").write_text("text,label\n")
    with pytest.raises(CliError, match=r"train.txt: cannot tell its format from the name; use .csv, .tsv, .jsonl"):
        load_data(own(tmp_path / "train.txt", tmp_path / "train.txt"), seed=0)
    with pytest.raises(CliError, match=r"nowhere.csv: no such file$"):
        load_data(own(tmp_path / "nowhere.csv", tmp_path / "nowhere.csv"), seed=0)
    (tmp_path / "broken.jsonl").write_text('{"text": "a", "label": 1}\n{"text": \n')
    with pytest.raises(CliError, match=r"broken.jsonl:2: cannot read it as JSON Lines \("):
        load_data(own(tmp_path / "broken.jsonl", tmp_path / "broken.jsonl"), seed=0)
    (tmp_path / "mixed.jsonl").write_text('{"text": "a", "label": 1}\n{"text": "b", "label": "x"}\n')
    with pytest.raises(CliError, match=r"mixed.jsonl, column 'label': (labels mix integers and strings|cannot read)"):
        load_data(own(tmp_path / "mixed.jsonl", tmp_path / "mixed.jsonl"), seed=0)


@pytest.mark.parametrize("argv, message", [
    (["--train_file", "t.csv"], "train_file needs validation_file (or eval_split holdout, to hold out part of it)"),
    (["--train_file", "t.csv", "--data_dir", "x"], "data_dir and train_file name two data sources; give one"),
    (["--text_column", "body"], "text_column applies to your own data: give --train_file or --dataset_name"),
    (["--dataset_config_name", "sst2"], "dataset_config_name applies to a Hub dataset: give --dataset_name"),
    (["--dataset_name", "nyu-mll/glue", "--validation_file", "d.csv"], "validation_file goes with --train_file"),
    (["--train_file", "t.csv", "--validation_file", "d.csv", "--eval_split", "holdout"],
     "validation_file and eval_split holdout both name the evaluation data; give one"),
    (["--train_file", "t.csv", "--validation_file", "d.csv", "--class_names", "one"], "class_names takes two or more"),
    (["--label_names", "pos", "neg"], "label_names (the Trainer's label columns) is set by the suite"),
    (["--class_weight_values", "1", "-2"], "class_weight_values takes positive weights, one per class"),
])
def test_option_combinations_that_cannot_work_exit_2(argv, message, capsys, tmp_path):
    assert train.main([*argv, "--output_dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_bad_data_through_the_cli_exits_2_before_a_model_loads(tmp_path):
    write(pd.DataFrame(GOOD), tmp_path / "train.csv")
    write(pd.DataFrame({"text": ["ok", "fine"], "label": ["a", "z"]}), tmp_path / "dev.csv")
    proc = subprocess.run(
        [sys.executable, "train.py", "--model_name_or_path", "no-such-org/no-such-model", "--train_file",
         str(tmp_path / "train.csv"), "--validation_file", str(tmp_path / "dev.csv"), "--text_column", "text",
         "--output_dir", str(tmp_path / "out")],
        cwd=REPO, capture_output=True, text=True, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    # the data error, not the (unloadable) model's: the data is read first
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {tmp_path}/dev.csv, row 2, column 'label': label 'z' is not among the training split's labels: a, b")
    assert not (tmp_path / "out").exists()


# --- whole runs through train.py ---

def _run_argv(model_dir, out, *extra):
    return ["--model_name_or_path", str(model_dir), "--output_dir", str(out), "--max_train_samples", "48",
            "--max_eval_samples", "40", "--max_steps", "3", "--per_device_train_batch_size", "16", "--learning_rate", "1e-3",
            "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false", "--precision", "fp32",
            "--seed", "5", "--disable_tqdm", "true", *extra]


def _metrics(results: dict) -> dict:
    """Every evaluation figure of a results.json, timings left out."""
    return {section: {k: v for k, v in values.items() if k not in ("runtime_s", "samples_per_second")}
            for section, values in results.items() if section.startswith("eval")}


@pytest.fixture(scope="module")
def exported(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("export") / "cola"
    proc = subprocess.run([sys.executable, "docs/own_data/export_cola.py", "--data_dir", str(data_dir), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out


def test_cola_exported_to_csv_with_string_labels_gives_the_cola_paths_exact_metrics(exported, data_dir, tiny_bert_dir, tmp_path):
    assert train.main(_run_argv(tiny_bert_dir, tmp_path / "cola", "--data_dir", str(data_dir))) == 0
    csv_options = ["--train_file", str(exported / "train.csv"), "--validation_file", str(exported / "dev.csv"),
                   "--text_column", "sentence", "--label_column", "judgment", "--group_column", "domain",
                   "--class_names", "unacceptable", "acceptable"]
    assert train.main(_run_argv(tiny_bert_dir, tmp_path / "csv", *csv_options)) == 0
    cola = json.loads((tmp_path / "cola" / "results.json").read_text())
    own_data = json.loads((tmp_path / "csv" / "results.json").read_text())
    assert {"eval", "eval_in_domain", "eval_out_of_domain"} <= own_data.keys()
    assert _metrics(own_data) == _metrics(cola)  # exact: the same sentences, labels, domains and seed
    assert own_data["class_weights"] == cola["class_weights"]
    assert own_data["data"]["class_names"] == cola["data"]["class_names"] == ["unacceptable", "acceptable"]


def test_the_pair_path_gives_the_same_run_from_json_lines_and_parquet(exported, tiny_bert_dir, tmp_path, capsys):
    runs = {}
    for suffix in ("jsonl", "parquet"):
        options = ["--train_file", str(exported / f"train.{suffix}"), "--validation_file", str(exported / f"dev.{suffix}"),
                   "--text_pair_column", "source", "--group_column", "domain"]
        assert train.main(_run_argv(tiny_bert_dir, tmp_path / suffix, *options)) == 0
        runs[suffix] = json.loads((tmp_path / suffix / "results.json").read_text())
    assert _metrics(runs["jsonl"]) == _metrics(runs["parquet"])
    assert runs["jsonl"]["data"]["class_names"] == ["0", "1"]  # integer labels: their values, as names
    assert runs["jsonl"]["config"]["text_pair_column"] == "source"
    card = (tmp_path / "jsonl" / "README.md").read_text()
    assert "fine-tuned to sort texts and text pairs into 2 classes" in card
    assert 'classify({"text": "the first text", "text_pair": "its pair"})' in card  # how a pipeline takes a pair
    # cola.predict --pairs: each line is a text and its pair, encoded together as in training
    from cola.predict import load
    from cola.predict import main as predict_main

    capsys.readouterr()
    assert predict_main([str(tmp_path / "jsonl"), "--pairs", "The cat sat.\tgj04", "Sat cat the.\tbc01"]) == 0
    printed = [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()]
    assert [row[2:] for row in printed] == [["The cat sat.", "gj04"], ["Sat cat the.", "bc01"]]
    model, tokenizer = load(str(tmp_path / "jsonl"))
    with torch.inference_mode():
        probs = model(**tokenizer(["The cat sat."], ["gj04"], return_tensors="pt")).logits.softmax(-1)[0]
    assert printed[0][0] == model.config.id2label[int(probs.argmax())]
    assert float(printed[0][1]) == pytest.approx(float(probs.max()), abs=1e-4)
    assert predict_main([str(tmp_path / "jsonl"), "--pairs", "no tab here"]) == 2
    assert "--pairs: 'no tab here' is not a text and its pair separated by a tab" in capsys.readouterr().err


@pytest.fixture(scope="module")
def three_class_run(tmp_path_factory, tiny_bert_dir):
    """A 3-class run of train.py on CSV files with a group column and a labelled test file."""
    root = tmp_path_factory.mktemp("three")
    files = {name: write(three_class_frame(n, offset), root / f"{name}.csv")
             for name, n, offset in (("train", 20, 0), ("dev", 6, 100), ("test", 3, 200))}
    out = root / "run"
    argv = _run_argv(tiny_bert_dir, out, "--train_file", files["train"], "--validation_file", files["dev"], "--test_file",
                     files["test"], "--text_column", "text", "--group_column", "channel", "--freeze", "1")
    assert train.main(argv) == 0
    return out, argv


def test_three_classes_reach_results_the_saved_model_and_predict(three_class_run, capsys):
    out, _ = three_class_run
    results = json.loads((out / "results.json").read_text())
    names = ["billing", "login", "shipping"]
    assert results["data"]["class_names"] == names and results["data"]["group_names"] == ["email", "phone"]
    assert len(results["class_weights"]) == 3
    assert {f"f1_{n}" for n in names} | {f"predicted_{n}" for n in names} <= results["eval"].keys()
    assert results["eval_email"]["n"] + results["eval_phone"]["n"] == results["eval"]["n"] == 18
    assert results["test"]["n"] == 9 and "test_email" in results
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "billing", "1": "login", "2": "shipping"}
    assert config["label2id"] == {"billing": 0, "login": 1, "shipping": 2}
    from cola.predict import main as predict_main

    capsys.readouterr()
    assert predict_main([str(out), "my refund is missing"]) == 0
    label, probability, text = capsys.readouterr().out.strip().split("\t")
    assert label in names and 1 / 3 <= float(probability) <= 1 and text == "my refund is missing"
    from transformers import pipeline

    assert pipeline("text-classification", model=str(out))("my parcel is late")[0]["label"] in names


def test_test_predictions_csv_lists_every_test_row(three_class_run):
    out, _ = three_class_run
    table = pd.read_csv(out / "test_predictions.csv")
    expected = three_class_frame(3, 200)
    assert list(table.columns) == ["text", "label", "predicted", "probability"]
    assert table["text"].tolist() == expected["text"].tolist() and table["label"].tolist() == expected["label"].tolist()
    results = json.loads((out / "results.json").read_text())
    assert (table["label"] == table["predicted"]).mean() == pytest.approx(results["test"]["accuracy"])
    assert table["probability"].between(1 / 3, 1).all()
    # Each row is its own text's prediction (the evaluation reads shortest first: the rows are put back in order).
    alone = _one_by_one(out, table["text"].tolist())
    assert table["predicted"].tolist() == [label for label, _ in alone]
    assert table["probability"].tolist() == pytest.approx([p for _, p in alone], abs=2e-6)


def _one_by_one(model_dir, texts):
    from cola.predict import load, predict

    model, tokenizer = load(str(model_dir))
    return [(label, p) for text in texts for label, p, _ in predict(model.eval(), tokenizer, [text], batch_size=1)]


def test_eval_predictions_csv_holds_each_evaluation_row_in_file_order(three_class_run):
    out, _ = three_class_run
    table = pd.read_csv(out / "eval_predictions.csv", keep_default_na=False)
    dev = three_class_frame(6, 100)
    assert list(table.columns) == ["row", "group", "label", "predicted"] and table["row"].tolist() == list(range(18))
    assert table["label"].tolist() == dev["label"].tolist() and table["group"].tolist() == dev["channel"].tolist()
    assert table["predicted"].tolist() == [label for label, _ in _one_by_one(out, dev["text"].tolist())]
    results = json.loads((out / "results.json").read_text())
    assert (table["label"] == table["predicted"]).mean() == pytest.approx(results["eval"]["accuracy"])


def test_the_run_config_replays_the_data_source(three_class_run):
    from cola.recipes import parse_args

    out, _ = three_class_run
    replay = parse_args(["--recipe", str(out / "run_config.json")])
    assert replay.data.train_file.endswith("train.csv") and replay.data.group_column == "channel"
    assert replay.data.test_file.endswith("test.csv") and replay.data.text_column == "text"


def test_the_model_card_of_own_data_names_files_columns_classes_and_groups(three_class_run):
    from huggingface_hub import ModelCard

    out, argv = three_class_run
    card = ModelCard.load(out / "README.md")
    results = json.loads((out / "results.json").read_text())
    assert card.data.datasets is None and card.data.eval_results is None  # local files: nothing the Hub can link
    text = card.text
    assert "fine-tuned to sort texts into 3 classes" in text
    assert "- Source: local files: `" in text and "train.csv` (train)" in text and "test.csv` (test)" in text
    assert "- Columns: text `text`, label `label`, group `channel`" in text
    assert "- Classes (id: name): 0: billing, 1: login, 2: shipping" in text
    for section in ("eval_email", "eval_phone", "test", "test_email"):
        s = results[section]
        assert f"| {s['n']} | {s['matthews_correlation']:.4f} | {s['accuracy']:.4f} |" in text
    assert "- Freezing: bottom 1 of 5 layer groups frozen (embeddings;" in text and "- Seed: 5" in text
    assert f"python train.py {' '.join(argv)}" in text and 'classify("your text here")' in text


def test_seeds_and_compare_on_own_data(tmp_path, tiny_bert_dir):
    from cola.experiments import compare

    train_path, dev_path = (write(three_class_frame(n, o), tmp_path / f"{name}.jsonl")
                            for name, n, o in (("train", 12, 0), ("dev", 4, 100)))
    out = tmp_path / "sweep"
    argv = _run_argv(tiny_bert_dir, out, "--train_file", train_path, "--validation_file", dev_path, "--text_column", "text",
                     "--group_column", "channel", "--seeds", "1", "2")
    assert train.main(argv) == 0
    sweep = json.loads((out / "results.json").read_text())
    runs = [json.loads((out / f"seed_{s}" / "results.json").read_text()) for s in (1, 2)]
    for group in ("email", "phone"):
        values = sorted(r[f"eval_{group}"]["matthews_correlation"] for r in runs)
        assert sweep["aggregate"][group]["matthews_correlation"]["min"] == values[0]
    assert all((out / f"seed_{s}" / "README.md").is_file() for s in (1, 2))  # each seed's model has its card
    assert compare.main([str(out), "--out", str(tmp_path / "report")]) == 0
    rows = json.loads((tmp_path / "report" / "report.json").read_text())["runs"]
    assert rows[0]["seeds"] == [1, 2]


def test_resuming_an_own_data_run_is_exact_and_other_data_options_are_refused(tmp_path, tiny_bert_dir, capsys):
    from safetensors.torch import load_file

    train_path, dev_path = (write(three_class_frame(n, o), tmp_path / f"{name}.parquet")
                            for name, n, o in (("train", 12, 0), ("dev", 4, 100)))
    argv = _run_argv(tiny_bert_dir, tmp_path / "whole", "--train_file", train_path, "--validation_file", dev_path,
                     "--text_column", "text", "--text_pair_column", "reply", "--max_steps", "4", "--save_strategy", "steps",
                     "--save_steps", "2", "--save_total_limit", "5", "--freeze", "1")
    assert train.main(argv) == 0
    (tmp_path / "resumed").mkdir()
    (tmp_path / "whole" / "checkpoint-2").rename(tmp_path / "resumed" / "checkpoint-2")
    out = argv.index("--output_dir") + 1
    resumed = [*argv[:out], str(tmp_path / "resumed"), *argv[out + 1:], "--resume_from_checkpoint", "last"]
    other = [*resumed, "--class_names", "shipping", "login", "billing"]
    assert train.main(other) == 2
    assert "written by a run with other settings (class_names)" in capsys.readouterr().err
    assert train.main(resumed) == 0
    whole, again = (load_file(tmp_path / name / "model.safetensors") for name in ("whole", "resumed"))
    assert [k for k in whole if not torch.equal(whole[k], again[k])] == []
    r_whole, r_again = (json.loads((tmp_path / name / "results.json").read_text()) for name in ("whole", "resumed"))
    assert _metrics(r_whole) == _metrics(r_again)


def test_a_fifo_given_as_a_data_file_is_refused_not_waited_on(tmp_path, capsys):
    import os

    fifo = tmp_path / "train.csv"
    os.mkfifo(fifo)  # reading it would block until someone writes
    (tmp_path / "dev.csv").write_text("sentence,label\nhello,1\n")
    argv = ["--train_file", str(fifo), "--validation_file", str(tmp_path / "dev.csv"), "--output_dir", str(tmp_path / "out")]
    assert train.main(argv) == 2
    assert capsys.readouterr().err == (f"error: {fifo}: not a regular file (a FIFO, a socket or a device); save the data "
                                       "to a file\n")


@pytest.mark.parametrize("labels, message", [
    ([0, 1, "01", 1], r"labels mix integers and strings \(row 3: \"01\"\); use one kind"),  # "01" joined class 1
    ([0, 1, "1", 0], r"labels mix integers and strings \(row 3: \"1\"\); use one kind"),
    ([0, 1, True, 0], r"row 3, column 'label': a label must be an integer or a string, found true"),
    ([0, 1, [1], 0], r"row 3, column 'label': a label must be an integer or a string, found \[1\]"),
])
def test_json_lines_labels_keep_the_kind_they_were_written_as(tmp_path, labels, message):
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({"sentence": f"text {i}", "label": v}) + "\n" for i, v in enumerate(labels)))
    with pytest.raises(CliError, match=message):
        load_data(own(path, path, text_column="sentence"), seed=0)


def test_json_lines_texts_that_look_like_json_stay_texts(tmp_path):
    """`datasets`' reader typed a mixed column as JSON and decoded it: the texts "null" and "[1, 2]" were refused as
    not texts. Read as written, they are texts, and "01" stays a class of its own."""
    rows = [{"sentence": "null", "label": "01"}, {"sentence": "[1, 2]", "label": "1"}, {"sentence": 7, "label": "1"},
            {"sentence": "plain", "label": "01"}]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = load_data(own(path, path, text_column="sentence"), seed=0)
    assert data.train["text"] == ["null", "[1, 2]", "7", "plain"]
    assert data.class_names == ("01", "1") and data.train["labels"] == [0, 1, 1, 0]
    array = tmp_path / "train.json"
    array.write_text(json.dumps(rows))  # one JSON array: the same rows
    assert load_data(own(array, array, text_column="sentence"), seed=0).train["text"] == data.train["text"]
