"""What a run reports: the start summary in the log, and results.json in the output directory.

results.json is read by other tools: keep its keys stable. It is written once, at the end, atomically (a
temporary file renamed into place), so a half-finished run never leaves a results file behind.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path

from .data import DOMAINS, LABEL_NAMES
from .errors import CliError

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.json"
# results.json key -> compute_metrics key ("loss" is the exact per-example cross-entropy, see metrics.py)
_METRIC_KEYS = {
    key: key
    for key in ("matthews_correlation", "accuracy", "f1_macro", "f1_unacceptable", "f1_acceptable", "n", "predicted_acceptable")
}
_METRIC_KEYS["loss"] = "cross_entropy"
_VERSIONED = ("torch", "transformers", "datasets", "accelerate", "evaluate", "scikit-learn")


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def log_start_summary(*, model_name, model, data, class_weights, layer_groups) -> None:
    counts = data.class_counts()
    trainable, total = count_parameters(model)
    logger.info("Model: %s (%s), %s of %s parameters trainable", model_name, type(model).__name__, f"{trainable:,}", f"{total:,}")
    logger.info("Data: %s; train %d sentences, eval %d %s", data.data_dir, len(data.train), len(data.eval), data.domain_sizes())
    logger.info(
        "Class balance (train): %s",
        ", ".join(f"{name} {n} ({n / max(sum(counts), 1):.1%})" for name, n in zip(LABEL_NAMES, counts)),
    )
    logger.info("Class weights: %s", "none" if class_weights is None else ", ".join(f"{w:.4f}" for w in class_weights))
    logger.info("Layer groups (bottom to top):")
    for g in layer_groups:
        logger.info("  %-12s %12s params  %s", g.name, f"{g.num_params:,}", "frozen" if g.frozen else "trainable")


def eval_sections(metrics: dict) -> dict:
    """Flat Trainer metrics ('eval_in_domain_accuracy', ...) -> {'eval': {...}, 'eval_in_domain': {...}, ...}."""
    sections = {}
    for section, prefix in [("eval", "eval_")] + [(f"eval_{d}", f"eval_{d}_") for d in DOMAINS]:
        values = {key: metrics[prefix + name] for key, name in _METRIC_KEYS.items() if prefix + name in metrics}
        if values:
            sections[section] = values
    sections["eval"]["runtime_s"] = metrics.get("eval_runtime")
    sections["eval"]["samples_per_second"] = metrics.get("eval_samples_per_second")
    return sections


def train_section(train_output, state) -> dict:
    logged = [entry["loss"] for entry in state.log_history if "loss" in entry]
    return {
        "runtime_s": train_output.metrics.get("train_runtime"),
        "samples_per_second": train_output.metrics.get("train_samples_per_second"),
        "steps": state.global_step,
        "epochs": state.epoch,
        "final_loss": logged[-1] if logged else train_output.training_loss,
        "mean_loss": train_output.training_loss,
        "best_checkpoint": state.best_model_checkpoint,
    }


def versions() -> dict:
    found = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def ensure_writable(output_dir: str | Path) -> None:
    """Create the output directory and prove a file can be written there."""
    try:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=output_dir):
            pass
    except OSError as error:
        raise CliError(f"cannot write to output directory {output_dir}: {error.strerror}") from None


def write_results(results: dict, output_dir: str | Path) -> Path:
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=output_dir, prefix=".results-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    path = output_dir / RESULTS_FILE
    os.replace(tmp, path)
    return path
