"""What a run reports: the start summary in the log, and results.json in the output directory.

results.json is read by other tools (`cola.experiments.compare`, your notebooks): its keys are a contract, written
down in `cola.schema` with its version, and read back through `read_results`, which upgrades a file an earlier
suite wrote. It is assembled here, by `build_results`, and written once, at the end, atomically (a temporary file
renamed into place), so a half-finished run never leaves a results file behind.
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

from .errors import on_one_line
from .files import write_atomic
from .metrics import metric_names
from .run_files import RESULTS_FILE
from .schema import RESULTS_VERSION, RUN, SchemaError, upgrade_results

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
    base_model: dict  # {name, hub_id, license}: cola.model.base_model_record, for the model card


def run_report(*, plan, model, args, class_weights: list[float] | None, frozen_cache: dict,
               base_model: dict, frozen_since_start=()) -> RunReport:
    """The report of a run about to train: the plan applied, the cache built (or declined). `frozen_since_start`:
    the layer groups a resumed rising floor froze before the checkpoint; they trained at the start, which is what
    `trainable_parameters` counts (as for the same run uninterrupted)."""
    trainable, total = count_parameters(model)
    trainable += sum(param.numel() for group in frozen_since_start for _, param in group.parameters)
    summary = plan.summary()
    summary.setdefault("lora", None)  # the schema's key in every run (null: no adapters)
    return RunReport(class_weights=class_weights, layer_groups=plan.layer_group_table(),
                     unfreeze_after_steps=plan.unfreeze_schedule(), frozen_cache=frozen_cache,
                     trainable_parameters=trainable, total_parameters=total,
                     precision={"requested": args.requested["precision"], "used": args.precision}, plan=summary,
                     distributed=distributed_section(args), base_model=base_model)


def after_training(report: RunReport, *, frozen_cache: dict, floor_events: list[dict] | None) -> RunReport:
    """The report as the run ended: the cache as it was filled and grown, and a rising floor's events (each its
    step and the groups frozen after it: results.json `plan.progressive.events`)."""
    plan = report.plan
    if floor_events is not None:
        plan = {**plan, "progressive": {**plan["progressive"], "events": floor_events}}
    return dataclasses.replace(report, frozen_cache=frozen_cache, plan=plan)


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
        described = ", ".join(f"{key} {' '.join(map(str, value)) if isinstance(value, list) else value}"
                              for key, value in plan.adapters.summary().items())
        logger.info("Adapters (%s): %s; base weights of %s held", plan.adapters.kind, described,
                    ", ".join(plan.adapters.held))
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
    for row, group in zip(plan.layer_group_table(), plan.groups):
        state = still if row["frozen"] else "trainable"
        if plan.adapters and row["name"] in plan.adapters.held:
            state = f"held; {plan.adapters.kind} adapters ({plan.adapters.parameters_in(group):,}) train"
        logger.info("  %-12s %12s params  %s", row["name"], f"{row['params']:,}", state)


def build_results(report: RunReport, *, param_groups: list[dict], eval_metrics: dict, test_metrics: dict | None, data,
                  train_output, trainer_state, config: dict, step_seconds: dict | None = None,
                  resumed_from_step: int | None = None) -> dict:
    """The results.json document of one finished run (its schema: `cola.schema`); `param_groups` as
    the optimizer holds them (`param_group_table`). `resumed_from_step`: the checkpoint's step, for a resumed run
    (what the process that writes this measured covers the steps after it)."""
    reported = dataclasses.asdict(report)
    return {
        "schema_version": RESULTS_VERSION,
        "kind": RUN,
        **metric_sections(eval_metrics, "eval", data.class_names, data.group_names),
        **(metric_sections(test_metrics, "test", data.class_names, data.group_names) if test_metrics else {}),
        "data": {"source": data.source, "class_names": list(data.class_names), "group_names": list(data.group_names),
                 "rows": {name: len(split) for name, split in data.splits().items()}, "truncated": data.truncated},
        "train": {**train_section(train_output, trainer_state), "step_seconds": step_seconds,
                  "resumed_from_step": resumed_from_step},
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
    if (warning := single_class_warning(results)) is not None:
        logger.warning(warning)


def single_class_warning(results: dict) -> str | None:
    """Said in the log and in the model card of a run that collapsed (its MCC of 0 is no score at all), with what to
    try: class weights only where the run had none."""
    only = single_class(results["eval"])
    if only is None:
        return None
    weights = "" if results.get("class_weights") else ", or class weights (--class_weights)"
    return (f"The model predicts one class ('{only}') for every evaluation example: it learned nothing usable (MCC 0). "
            f"Try another learning rate or seed{weights}")


def single_class(eval_section: dict) -> str | None:
    """The class a run predicts for every evaluation example, or None (a class's predicted share is 1)."""
    shares = {key.removeprefix("predicted_"): value for key, value in eval_section.items() if key.startswith("predicted_")}
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
        "losses": [[entry["step"], entry["loss"]] for entry in state.log_history if "loss" in entry],
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


def read_results(path: str | Path) -> dict:
    """A results.json (one run's or a sweep's) in the current shape, whatever suite wrote it, every value its readers
    use checked (`cola.schema`). Raises OSError, or `cola.schema.SchemaError` (not JSON, not UTF-8, not such a file,
    a value of the wrong type or range, or a newer suite's)."""
    try:
        document = json.loads(Path(path).read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SchemaError(f"not a results.json (not UTF-8 JSON: {on_one_line(error, 80)})") from None
    return upgrade_results(document)
