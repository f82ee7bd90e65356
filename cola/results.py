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
    data                    {source, class_names, group_names, rows: {split: n}, truncated: {split: texts cut to
                             max_length}}
    train                   {runtime_s, samples_per_second, steps, epochs, final_loss, mean_loss, best_checkpoint}
    class_weights           [w_unacceptable, w_acceptable], or null
    layer_groups            [{name, params, frozen}], bottom to top
    param_groups            [{name, weight_decay, lr, params: [parameter names]}], head first; lr = initial rate
    plan                    {frozen_groups: [names], layer_groups: n, method, frozen_eval_mode, unfreeze_every}: what
                              trained (`cola.plan`)
    distributed             {world_size, nodes, processes_per_node, global_batch}: processes x batch x accumulation
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

import dataclasses
import json
import logging
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .files import write_atomic
from .metrics import metric_names
from .run_files import RESULTS_FILE

logger = logging.getLogger(__name__)

# results.json key -> compute_metrics key ("loss" is the exact per-example cross-entropy, see metrics.py)
_VERSIONED = ("torch", "transformers", "datasets", "accelerate", "evaluate", "scikit-learn")


@dataclass(frozen=True)
class RunReport:
    """What a run decided beside its metrics, assembled once by the run before training (`run_report`) and read by
    results.json, W&B and the model card. Its fields are results.json keys of the same names; `param_groups` is read
    from the optimizer itself where it is written (`param_group_table`)."""

    class_weights: list[float] | None
    layer_groups: list[dict]  # TrainingPlan.layer_group_table()
    unfreeze_after_steps: dict[str, int | None] | None
    frozen_cache: dict  # the cache's summary, or why there is none
    trainable_parameters: int
    total_parameters: int
    precision: dict  # {requested, used}
    plan: dict  # TrainingPlan.summary()
    distributed: dict  # distributed_section(): processes, nodes, the global batch


def run_report(*, plan, model, args, class_weights: list[float] | None, frozen_cache: dict) -> RunReport:
    """The report of a run about to train: the plan applied, the cache built (or declined)."""
    trainable, total = count_parameters(model)
    return RunReport(class_weights=class_weights, layer_groups=plan.layer_group_table(),
                     unfreeze_after_steps=plan.unfreeze_schedule(), frozen_cache=frozen_cache,
                     trainable_parameters=trainable, total_parameters=total,
                     precision={"requested": args.requested["precision"], "used": args.precision}, plan=plan.summary(),
                     distributed=distributed_section(args))


