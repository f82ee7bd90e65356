"""One run, whole: `train_and_report` is its life (claim the folder, build, train, check, save, evaluate, the
test split, results, card, resolved config, W&B), and `build_run` builds it: configuration -> data, model, layer
groups, the plan of what trains, and the Trainer.

`python train.py` / `python -m cola` (`cola.cli`) and every seed of a sweep run `train_and_report`; the benchmark
(`cola.experiments.bench`) and the step profiler build their runs with `build_run`, so what they time is what
users run: the same order, the same checks, the same Trainer. The order matters, and is kept here once:

- the checkpoint to continue, if any, and its freeze floor, before the configuration is resolved (the floor is
  part of it), and the check that the checkpoint's run had the same configuration;
- the data, read and checked before any model is loaded (a bad file is reported in seconds, not after a download);
- the seed, then the model (the classification head is initialised from it), `--max_length` against its positions;
- class weights from the training split, the layer groups, the plan of what trains (a rising floor where its
  checkpoint left it), applied before the Trainer builds its optimizer (which only takes parameters that require
  gradients);
- the frozen-prefix cache, set up on the applied plan (it fills as batches first hold each sentence), then the
  report of what the run decided, then the Trainer, handed the plan, the weights, the cache and the rising floor.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import transformers
from transformers import DataCollatorWithPadding, EarlyStoppingCallback, TrainerCallback, set_seed

from .checkpoints import SaveSuiteState, check_same_run, resolve_checkpoint, stored_floor, stored_floor_rise
from .class_weights import class_weights_for
from .columns import LABEL, TaskData
from .config import RunConfig
from .data import load_data, tokenize
from .divergence import weights_are_finite
from .errors import CliError, on_one_line
from .frozen_cache import CacheNotExact, FrozenPrefixCache
from .lora import lora_plan
from .model import base_model_record, check_max_length, load_model_and_tokenizer
from .model_card import model_card, write_model_card
from .optimizer_check import check_optimizer_and_schedule
from .output_dir import claim_output_dir
from .param_groups import param_group_table
from .plan import TrainingPlan, adopt_checkpoint_floor, plan_from, supported_layer_groups
from .precision import settle_auto_precision, training_autocast
from .predict import predict_test_split, write_eval_predictions
from .progress import StepClock
from .progressive import FloorRise
from .recipes import resolved_config, write_resolved_config
from .results import RunReport, after_training, build_results, log_results, log_start_summary, run_report, write_results
from .run_files import SUITE_STATE_FILE
from .tracking import SuiteTablesToWandb, check_reporting, finish_wandb_run, reports_to_wandb
from .trainer import ColaTrainer, build_trainer
from .unfreezing import LogUnfreezing

logger = logging.getLogger(__name__)


@dataclass
class Run:
    """A run ready to train: what `build_run` made, for `train_and_report` (or the bench) to train and report."""

    config: RunConfig
    resolved: dict  # every option's final value (run_config.json)
    checkpoint: str | None  # the checkpoint it continues, or None
    data: TaskData
    model: object
    tokenizer: object
    plan: TrainingPlan
    report: RunReport
    trainer: ColaTrainer


def check_trained(state, training_loss: float, model) -> None:
    """A run that took no optimizer step, or whose loss or weights stopped being numbers, did not finish: it is an
    error (exit status 1), never a results.json and a model that look like a finished run."""
    if state.global_step == 0:
        raise CliError("training took no optimizer step; no results.json or model was written", exit_code=1)
    losses = [(entry["step"], entry["loss"]) for entry in state.log_history if "loss" in entry]
    bad = next((step for step, loss in losses if not math.isfinite(loss)), None)
    if bad is not None or not math.isfinite(training_loss) or not weights_are_finite(model):
        where = f" by step {bad}" if bad is not None else ""
        raise CliError(f"training diverged: the loss or the weights became NaN or infinite{where} (a learning rate "
                       f"too high?); no results.json or model was written", exit_code=1)


def final_evaluation(trainer: ColaTrainer) -> dict:
    """The metrics of the model the run ends with. The Trainer's own last evaluation scored that model already when
    it came at the last step and the model was not swapped for an earlier best checkpoint (the usual case with one
    evaluation per epoch): reused then, instead of a second pass over the evaluation set (50 s at base size)."""
    state = trainer.state
    last = next((entry for entry in reversed(state.log_history) if "eval_loss" in entry), None)
    best = state.best_model_checkpoint
    kept = not trainer.args.load_best_model_at_end or (best and Path(best).name == f"checkpoint-{state.global_step}")
    if last is not None and last.get("step") == state.global_step and kept:
        logger.info("Final evaluation: the one at step %d (the model the run ends with)", state.global_step)
        return {key: value for key, value in last.items() if key != "step"}
    if trainer.frozen_cache is None or cache_fits_loaded_model(trainer):
        return trainer.evaluate()
    logger.info("Final evaluation of the best checkpoint (step %d) with the whole model: the floor rose after it, so "
                "the frozen-layer cache holds states of later weights", state.best_global_step)
    cache, trainer.frozen_cache = trainer.frozen_cache, None
    try:
        return trainer.evaluate()
    finally:
        trainer.frozen_cache = cache


def cache_fits_loaded_model(trainer: ColaTrainer) -> bool:
    """Whether the frozen-layer cache holds what the model now in the Trainer computes. A static floor's groups never
    change, so any checkpoint fits; under a rising floor, a best checkpoint loaded at the end fits only if it was
    saved with the floor where it ended (the groups frozen later still trained when it was saved)."""
    state, rise = trainer.state, trainer.floor_rise
    loaded_best = trainer.args.load_best_model_at_end and state.best_global_step is not None
    return rise is None or not loaded_best or rise.floor_at(state.best_global_step) == rise.floor


def resume_point(config: RunConfig) -> tuple[str | None, dict]:
    """The checkpoint this run continues (None for a fresh run) and the run's resolved configuration."""
    args = config.training
    checkpoint = resolve_checkpoint(args.resume_from_checkpoint, args.output_dir)
    if checkpoint:
        adopt_checkpoint_floor(args, stored_floor(checkpoint), given="freeze" in config.explicit, checkpoint=checkpoint)
    resolved = resolved_config(config)  # after the checkpoint's floor is adopted: it is part of it
    if checkpoint:
        check_same_run(checkpoint, resolved)
        logger.info("Continuing from %s (its weights, optimizer, schedule, data order and frozen floor)", checkpoint)
    return checkpoint, resolved


