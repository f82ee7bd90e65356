"""What a run reports: the start summary in the log, and results.json in the output directory.

results.json is read by other tools (`cola.experiments.compare`, your notebooks): keep its keys stable. It is
assembled here, by `build_results`, and written once, at the end, atomically (a temporary file renamed into
place), so a half-finished run never leaves a results file behind. Its schema:

    eval                    {matthews_correlation, accuracy, f1_macro, f1_<class> per class, loss, n,
                             predicted_<class> per class (the share predicted as it), runtime_s, samples_per_second}
                             on the whole evaluation set; CoLA's classes are unacceptable and acceptable
    eval_<group>            the same metrics per group, when the evaluation set has several: for CoLA's GLUE dev set
                             eval_in_domain and eval_out_of_domain; for your data, one per --group_column value
    test, test_<group>      the same for a labelled --test_file / --test_split (absent otherwise)
    data                    {source, label_names, group_names, rows: {split: n}, truncated: {split: texts cut to
                             max_length}}
    train                   {runtime_s, samples_per_second, steps, epochs, final_loss, mean_loss, best_checkpoint}
    class_weights           [w_unacceptable, w_acceptable], or null
    layer_groups            [{name, params, frozen}], bottom to top
    param_groups            [{name, weight_decay, lr, params: [parameter names]}], head first; lr = initial rate
    unfreeze_after_steps    {group: optimizer steps before it trains (null below --freeze)}, or null
    frozen_cache            {used: true, groups, sentences, distinct_sentences, bytes, where, build_seconds}, or
                              {used: false, reason}: whether the frozen groups ran once (cola.frozen_cache)
    trainable_parameters,   counts
      total_parameters
    precision               {requested: what the options asked for ("auto", ...), used: fp32, bf16 or fp16}
    config                  the resolved configuration, as in run_config.json
    versions                Python and library versions

A multi-seed sweep writes its own summary document at the top of its folder (`cola.experiments.seeds`).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path

from .freezing import layer_group_table
from .metrics import metric_names

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.json"
# results.json key -> compute_metrics key ("loss" is the exact per-example cross-entropy, see metrics.py)
_VERSIONED = ("torch", "transformers", "datasets", "accelerate", "evaluate", "scikit-learn")


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def log_start_summary(*, model_name, model, data, class_weights, layer_groups) -> None:
    counts = data.class_counts()
    trainable, total = count_parameters(model)
    logger.info("Model: %s (%s), %s of %s parameters trainable", model_name, type(model).__name__, f"{trainable:,}", f"{total:,}")
    logger.info("Data: %s; train %d examples, eval %d %s", data.source, len(data.train), len(data.eval), data.group_sizes())
    logger.info(
        "Class balance (train): %s",
        ", ".join(f"{name} {n} ({n / max(sum(counts), 1):.1%})" for name, n in zip(data.label_names, counts)),
    )
    logger.info("Class weights: %s", "none" if class_weights is None else ", ".join(f"{w:.4f}" for w in class_weights))
    logger.info("Layer groups (bottom to top):")
    for g in layer_groups:
        logger.info("  %-12s %12s params  %s", g.name, f"{g.num_params:,}", "frozen" if g.frozen else "trainable")


def build_results(
    *, eval_metrics: dict, test_metrics: dict | None = None, data, train_output, trainer_state, class_weights,
    layer_groups, param_groups: list[dict], unfreeze_after_steps, frozen_cache: dict, model, training_args, config: dict,
) -> dict:
    """The results.json document of one finished run (the schema is in this module's docstring)."""
    trainable, total = count_parameters(model)
    return {
        **metric_sections(eval_metrics, "eval", data.label_names, data.group_names),
        **(metric_sections(test_metrics, "test", data.label_names, data.group_names) if test_metrics else {}),
        "data": {"source": data.source, "label_names": list(data.label_names), "group_names": list(data.group_names),
                 "rows": {name: len(split) for name, split in data.splits().items()}, "truncated": data.truncated},
        "train": train_section(train_output, trainer_state),
        "class_weights": class_weights,
        "layer_groups": layer_group_table(layer_groups),
        "param_groups": param_groups,
        "unfreeze_after_steps": unfreeze_after_steps,
        "frozen_cache": frozen_cache,
        "trainable_parameters": trainable,
        "total_parameters": total,
        "precision": {"requested": training_args.requested["precision"], "used": training_args.precision},
        "config": config,
        "versions": versions(),
    }


def log_results(results: dict, path: Path) -> None:
    groups = [f"{name.replace('_', '-')} {results[f'eval_{name}']['matthews_correlation']:.4f}"
              for name in results["data"]["group_names"] if f"eval_{name}" in results]
    logger.info("MCC %.4f%s; results in %s", results["eval"]["matthews_correlation"],
                f" ({', '.join(groups)})" if groups else "", path)


def metric_sections(metrics: dict, prefix: str, label_names, group_names) -> dict:
    """Flat Trainer metrics ('eval_in_domain_accuracy', ...) -> {'eval': {...}, 'eval_in_domain': {...}, ...}.

    Keys are matched exactly (`metric_names`; compute_metrics refuses group names that would make them ambiguous).
    `loss` is compute_metrics' exact per-example cross-entropy (see metrics.py), not the Trainer's batch average."""
    sections, names = {}, metric_names(label_names)
    for section, start in [(prefix, f"{prefix}_"), *[(f"{prefix}_{g}", f"{prefix}_{g}_") for g in group_names]]:
        values = {("loss" if name == "cross_entropy" else name): metrics[start + name]
                  for name in names if start + name in metrics}
        if values:
            sections[section] = values
    sections[prefix]["runtime_s"] = metrics.get(f"{prefix}_runtime")
    sections[prefix]["samples_per_second"] = metrics.get(f"{prefix}_samples_per_second")
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
