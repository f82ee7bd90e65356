"""One run, built: configuration -> data, model, layer groups, the plan of what trains, and the Trainer.

train.py, the benchmark (`cola.experiments.bench`) and the step profiler build their runs here, so what they
time is what users run: the same order, the same checks, the same Trainer. The order matters, and is kept here
once:

- the checkpoint to continue, if any, and its freeze floor, before the configuration is resolved (the floor is
  part of it), and the check that the checkpoint's run had the same configuration;
- the data, read and checked before any model is loaded (a bad file is reported in seconds, not after a download);
- the seed, then the model (the classification head is initialised from it), `--max_length` against its positions;
- class weights from the training split, the layer groups, the plan of what trains, applied before the Trainer
  builds its optimizer (which only takes parameters that require gradients).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from transformers import TrainerCallback, set_seed

from .checkpoints import check_same_run, resolve_checkpoint, stored_floor
from .class_weights import class_weights_for
from .columns import LABEL, TaskData
from .config import RunConfig
from .data import load_data, tokenize
from .lora import lora_plan
from .model import check_max_length, load_model_and_tokenizer
from .plan import TrainingPlan, adopt_checkpoint_floor, plan_from, supported_layer_groups
from .recipes import resolved_config
from .results import log_start_summary
from .tracking import check_reporting
from .trainer import ColaTrainer, build_trainer, check_optimizer_and_schedule

logger = logging.getLogger(__name__)


@dataclass
class Run:
    """A run ready to train: what `build_run` made, for train.py to train, evaluate and report."""

    config: RunConfig
    resolved: dict  # every option's final value (run_config.json)
    checkpoint: str | None  # the checkpoint it continues, or None
    data: TaskData
    model: object
    tokenizer: object
    plan: TrainingPlan
    trainer: ColaTrainer


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
    plan.apply()
    log_start_summary(model_name=config.model.model_name_or_path, model=model, data=data, class_weights=class_weights,
                      plan=plan, args=args)
    trainer = build_trainer(config, model=model, tokenizer=tokenizer, data=data, class_weights=class_weights,
                            plan=plan, resolved=resolved, callbacks=callbacks)
    return Run(config=config, resolved=resolved, checkpoint=checkpoint, data=data, model=model, tokenizer=tokenizer,
               plan=plan, trainer=trainer)
