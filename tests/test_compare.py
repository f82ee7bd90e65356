"""python -m cola.experiments.compare on real run directories: a two-seed sweep and a single run."""

import json

import pytest

from cola.experiments import compare


@pytest.fixture(scope="module")
def report(seed_sweep, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    assert compare.main([str(seed_sweep), str(seed_sweep / "seed_3"), "--out", str(out)]) == 0
    return out


def test_report_rows_come_from_the_results(report, seed_sweep):
    rows = json.loads((report / "report.json").read_text())["runs"]
    sweep = json.loads((seed_sweep / "results.json").read_text())
    single = json.loads((seed_sweep / "seed_3" / "results.json").read_text())
    assert [r["name"] for r in rows] == ["sweep", "seed_3"]
    assert rows[0]["seeds"] == [3, 4] and rows[1]["seeds"] == [3]
    assert rows[0]["aggregate"]["matthews_correlation"] == sweep["aggregate"]["matthews_correlation"]
    assert rows[1]["mcc_per_seed"] == [single["eval"]["matthews_correlation"]]
    assert rows[0]["layer_groups"] == 5 and rows[0]["freeze"] == 0 and rows[0]["class_weights"] is True
    assert rows[0]["degenerate"] == len(sweep["aggregate"]["degenerate_runs"])


def test_markdown_table_has_one_row_per_run(report, seed_sweep):
    text = (report / "report.md").read_text()
    header = next(line for line in text.splitlines() if line.startswith("| run | model"))
    for column in ("epochs", "LR", "batch", "checkpoint", "eval n", "freeze", "class weights", "LR decay", "trainable params",
                   "MCC median",
                   "MCC IQR", "accuracy", "degenerate", "train s/run", "samples/s"):
        assert f"| {column} |" in header, column
    rows = [line for line in text.splitlines() if line.startswith("| sweep |") or line.startswith("| seed_3 |")]
    assert len(rows) == 5  # the table, the paired comparison (seed_3 against the sweep) and the per-seed list
    median = json.loads((seed_sweep / "results.json").read_text())["aggregate"]["matthews_correlation"]["median"]
    # epochs: the 1 trained (--max_steps 3 of 16 on 48 sentences), not num_train_epochs' 3
    trainable = json.loads((seed_sweep / "seed_3" / "results.json").read_text())["trainable_parameters"]
    assert f"| {median:.3f} |" in rows[0]
    assert f"| 1 | 1.0e-3 | 16 | last | 0/5 | on | off | off | {trainable:,} | 2 | 40 |" in rows[0]
    assert "python -m cola.experiments.compare" in text


@pytest.mark.parametrize(
    "config, expected",
    [
        ({"load_best_model_at_end": False, "eval_strategy": "epoch", "metric_for_best_model": "matthews_correlation"}, "last"),
        ({"load_best_model_at_end": True, "eval_strategy": "no", "metric_for_best_model": "matthews_correlation"}, "last"),
        ({"load_best_model_at_end": True, "eval_strategy": "epoch", "metric_for_best_model": "matthews_correlation"},
         "best dev MCC"),
        ({"load_best_model_at_end": True, "eval_strategy": "steps",
          "metric_for_best_model": "eval_in_domain_matthews_correlation"}, "best in-domain MCC"),
        ({"load_best_model_at_end": True, "eval_strategy": "epoch", "metric_for_best_model": "accuracy"}, "best accuracy"),
    ],
)
def test_checkpoint_column_says_what_the_reported_checkpoint_was_chosen_on(config, expected):
    assert compare.checkpoint_choice(config) == expected


def test_figure_shows_every_seed_the_iqr_and_the_median(report, seed_sweep):
    import matplotlib.image

    rows = json.loads((report / "report.json").read_text())["runs"]
    ax_mcc, ax_time = compare.figure(rows).axes
    # One dot per seed, at its MCC, on its run's row.
    dots = [tuple(xy) for collection in ax_mcc.collections for xy in collection.get_offsets()]
    assert sorted(dots) == sorted((mcc, y) for y, row in enumerate(rows) for mcc in row["mcc_per_seed"])
    # Per run: the IQR band from q1 to q3, then the median bar.
    lines = [line.get_xdata().tolist() for line in ax_mcc.get_lines()]
    for y, row in enumerate(rows):
        agg = row["aggregate"]["matthews_correlation"]
        assert lines[2 * y] == [agg["q1"], agg["q3"]] and lines[2 * y + 1] == [agg["median"]] * 2
    assert [label.get_text() for label in ax_mcc.get_yticklabels()] == ["sweep", "seed_3"]
    assert [bar.get_width() for bar in ax_time.patches] == [row["aggregate"]["train_runtime_s"]["median"] for row in rows]
    assert matplotlib.image.imread(report / "report.png").shape[2] in (3, 4)  # the file is a readable image


def test_not_a_run_directory_is_a_one_line_error(tmp_path, capsys):
    assert compare.main([str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path}: no results.json (not a finished run of train.py)\n"


def test_a_results_file_missing_keys_is_a_one_line_error(tmp_path, capsys):
    run = tmp_path / "odd"
    run.mkdir()
    (run / "results.json").write_text(json.dumps({"eval": {"matthews_correlation": 0.3}}))
    assert compare.main([str(run), "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == (f"error: {run / 'results.json'}: not the results.json of a train.py run "
                                       "(neither one run's, with eval and config, nor a sweep's, with runs and aggregate)\n")


def test_folders_with_the_same_name_are_told_apart_and_untrained_runs_flagged(seed_sweep, tmp_path):
    import shutil

    first, second = tmp_path / "a" / "seed_3", tmp_path / "b" / "seed_3"
    shutil.copytree(seed_sweep / "seed_3", first)
    shutil.copytree(seed_sweep / "seed_3", second)
    results = json.loads((second / "results.json").read_text())
    results["train"]["steps"] = 0  # as an older version could report a run that never trained
    (second / "results.json").write_text(json.dumps(results))
    out = tmp_path / "report"
    assert compare.main([str(first), str(second), "--out", str(out)]) == 0
    rows = json.loads((out / "report.json").read_text())["runs"]
    assert [r["name"] for r in rows] == ["a/seed_3", "b/seed_3"]
    assert [r["never_trained"] for r in rows] == [[], [3]]
    text = (out / "report.md").read_text()
    assert "| b/seed_3 (NEVER TRAINED: seed 3) |" in text and "| a/seed_3 |" in text


def test_a_file_given_as_a_run_folder(tmp_path, capsys):
    stray = tmp_path / "results.json"
    stray.write_text("{}")
    assert compare.main([str(stray), "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == f"error: {stray}: not a directory (give the output_dir of a train.py run)\n"


def test_runs_on_different_data_are_named_and_flagged(seed_sweep, tmp_path):
    """CoLA read from two folders is one data set; a run on your own files is another, and the report says so."""
    import shutil

    cola_a, cola_b, own = (tmp_path / name for name in ("cola_a", "cola_b", "own"))
    for run in (cola_a, cola_b, own):
        shutil.copytree(seed_sweep / "seed_3", run)
    for run, source in ((cola_b, "CoLA (/elsewhere/cola/raw)"), (own, "data/train.csv, data/dev.csv")):
        results = json.loads((run / "results.json").read_text())
        results["data"]["source"] = source
        (run / "results.json").write_text(json.dumps(results))
    same = tmp_path / "same"
    assert compare.main([str(cola_a), str(cola_b), "--out", str(same)]) == 0
    text = (same / "report.md").read_text()
    assert text.startswith("# Runs compared on CoLA\n") and "different data" not in text
    assert "| data |" not in text
    mixed = tmp_path / "mixed"
    assert compare.main([str(cola_a), str(own), "--out", str(mixed)]) == 0
    text = (mixed / "report.md").read_text()
    assert text.startswith("# Runs compared (on different data)\n")
    assert "different data** (CoLA; data/train.csv, data/dev.csv)" in text
    assert "| run | model | data | epochs |" in text
    own_row = next(line for line in text.splitlines() if line.startswith("| own |"))
    assert "| data/train.csv, data/dev.csv | 1 |" in own_row
    rows = json.loads((mixed / "report.json").read_text())["runs"]
    assert [r["data"] for r in rows] == ["CoLA", "data/train.csv, data/dev.csv"]


@pytest.mark.parametrize("twice", ["{run}/", "{run}/../{name}", "{link}"])
def test_the_same_run_given_twice_is_one_line(seed_sweep, tmp_path, capsys, twice):
    link = tmp_path / "link"
    link.symlink_to(seed_sweep / "seed_3")
    again = twice.format(run=seed_sweep / "seed_3", name="seed_3", link=link)
    assert compare.main([str(seed_sweep / "seed_3"), again, "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == f"error: {again} and {seed_sweep / 'seed_3'} are the same run; give each run once\n"
    assert not (tmp_path / "r").exists()


def test_runs_scored_on_different_subsets_are_flagged(seed_sweep, tmp_path, capsys):
    import shutil

    small = tmp_path / "small"
    shutil.copytree(seed_sweep / "seed_3", small)
    results = json.loads((small / "results.json").read_text())
    results["data"]["rows"]["eval"] = 7  # as --max_eval_samples 7 would have made it: the results and the predictions
    (small / "results.json").write_text(json.dumps(results))
    predictions = (small / "eval_predictions.csv").read_text().splitlines()
    (small / "eval_predictions.csv").write_text("\n".join(predictions[:8]) + "\n")
    assert compare.main([str(seed_sweep / "seed_3"), str(small), "--out", str(tmp_path / "r")]) == 0
    rows = json.loads((seed_sweep / "seed_3" / "results.json").read_text())["data"]["rows"]["eval"]
    note = (f"runs on CoLA were scored on evaluation sets of different sizes (seed_3 on {rows}, small on 7 rows; "
            "--max_eval_samples?): their scores are not comparable")
    unpaired = ("small is not paired with seed_3 (seed 3: the two runs were not scored on the same evaluation "
                "sentences)")
    err = capsys.readouterr().err
    assert f"note: {note}\n" in err and f"note: {unpaired}\n" in err  # a report with notes, not a refusal
    report = (tmp_path / "r" / "report.md").read_text()
    assert f"**Note:** {note}." in report and f"**Note:** {unpaired}." in report
    assert json.loads((tmp_path / "r" / "report.json").read_text())["runs"][1]["paired"] is None


@pytest.mark.parametrize("content, why", [
    (b"", "No columns to parse from file"), (b"row,group\n", "no label, predicted column"),
    (b"row,group,label,predicted\n", "no row"), (b"row,group,label,predicted\n0,\xff,a,b\n", "'utf-8' codec"),
])
def test_a_damaged_eval_predictions_file_is_one_line(seed_sweep, tmp_path, capsys, content, why):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(seed_sweep / "seed_3", run)
    (run / "eval_predictions.csv").write_bytes(content)
    assert compare.main([str(seed_sweep / "seed_4"), str(run), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {run / 'eval_predictions.csv'}: not an eval_predictions.csv (") and why in err
    assert err.count("\n") == 1


def test_a_folder_holding_files_of_the_reports_names_is_not_written_over(seed_sweep, tmp_path, capsys):
    out = tmp_path / "r"
    out.mkdir()
    (out / "report.md").write_text("my notes")
    assert compare.main([str(seed_sweep / "seed_3"), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"error: {out / 'report.md'} is not a report this tool wrote; choose another --out "
                                       "(or move it)\n")
    assert (out / "report.md").read_text() == "my notes"
    (out / "report.md").unlink()
    assert compare.main([str(seed_sweep / "seed_3"), "--out", str(out)]) == 0
    assert compare.main([str(seed_sweep / "seed_3"), "--out", str(out)]) == 0  # its own report: rewritten
