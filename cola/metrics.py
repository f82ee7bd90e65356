"""`compute_metrics` for the Trainer: the repository's evaluate module, on the whole set and per group.

The group column travels as a second label (`columns.LABEL_COLUMNS`, the Trainer's `label_names`), so per-group
metrics are right whatever order predictions come back in (length-grouped batches, distributed gather). For CoLA
the groups are its two domains, which gives the keys `in_domain_matthews_correlation`, ...
"""

from __future__ import annotations

from pathlib import Path

import evaluate
import numpy as np
from transformers import EvalPrediction

from .columns import GROUP, LABEL, LABEL_COLUMNS
from .errors import CliError

METRIC_MODULE = Path(__file__).parent / "evaluate_modules" / "classification_scores.py"


def load_metric():
    return evaluate.load(str(METRIC_MODULE))


def metric_names(class_names: tuple[str, ...], metric=None) -> list[str]:
    """What compute_metrics reports for the whole set (a group's keys are these behind '<group>_'), in order.
    `metric`: the module if it is loaded already."""
    metric = metric or load_metric()
    return [*metric.compute(predictions=[0, 1], references=[0, 1], class_names=list(class_names)), "cross_entropy"]


def build_compute_metrics(class_names: tuple[str, ...], group_names: tuple[str, ...]):
    """Metrics over the whole evaluation set, and per group (keys `<group>_<metric>`) when it holds several."""
    metric = load_metric()
    # 5 shared keys and 2 per class (f1_<class>, predicted_<class>): fewer means a class name made two of them one
    if len(metric_names(class_names, metric)) < 5 + 2 * len(class_names):
        raise CliError(f"the class names {list(class_names)} make two metrics share a name (a class 'macro' gives "
                       f"f1_macro, which is macro-F1); rename the class (--class_names)")

    def scores(predictions, labels, losses) -> dict[str, float]:
        found = metric.compute(predictions=predictions, references=labels, class_names=list(class_names))
        found["cross_entropy"] = float(losses.mean())
        return found

    def compute_metrics(eval_pred) -> dict[str, float]:
        logits = eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
        columns = dict(zip(LABEL_COLUMNS, eval_pred.label_ids))
        labels, groups = (columns[name] for name in LABEL_COLUMNS)
        logits = np.asarray(logits, dtype=np.float64)
        predictions = logits.argmax(-1)
        # Kept for the run's eval_predictions.csv (in reading order: `columns.in_row_order` puts them in row order).
        compute_metrics.last = {"label": labels, "group": groups, "predicted": predictions}
        # Per-example cross-entropy from the gathered logits: exact under DDP, where the Trainer's own eval_loss
        # averages per-batch means that include the samples padded onto the last batch.
        log_probs = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
        losses = -log_probs[np.arange(len(labels)), labels]
        results = scores(predictions, labels, losses)
        present = np.unique(groups)
        if len(present) > 1:
            for g in present:
                mask = groups == g
                for key, value in scores(predictions[mask], labels[mask], losses[mask]).items():
                    name = f"{group_names[g]}_{key}"
                    if name in results:  # group 'f1' and class 'n': both 'f1_n'; refuse rather than overwrite
                        raise CliError(f"group '{group_names[g]}' and the metric names clash at '{name}'; rename the group")
                    results[name] = value
        return results

    compute_metrics.last = None
    return compute_metrics


def check_metric_for_best_model(name: str, compute_metrics, groups, num_labels: int) -> None:
    """Refuse, before training, a metric_for_best_model this run's evaluation will not report.

    The Trainer only finds out at the first evaluation, an epoch in. The names are read off `compute_metrics`
    itself, scored on one dummy prediction per class and group present, so they cannot drift from what it returns.
    Called whatever `name` is: the dummy call also refuses, before training, group names that clash with metric names.
    """
    present = np.unique(np.asarray(groups))
    labels = np.tile(np.arange(num_labels), len(present))
    columns = {LABEL: labels, GROUP: np.repeat(present, num_labels)}
    dummy = EvalPrediction(predictions=np.zeros((len(labels), num_labels)),
                           label_ids=tuple(columns[c] for c in LABEL_COLUMNS))
    reported = ["loss", *compute_metrics(dummy)]
    if name is not None and name.removeprefix("eval_") not in reported:
        raise CliError(
            f"--metric_for_best_model {name!r} is not reported by this run's evaluation; choose one of: "
            + ", ".join(reported)
        )