def distributed_section(args) -> dict:
    """How many processes trained, on how many nodes, and the batch one optimizer step saw across all of them."""
    world = args.world_size
    per_node = max(1, min(world, int(os.environ.get("LOCAL_WORLD_SIZE", world))))  # set by torchrun and accelerate
    return {"world_size": world, "nodes": max(1, world // per_node), "processes_per_node": per_node,
            "global_batch": args.per_device_train_batch_size * args.gradient_accumulation_steps * world}


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def log_start_summary(*, model_name, model, data, class_weights, plan, args) -> None:
    counts = data.class_counts()
    trainable, total = count_parameters(model)
    logger.info("Model: %s (%s), %s of %s parameters trainable (%.2f%%)", model_name, type(model).__name__,
                f"{trainable:,}", f"{total:,}", 100 * trainable / max(total, 1))
    if plan.adapters:
        lora = plan.adapters
        logger.info("LoRA: rank %d, alpha %g, dropout %g, on %s: %d linear layers above the floor, %s adapter "
                    "parameters; base weights of %s held", lora.r, lora.alpha, lora.dropout, " ".join(lora.target_names),
                    len(lora.modules), f"{lora.parameters:,}", ", ".join(lora.held))
    logger.info("Data: %s; train %d examples, eval %d %s", data.source, len(data.train), len(data.eval), data.group_sizes())
    logger.info("Classes (labels read as %s): %s", data.labels_read_as,
                ", ".join(f"{i} = {name!r}" for i, name in enumerate(data.class_names)))
    logger.info(
        "Class balance (train): %s",
        ", ".join(f"{name} {n} ({n / max(sum(counts), 1):.1%})" for name, n in zip(data.class_names, counts)),
    )
    logger.info("Class weights: %s", "none" if class_weights is None else ", ".join(f"{w:.4f}" for w in class_weights))
    dist = distributed_section(args)
    logger.info("Processes: %d on %d node(s); global batch %d (%d per process x %d accumulation x %d processes)",
                dist["world_size"], dist["nodes"], dist["global_batch"], args.per_device_train_batch_size,
                args.gradient_accumulation_steps, dist["world_size"])
    logger.info("Layer groups (bottom to top):")
    still = "frozen" if plan.method == "requires_grad" else f"frozen ({plan.method})"
    for row in plan.layer_group_table():
        state = still if row["frozen"] else "trainable"
        if "lora_adapter_params" in row:
            state = f"held; LoRA adapters ({row['lora_adapter_params']:,}) train"
        logger.info("  %-12s %12s params  %s", row["name"], f"{row['params']:,}", state)


def build_results(report: RunReport, *, param_groups: list[dict], eval_metrics: dict, test_metrics: dict | None, data,
                  train_output, trainer_state, config: dict) -> dict:
    """The results.json document of one finished run (the schema is in this module's docstring); `param_groups` as
    the optimizer holds them (`param_group_table`)."""
    reported = dataclasses.asdict(report)
    return {
        **metric_sections(eval_metrics, "eval", data.class_names, data.group_names),
        **(metric_sections(test_metrics, "test", data.class_names, data.group_names) if test_metrics else {}),
        "data": {"source": data.source, "class_names": list(data.class_names), "group_names": list(data.group_names),
                 "rows": {name: len(split) for name, split in data.splits().items()}, "truncated": data.truncated},
        "train": train_section(train_output, trainer_state),
        "class_weights": reported.pop("class_weights"),
        "layer_groups": reported.pop("layer_groups"),
        "param_groups": param_groups,
        **reported,
        "config": config,
        "versions": versions(),
    }


def log_results(results: dict, path: Path) -> None:
    groups = [f"{name.replace('_', '-')} {results[f'eval_{name}']['matthews_correlation']:.4f}"
              for name in results["data"]["group_names"] if f"eval_{name}" in results]
    evaluation = results["eval"]
    logger.info("MCC %.4f, accuracy %.4f, macro F1 %.4f on %d examples%s; results in %s",
                evaluation["matthews_correlation"], evaluation["accuracy"], evaluation.get("f1_macro", float("nan")),
                evaluation.get("n", 0), f" ({', '.join(groups)})" if groups else "", path)
    if (only := single_class(evaluation)) is not None:
        logger.warning(SINGLE_CLASS_WARNING, only)


# Said in the log and in the model card of a run that collapsed: its MCC of 0 is no score at all.
SINGLE_CLASS_WARNING = ("The model predicts one class ('%s') for every evaluation example: it learned nothing "
                        "usable (MCC 0). Try another learning rate or seed, or class weights (--class_weights)")


def single_class(eval_section: dict) -> str | None:
    """The class a run predicts for every evaluation example, or None (a class's predicted share is 1).

    Files written before k classes (CoLA only) carry predicted_acceptable alone: 0 there is all-unacceptable."""
    shares = {key.removeprefix("predicted_"): value for key, value in eval_section.items() if key.startswith("predicted_")}
    if list(shares.values()) == [0.0]:
        return "unacceptable"
    return next((name for name, share in shares.items() if share == 1.0), None)


def metric_sections(metrics: dict, prefix: str, class_names, group_names) -> dict:
    """Flat Trainer metrics ('eval_in_domain_accuracy', ...) -> {'eval': {...}, 'eval_in_domain': {...}, ...}.

    Keys are matched exactly (`metric_names`; compute_metrics refuses group names that would make them ambiguous).
    `loss` is compute_metrics' exact per-example cross-entropy (see metrics.py), not the Trainer's batch average."""
    sections, names = {}, metric_names(class_names)
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
    return write_atomic(output_dir / RESULTS_FILE, json.dumps(results, indent=2) + "\n")