def build_run(config: RunConfig, *, callbacks: tuple[TrainerCallback, ...] = ()) -> Run:
    """Everything up to the first training step. `callbacks` go to the Trainer after the run's own."""
    args = config.training
    settle_auto_precision(args)  # here, not while parsing: the probe measures (and may write its cache)
    check_reporting(args)
    check_optimizer_and_schedule(args)
    checkpoint, resolved = resume_point(config)
    raw = load_data(config.data, seed=args.seed)
    set_seed(args.seed)  # before loading: the classification head is initialised here
    model, tokenizer = load_model_and_tokenizer(config.model.model_name_or_path, class_names=raw.class_names,
                                                trust_remote_code=config.model.trust_remote_code)
    check_max_length(model, config.data.max_length)
    data = tokenize(raw, tokenizer, config.data.max_length)
    tokenizer.model_max_length = config.data.max_length  # saved with the model: a pipeline truncates as training did
    class_weights = class_weights_for(data.train[LABEL], enabled=args.class_weights, values=args.class_weight_values,
                                      num_labels=len(data.class_names))
    groups = supported_layer_groups(model, config.model.model_name_or_path)
    plan = (lora_plan(args, model, groups, base_model=config.model.model_name_or_path) if args.lora_r
            else plan_from(args, groups))
    floor_rise = rising_floor(plan, checkpoint)
    plan.apply(floor_rise.floor if floor_rise else None)
    log_start_summary(model_name=config.model.model_name_or_path, model=model, data=data, class_weights=class_weights,
                      plan=plan, args=args)
    cache, cache_summary = frozen_prefix_cache(plan, model, data, tokenizer, args,
                                               floor=floor_rise.floor if floor_rise else None)
    report = run_report(plan=plan, model=model, args=args, class_weights=class_weights, frozen_cache=cache_summary,
                        base_model=base_model_record(config.model.model_name_or_path),
                        frozen_since_start=plan.groups[plan.floor:floor_rise.floor] if floor_rise else ())
    trainer = build_trainer(args, model=model, tokenizer=tokenizer, data=data, plan=plan, class_weights=class_weights,
                            frozen_cache=cache, floor_rise=floor_rise,
                            callbacks=(*run_callbacks(args, plan, resolved, report, floor_rise), *callbacks))
    return Run(config=config, resolved=resolved, checkpoint=checkpoint, data=data, model=model, tokenizer=tokenizer,
               plan=plan, report=report, trainer=trainer)


def rising_floor(plan: TrainingPlan, checkpoint: str | None) -> FloorRise | None:
    """The rising floor's state for a plan with one (`cola.progressive`): fresh, or where the checkpoint left it."""
    if plan.progressive is None:
        return None
    rise = FloorRise(plan.progressive, [g.name for g in plan.groups], plan.floor)
    stored = stored_floor_rise(checkpoint) if checkpoint else None
    if stored is not None:
        try:
            rise.load_state_dict(stored)
        except ValueError as error:
            raise CliError(f"{Path(checkpoint) / SUITE_STATE_FILE}: its rising floor cannot be continued "
                           f"({on_one_line(error)})") from None
        logger.info("Continuing the rising floor at %d of %d groups (%d event(s) so far)", rise.floor, len(plan.groups),
                    len(rise.events))
    return rise


