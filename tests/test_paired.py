"""Paired MCC differences with bootstrap intervals (`cola.experiments.paired`), and compare's report of them and of
a rising floor, on real sweeps of the tiny BERT."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import sweep_argv
from sklearn.metrics import matthews_corrcoef

import train
from cola.experiments import compare
from cola.experiments.paired import mcc, paired_difference


@pytest.mark.parametrize("classes", [2, 3])
def test_the_vectorised_mcc_is_scikit_learns(classes):
    rng = np.random.default_rng(1)
    labels, predicted = rng.integers(0, classes, size=(50, 30)), rng.integers(0, classes, size=(50, 30))
    predicted[0] = 1  # one class predicted: undefined, 0 as scikit-learn gives
    labels[1] = predicted[1]  # perfect
    expected = [matthews_corrcoef(a, b) for a, b in zip(labels, predicted)]
    np.testing.assert_allclose(mcc(labels, predicted, classes), expected, atol=1e-12)


def _table(labels, predicted):
    names = np.array(["unacceptable", "acceptable"], dtype=object)
    return pd.DataFrame({"row": range(len(labels)), "group": "in_domain", "label": names[labels],
                         "predicted": names[predicted]})


def test_the_difference_is_paired_by_seed_and_its_interval_resamples_sentences():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=200)
    noisy = lambda p: np.where(rng.random(200) < p, 1 - labels, labels)  # noqa: E731 - wrong on a share p
    a = {seed: _table(labels, noisy(0.3)) for seed in (1, 2, 3)}
    b = {seed: _table(labels, noisy(0.15)) for seed in (2, 3, 4)}
    found = paired_difference(a, b)
    assert found["seeds"] == [2, 3]  # only the seeds both have
    expected = [matthews_corrcoef(b[s]["label"], b[s]["predicted"]) - matthews_corrcoef(a[s]["label"], a[s]["predicted"])
                for s in (2, 3)]
    assert found["per_seed"] == pytest.approx(expected) and found["mean"] == pytest.approx(np.mean(expected))
    assert found["low"] < found["mean"] < found["high"] and found["low"] > 0  # B is clearly better
    assert paired_difference(a, b) == found  # the bootstrap has its own generator: the same report twice
    same = paired_difference(a, {seed: table.copy() for seed, table in a.items()})
    assert (same["mean"], same["low"], same["high"]) == (0.0, 0.0, 0.0)
    assert paired_difference(a, {9: a[1]}) is None
    shifted = {2: _table(1 - labels, noisy(0.1))}
    with pytest.raises(ValueError, match="seed 2: the two runs were not scored on the same evaluation sentences"):
        paired_difference(a, shifted)


@pytest.fixture(scope="module")
def rising_sweep(tmp_path_factory, tiny_bert_dir, data_dir):
    out = tmp_path_factory.mktemp("rising") / "rising"
    assert train.main(sweep_argv(tiny_bert_dir, data_dir, out) + ["--progressive_freeze", "linear",
                                                                  "--progressive_freeze_every", "1",
                                                                  "--logging_steps", "1"]) == 0
    return out


def test_compare_pairs_runs_on_their_shared_seeds_and_shows_the_floor(seed_sweep, rising_sweep, tmp_path):
    out = tmp_path / "report"
    assert compare.main([str(seed_sweep), str(rising_sweep), "--out", str(out)]) == 0
    rows = json.loads((out / "report.json").read_text())["runs"]
    paired = rows[1]["paired"]
    mcc_of = {name: json.loads((folder / "results.json").read_text())["runs"] for name, folder in
              (("full", seed_sweep), ("rising", rising_sweep))}
    expected = [r["eval"]["matthews_correlation"] - f["eval"]["matthews_correlation"]
                for f, r in zip(mcc_of["full"], mcc_of["rising"])]
    assert paired["seeds"] == [3, 4] and paired["per_seed"] == pytest.approx(expected, abs=1e-9)
    assert paired["low"] <= paired["mean"] <= paired["high"]
    events = json.loads((rising_sweep / "seed_3" / "results.json").read_text())["plan"]["progressive"]["events"]
    assert rows[1]["floor_rises"]["3"] == [[e["step"], len(e["frozen_groups"])] for e in events]
    text = (out / "report.md").read_text()
    assert "## Against sweep, paired by seed" in text
    line = next(line for line in text.splitlines() if line.startswith("| rising | 2 |"))
    assert f"| {paired['mean']:+.3f} | {paired['low']:+.3f} to {paired['high']:+.3f} |" in line
    # 3 steps, a window a step, decisions from step 2: one rise, to every group below the top layer
    assert "rising (linear): to 3 groups in 1 rise, the last at step 2 (medians over seeds)" in text
    assert (out / "report_floor.png").stat().st_size > 10_000


def test_a_run_against_itself_differs_by_nothing(seed_sweep, tmp_path):
    out = tmp_path / "report"
    assert compare.main([str(seed_sweep), str(seed_sweep / "seed_3"), "--out", str(out)]) == 0
    paired = json.loads((out / "report.json").read_text())["runs"][1]["paired"]
    assert paired == {"seeds": [3], "per_seed": [0.0], "mean": 0.0, "low": 0.0, "high": 0.0}



def test_compare_tells_a_floor_from_where_it_started_and_draws_short_rising_runs(seed_sweep, tiny_bert_dir, data_dir,
                                                                                 tmp_path):
    """A `--freeze 2` run whose floor never rose ends at 2 groups, not 0; a short rising run that logged no loss still
    gets its floor drawn; the epochs of a run cut short read as three digits."""
    never = tmp_path / "never"
    assert train.main(sweep_argv(tiny_bert_dir, data_dir, never) + [
        "--max_train_samples", "112", "--freeze", "2", "--progressive_freeze", "linear", "--progressive_freeze_every",
        "1", "--progressive_freeze_start", "50"]) == 0
    out = tmp_path / "report"
    assert compare.main([str(seed_sweep), str(never), "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "2/5 rising (linear): to 2 groups in 0 rises (medians over seeds)" in text
    assert (out / "report_floor.png").is_file()  # no seed logged a loss (3 steps, logging every 50)
    row = next(line for line in text.splitlines() if line.startswith("| never |"))
    assert row.split(" | ")[2] == "0.429"  # 3 steps of an epoch of 7 (112 sentences, batches of 16)
