"""`compute_metrics` for the Trainer: the repository's evaluate module, on the whole set and per domain.

The `domain` column travels as a second label (`data.LABEL_COLUMNS`, the Trainer's `label_names`), so per-domain
metrics are right whatever order predictions come back in (length-grouped batches, distributed gather).
"""

from __future__ import annotations

from pathlib import Path

import evaluate
import numpy as np
from transformers import EvalPrediction

from .data import DOMAINS, LABEL_COLUMNS
from .errors import CliError

METRIC_MODULE = Path(__file__).parent / "evaluate_modules" / "cola_acceptability.py"


def load_metric():
    return evaluate.load(str(METRIC_MODULE))


def build_compute_metrics():
    metric = load_metric()

    def compute_metrics(eval_pred) -> dict[str, float]:
        logits = eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
        columns = dict(zip(LABEL_COLUMNS, eval_pred.label_ids))
        labels, domains = columns["labels"], columns["domain"]
        logits = np.asarray(logits, dtype=np.float64)
        predictions = logits.argmax(-1)
        # Per-example cross-entropy from the gathered logits: exact under DDP, where the Trainer's own eval_loss
        # averages per-batch means that include the samples padded onto the last batch.
        log_probs = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
        losses = -log_probs[np.arange(len(labels)), labels]
        results = metric.compute(predictions=predictions, references=labels)
        results["cross_entropy"] = float(losses.mean())
        present = np.unique(domains)
        if len(present) > 1:
            for d in present:
                mask = domains == d
                scores = metric.compute(predictions=predictions[mask], references=labels[mask])
                scores["cross_entropy"] = float(losses[mask].mean())
                results.update({f"{DOMAINS[d]}_{key}": value for key, value in scores.items()})
        return results

    return compute_metrics


def check_metric_for_best_model(name: str, compute_metrics, domains) -> None:
    """Refuse, before training, a metric_for_best_model this run's evaluation will not report.

    The Trainer only finds out at the first evaluation, an epoch in. The names are read off `compute_metrics`
    itself, scored on two dummy predictions per domain present, so they cannot drift from what it returns.
    """
    present = np.unique(np.asarray(domains))
    labels = np.tile([0, 1], len(present))
    columns = {"labels": labels, "domain": np.repeat(present, 2)}
    dummy = EvalPrediction(predictions=np.zeros((len(labels), 2)), label_ids=tuple(columns[c] for c in LABEL_COLUMNS))
    reported = ["loss", *compute_metrics(dummy)]
    if name.removeprefix("eval_") not in reported:
        raise CliError(
            f"--metric_for_best_model {name!r} is not reported by this run's evaluation; choose one of: "
            + ", ".join(reported)
        )