def frozen_prefix_cache(plan: TrainingPlan, model, data: TaskData, tokenizer, args, *,
                        floor: int | None = None) -> tuple[FrozenPrefixCache | None, dict]:
    """The frozen groups' output kept per sentence over the training and evaluation texts, where the plan allows it
    and the result is exact (`cola.frozen_cache`), with the cache's summary for the report, or why there is none.
    `floor`: where a rising floor stands now (a resumed run's), else the plan's."""
    reason = plan.why_not_cached()
    if reason is not None:
        return None, {"used": False, "reason": reason}
    model.to(args.device)  # where the Trainer puts it: the prefix runs there, under the Trainer's autocast
    try:
        cache = FrozenPrefixCache(
            model, list(plan.groups), plan.floor if floor is None else floor, [data.train, data.eval],
            collate=DataCollatorWithPadding(tokenizer), device=args.device,
            autocast=lambda: training_autocast(args), memory_gb=args.cache_memory_gb, spill_dir=args.output_dir,
            progress=args.process_index == 0 and not args.disable_tqdm,
        )
    except CacheNotExact as error:
        if plan.cache:
            raise CliError(f"--cache_frozen: {error}") from None
        logger.warning("The frozen layers run at every step (no cache): %s", error)
        return None, {"used": False, "reason": str(error)}
    return cache, cache.summary()


def step_clock(trainer: ColaTrainer) -> StepClock:
    return next(c for c in trainer.callback_handler.callbacks if isinstance(c, StepClock))


def cache_summary(trainer: ColaTrainer, report: RunReport) -> dict:
    """The frozen-layer cache as the run ended (filled as it read the data, grown as its floor rose), or why there was
    none."""
    if trainer.frozen_cache is not None:
        return trainer.frozen_cache.summary()
    if trainer.cache_declined:
        return {"used": False, "reason": trainer.cache_declined}
    return report.frozen_cache


def run_callbacks(args, plan: TrainingPlan, resolved: dict, report: RunReport,
                  floor_rise: FloorRise | None = None) -> list[TrainerCallback]:
    """Every callback a run gets: the suite's state in each checkpoint (a rising floor's too), the step clock, the
    unfreezing log, the suite's tables in W&B, early stopping. (The rising floor's own callback is the Trainer's: it
    acts on the Trainer.)"""
    callbacks: list[TrainerCallback] = [SaveSuiteState(plan, resolved, floor_rise), StepClock()]
    if schedule := plan.unfreeze_schedule():
        callbacks.append(LogUnfreezing(schedule))
    if reports_to_wandb(args):
        callbacks.append(SuiteTablesToWandb(resolved_config=resolved, report=report))
    if args.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=args.early_stopping_patience))
    return callbacks


def train_and_report(config: RunConfig) -> int:
    """One training run, its whole life: claim the folder, build, train, evaluate, report."""
    args = config.training
    logging.getLogger().setLevel(logging.INFO if args.should_log else logging.WARNING)  # one process speaks
    transformers.logging.set_verbosity_warning()
    main_process = args.process_index == 0

    with claim_output_dir(args.output_dir, resuming=args.resume_from_checkpoint is not None,
                          overwrite=args.overwrite_run, is_main=main_process, reads=config.read_folders()):
        run = build_run(config)
        trainer = run.trainer
        if main_process and not run.checkpoint:
            # Now, so a crashed run's folder says how it was started; a resumed run's is rewritten only when it ends.
            write_resolved_config(run.resolved, args.output_dir)

        train_output = trainer.train(resume_from_checkpoint=run.checkpoint)
        check_trained(trainer.state, train_output.training_loss, run.model)
        # The trained model goes to disk before anything that can still fail (the final evaluation, the test split,
        # the reports): a crash there loses no training. _internal_call: not uploaded yet (--push_to_hub uploads
        # the folder once, below, with its card and results).
        trainer.save_model(_internal_call=True)
        eval_metrics = final_evaluation(trainer)
        write_eval_predictions(trainer, run.data, args.output_dir)
        test_metrics = predict_test_split(trainer, run.data, args.output_dir) if run.data.test is not None else None

        if main_process:
            report = after_training(run.report, frozen_cache=cache_summary(trainer, run.report),
                                    floor_events=trainer.floor_rise.events if trainer.floor_rise else None)
            results = build_results(report, param_groups=param_group_table(trainer.optimizer.param_groups),
                                    eval_metrics=eval_metrics, test_metrics=test_metrics, data=run.data,
                                    train_output=train_output, trainer_state=trainer.state, config=run.resolved,
                                    step_seconds=step_clock(trainer).summary(),
                                    resumed_from_step=step_clock(trainer).first_step if run.checkpoint else None)
            # push_to_hub writes this card into the folder it uploads (ColaTrainer.create_model_card).
            trainer.model_card = model_card(results, argv=config.argv, output_dir=args.output_dir)
            write_model_card(trainer.model_card, args.output_dir)
            write_resolved_config(run.resolved, args.output_dir)  # the run that wrote results.json, as it was configured
            log_results(results, write_results(results, args.output_dir))
        if args.push_to_hub:
            trainer.push_to_hub(commit_message="Model save", revision=args.hub_revision)
    finish_wandb_run(args)
    return 0
