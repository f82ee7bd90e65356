"""MCC differences between two configurations, paired by seed, with a 95% bootstrap interval over the evaluation
sentences (for `cola.experiments.compare`).

Two sweeps that share seeds answer "does B score differently from A?" better than their medians do: seed s of A
and seed s of B start from the same head initialisation and read the data in the same order, so the difference
MCC_B(s) - MCC_A(s) leaves out much of what varies between seeds. The difference reported is the mean of those
paired differences over the shared seeds. Its interval resamples the evaluation sentences (with replacement,
independently for each seed, the same draw for A and B of a seed: the comparison stays paired) and recomputes the
mean paired difference each time; the 2.5th and 97.5th percentiles of 2,000 such draws are the interval. It says how
much the difference could move with another evaluation set of the same kind; the seeds it was measured on are the
seeds given (the per-seed differences are reported beside it, so their spread shows too).

The sentences come from each run's eval_predictions.csv (`cola.predict.write_eval_predictions`): its gold labels
must be the same, row by row, for both runs of a seed, or the pair is refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..run_files import EVAL_PREDICTIONS_FILE

DRAWS = 2000
SEED = 0  # the bootstrap's own generator: the same report twice gives the same interval


def mcc(labels: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """Matthews correlation (Gorodkin's k-class form, scikit-learn's) of each row of `labels` / `predicted` (class
    ids, shape (draws, n)); 0 where it is undefined (one class predicted or present), as scikit-learn gives."""
    labels, predicted = np.atleast_2d(labels), np.atleast_2d(predicted)
    n = labels.shape[1]
    true_counts = np.stack([(labels == k).sum(1) for k in range(classes)], 1).astype(np.float64)
    predicted_counts = np.stack([(predicted == k).sum(1) for k in range(classes)], 1).astype(np.float64)
    correct = (labels == predicted).sum(1).astype(np.float64)
    covariance = correct * n - (true_counts * predicted_counts).sum(1)
    spread = np.sqrt((n * n - (predicted_counts ** 2).sum(1)) * (n * n - (true_counts ** 2).sum(1)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(spread > 0, covariance / np.where(spread > 0, spread, 1.0), 0.0)


PREDICTION_COLUMNS = ("row", "group", "label", "predicted")


def read_predictions(folder: Path) -> pd.DataFrame | None:
    """A run's eval_predictions.csv (row, group, label, predicted), or None when it has none (an older run). A file
    that is not one (empty, not UTF-8, columns missing, no row) raises ValueError naming it."""
    path = Path(folder) / EVAL_PREDICTIONS_FILE
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path, keep_default_na=False, dtype=str, encoding="utf-8")
    except (ValueError, pd.errors.ParserError) as error:  # EmptyDataError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"{path}: not an eval_predictions.csv ({str(error).splitlines()[0][:80]})") from None
    missing = [column for column in PREDICTION_COLUMNS if column not in table.columns]
    if missing or table.empty:
        why = f"no {', '.join(missing)} column" if missing else "no row"
        raise ValueError(f"{path}: not an eval_predictions.csv ({why})")
    return table


def paired_difference(a: dict[int, pd.DataFrame], b: dict[int, pd.DataFrame], *, draws: int = DRAWS) -> dict | None:
    """B - A over the seeds both have: {seeds, per_seed, mean, low, high}; None when they share no seed with
    predictions. A seed whose two runs were not scored on the same sentences raises ValueError."""
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return None
    rng = np.random.default_rng(SEED)
    per_seed, resampled = [], np.zeros(draws)
    for seed in seeds:
        left, right = a[seed], b[seed]
        if len(left) != len(right) or not (left["label"].to_numpy() == right["label"].to_numpy()).all():
            raise ValueError(f"seed {seed}: the two runs were not scored on the same evaluation sentences")
        classes = sorted(set(left["label"]) | set(left["predicted"]) | set(right["predicted"]))
        ids = {name: i for i, name in enumerate(classes)}
        labels = left["label"].map(ids).to_numpy()
        pred_a, pred_b = left["predicted"].map(ids).to_numpy(), right["predicted"].map(ids).to_numpy()
        per_seed.append(float(mcc(labels, pred_b, len(classes))[0] - mcc(labels, pred_a, len(classes))[0]))
        rows = rng.integers(0, len(labels), size=(draws, len(labels)))
        resampled += mcc(labels[rows], pred_b[rows], len(classes)) - mcc(labels[rows], pred_a[rows], len(classes))
    resampled /= len(seeds)
    low, high = np.percentile(resampled, [2.5, 97.5])
    return {"seeds": seeds, "per_seed": per_seed, "mean": float(np.mean(per_seed)), "low": float(low),
            "high": float(high)}
