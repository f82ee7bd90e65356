"""The Trainer a run trains with: `build_trainer` wires it (called by `cola.run.build_run`, for train.py and the
benchmark alike, and by the tests). It is handed what the run decided: the plan of what trains (required), the
class weights and the frozen-prefix cache the run built; it reports nothing itself (the run assembles the report).

`ColaTrainer` overrides three things of the Hugging Face Trainer:
- the loss (`loss.py`): class-weighted cross-entropy normalised over the whole optimizer step, right under
  gradient accumulation and DDP. `get_batch_samples` sees all micro-batches of a step before any forward pass,
  so it computes the step's total example weight and hands it to `compute_loss` as `num_items_in_batch`;
- the optimizer: named parameter groups with absolute per-group learning rates (`param_groups.py`);
- the scheduler: gradual-unfreezing gates on the Trainer's own schedule (`unfreezing.py`).

It also keeps the frozen groups in eval mode during training (`--frozen_eval_mode`), replays the frozen prefix
from the cache the run handed it (`frozen_cache.py`, used in `compute_loss`; `predict` runs the whole model: new
texts are not in the cache), raises the floor when a rising floor decides to (`raise_floor`, called by
`cola.progressive.RaiseTheFloor`), and reads evaluation and test sentences shortest first, in an order known from
their lengths, so that `predict` gives its rows back in the dataset's order.

transformers 5 assumes a model whose forward() takes **kwargs (all BERT-family heads) scales its own loss by
`num_items_in_batch` (it does not, upstream issue 47688). The loss here is computed in this class, so the
Trainer is told both facts explicitly: the model takes no loss kwargs, and the loss is already scaled.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import (
    DataCollatorWithPadding,
    PrinterCallback,
    ProgressCallback,
    Trainer,
    TrainerCallback,
)
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.trainer_utils import PredictionOutput

from .columns import GROUP, LABEL, NON_MODEL_COLUMNS, TaskData, eval_order, in_row_order
from .errors import CliError, on_one_line
from .files import readable
from .frozen_cache import CacheNotExact, FrozenPrefixCache
from .loss import example_weights, step_loss
from .metrics import build_compute_metrics, check_metric_for_best_model
from .model_card import write_model_card
from .optimizer_check import refuse_own_groups
from .param_groups import build_param_groups
from .plan import TrainingPlan
from .progress import PrinterLines, ProgressLines
from .progressive import FloorRise, RaiseTheFloor
from .run_files import WEIGHTS_FILES
from .tracking import prepare_wandb
from .unfreezing import gate_scheduler

logger = logging.getLogger(__name__)


def build_trainer(
    args,
    *,
    model,
    tokenizer,
    data: TaskData,
    plan: TrainingPlan,
    class_weights: list[float] | None = None,
    frozen_cache: FrozenPrefixCache | None = None,
    floor_rise: FloorRise | None = None,
    callbacks: tuple[TrainerCallback, ...] = (),
) -> ColaTrainer:
    """The run's Trainer: datasets, dynamic-padding collator, metrics, class weights, the plan, the cache, callbacks.

    The plan must be applied already (the optimizer only receives `requires_grad` parameters), a resumed rising
    floor too. `floor_rise`: the rising floor's state (`cola.progressive`), for a plan with one. `callbacks` are the
    run's (`cola.run.run_callbacks`), then any a caller adds (the benchmark's step timer).
    """
    compute_metrics = build_compute_metrics(data.class_names, data.group_names)
    check_metric_for_best_model(args.metric_for_best_model if args.eval_strategy != "no" else None, compute_metrics,
                                data.eval[GROUP], num_labels=len(data.class_names))
    prepare_wandb(args)  # W&B reads its environment when the Trainer creates its callback
    try:
        trainer = ColaTrainer(
            model=model,
            args=args,
            train_dataset=data.train,
            eval_dataset=data.eval,
            processing_class=tokenizer,
            data_collator=DataCollatorWithPadding(tokenizer),
            compute_metrics=compute_metrics,
            class_weights=class_weights,
            plan=plan,
            frozen_cache=frozen_cache,
            floor_rise=floor_rise,
        )
    except ValueError as error:  # the Trainer's own checks of its options (e.g. an unknown --report_to)
        raise CliError(f"the Trainer refused this configuration: {on_one_line(error)}") from None
    for stock, ours in ((ProgressCallback, ProgressLines), (PrinterCallback, PrinterLines)):
        if trainer.pop_callback(stock) is not None:
            trainer.add_callback(ours)
    if floor_rise is not None:
        trainer.add_callback(RaiseTheFloor(trainer, floor_rise))
    for callback in callbacks:
        trainer.add_callback(callback)
    return trainer


class ColaTrainer(Trainer):
    """The suite's Trainer: `plan` says what trains (`cola.plan`), `frozen_cache` (or None) replays the frozen
    prefix the run computed once (`cola.frozen_cache`)."""

    loss_is_scaled_for_ga = True

    def __init__(self, *args, plan: TrainingPlan, class_weights: list[float] | None = None,
                 frozen_cache: FrozenPrefixCache | None = None, floor_rise: FloorRise | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.model_accepts_loss_kwargs = False
        self.plan = plan
        self.class_weights = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32)
        self.frozen_cache = frozen_cache
        self.floor_rise = floor_rise
        self.cache_declined: str | None = None  # why a cache the floor outgrew was dropped
        self.model_card: str | None = None  # set by the run before its last save (see create_model_card)
        self.unfreeze_schedule = plan.unfreeze_schedule()
        self._check_ranks_agree_on_class_weights()
        # Switched back to eval mode at every training step: the Trainer's model.train() turns their dropout on.
        self.frozen_modules = plan.eval_mode_modules(self.model, floor_rise.floor if floor_rise else None)

    def _check_ranks_agree_on_class_weights(self) -> None:
        """Each process computes the weights from its own copy of the data: they must be the same everywhere."""
        if self.accelerator.num_processes == 1:
            return
        num_labels = self.accelerator.unwrap_model(self.model).config.num_labels
        mine = self.class_weights if self.class_weights is not None else torch.full((num_labels,), -1.0)
        everyone = self.accelerator.gather(mine.to(self.args.device).reshape(1, -1)).cpu()
        if not torch.equal(everyone, mine.reshape(1, -1).expand_as(everyone)):
            raise CliError(f"processes disagree on the class weights ({everyone.tolist()}): is the data the same everywhere?")

    # --- loss ---

    def get_batch_samples(self, epoch_iterator, num_batches, device):
        batches, _ = super().get_batch_samples(epoch_iterator, num_batches, device)
        total = torch.zeros(1, dtype=torch.float32, device=device)
        for batch in batches:
            total += example_weights(batch[LABEL], self.class_weights).sum().to(device)
        if self.accelerator.num_processes > 1:
            total = self.accelerator.gather(total).sum()
        return batches, total.reshape(())

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs[LABEL]
        if model.training:
            for module in self.frozen_modules:
                module.eval()
        model_inputs = {k: v for k, v in inputs.items() if k not in NON_MODEL_COLUMNS}
        states = self.frozen_cache.states_for(model_inputs) if self.frozen_cache else None
        with self.frozen_cache.replaying(states) if states is not None else contextlib.nullcontext():
            outputs = model(**model_inputs)
        if model.training:
            loss = step_loss(outputs.logits, labels, class_weights=self.class_weights, step_weight=num_items_in_batch,
                             label_smoothing=self.args.label_smoothing_factor,
                             num_processes=self.accelerator.num_processes)
        else:
            # Evaluation reports plain cross-entropy: comparable between weighted, unweighted and smoothed runs.
            loss = F.cross_entropy(outputs.logits.float(), labels)
        return (loss, outputs) if return_outputs else loss

    # --- optimizer ---

    def create_optimizer(self, model=None):
        if self.optimizer is not None:
            return self.optimizer
        opt_model = self.accelerator.unwrap_model(self.model if model is None else model)
        # Frozen parameters were set before this point, so they land in no group and the optimizer never holds them.
        groups = build_param_groups(
            opt_model,
            layer_groups=list(self.plan.groups),
            lr=self.args.learning_rate,
            weight_decay=self.args.weight_decay,
            decay_embeddings=self.args.decay_embeddings,
            no_decay_patterns=tuple(self.args.no_decay_patterns or ()),
            layer_lr_decay=self.args.layer_lr_decay,
            head_lr_multiplier=self.args.head_lr_multiplier,
            zero_lr_units=self.plan.zero_lr_units(),
        )
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        refuse_own_groups(self.args, optimizer_kwargs)
        self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        logger.info("Optimizer %s with %d parameter groups:", optimizer_cls.__name__, len(groups))
        for group in groups:
            logger.info("  %-20s weight_decay=%-8g lr=%-8g %3d tensors, %12s parameters", group["name"],
                        group["weight_decay"], group["lr"], len(group["params"]),
                        f"{sum(p.numel() for p in group['params']):,}")
        if self.unfreeze_schedule:
            order = ", ".join(f"{name} after {step}" for name, step in self.unfreeze_schedule.items() if step is not None)
            logger.info("Gradual unfreezing, optimizer steps before each group trains: %s", order)
        return self.optimizer

    # --- saving ---

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        """A run with adapters saves into its output folder what they give (LoRA: a plain model with the adapters
        merged in, and `adapter/` for PEFT); its checkpoints keep the model as it trains (adapters apart), which
        resuming needs. The weights get the permissions every other file of the run gets (the library writes them
        0600)."""
        output_dir = output_dir or self.args.output_dir
        adapters = self.plan.adapters
        final = Path(output_dir).resolve() == Path(self.args.output_dir).resolve()
        if adapters is None or not final or not self.args.should_save:  # a process that does not write returns there
            super()._save(output_dir, state_dict)
        else:
            trained, self.model = self.model, adapters.save(self.accelerator.unwrap_model(self.model), output_dir)
            try:
                super()._save(output_dir)
            finally:
                self.model = trained
        if self.args.should_save:
            for name in WEIGHTS_FILES:
                if (Path(output_dir) / name).is_file():
                    readable(Path(output_dir) / name)

    # --- the model card ---

    def create_model_card(self, *args, **kwargs):
        """`push_to_hub` writes the card it uploads here: the suite's own (`model_card.py`, set by the run as
        `self.model_card` before saving), not the Trainer's draft, which knows nothing of freezing or groups."""
        if self.is_world_process_zero() and self.model_card:
            write_model_card(self.model_card, self.args.output_dir)

    # --- the order training reads sentences in ---

    def _get_train_sampler(self, train_dataset=None):
        """transformers' length-grouped order, drawn from the run's seed and the epoch alone (see
        `EpochSeededLengthGroupedSampler`); the other strategies as the Trainer makes them."""
        sampler = super()._get_train_sampler(train_dataset)
        if type(sampler) is LengthGroupedSampler:
            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            return EpochSeededLengthGroupedSampler(sampler.batch_size, lengths=sampler.lengths, seed=seed)
        return sampler

    # --- the order evaluation reads sentences in ---

    def _get_eval_sampler(self, eval_dataset):
        """Evaluation and prediction read the sentences shortest first (little padding, as length-grouped batches
        give), in an order known from the lengths alone, so that each prediction can be put back in its row
        (`in_row_order`); the Trainer's own length-grouped evaluation order is random, and it would have every
        per-row output (test_predictions.csv, eval_predictions.csv) name the wrong sentences. Under DDP accelerate
        shards these batches and gathers them back in this order."""
        if eval_dataset is None or "input_ids" not in eval_dataset.column_names:
            return super()._get_eval_sampler(eval_dataset)
        return eval_order(eval_dataset).tolist()

    def predict(self, test_dataset, *args, **kwargs):
        """The predictions in the dataset's row order (the Trainer's own contract; they are read shortest first).
        New texts (the test split) run the whole model: the cache holds the training and evaluation texts only,
        and would warn of each text it does not hold."""
        cache, self.frozen_cache = self.frozen_cache, None
        try:
            output = super().predict(test_dataset, *args, **kwargs)
        finally:
            self.frozen_cache = cache

        def in_rows(values):
            if values is None or "input_ids" not in test_dataset.column_names:
                return values
            return tuple(map(in_rows, values)) if isinstance(values, tuple) else in_row_order(values, test_dataset)

        return PredictionOutput(predictions=in_rows(output.predictions), label_ids=in_rows(output.label_ids),
                                metrics=output.metrics)

    # --- a rising floor (cola.progressive) ---

    def raise_floor(self, floor: int) -> None:
        """The bottom `floor` groups are frozen from now on: the new ones stop getting gradients, go to eval mode,
        leave the optimizer (their AdamW state freed) and the schedule, and the frozen-layer cache grows over them."""
        start = self.floor_rise.floor
        newly = self.plan.groups[start:floor]
        for group in newly:
            for _, param in group.parameters:
                param.requires_grad_(False)
                param.grad = None
        names = {group.name for group in newly}
        optimizer = getattr(self.optimizer, "optimizer", self.optimizer)  # accelerate's wrapper holds the optimizer
        scheduler = getattr(self.lr_scheduler, "scheduler", self.lr_scheduler)
        kept = [i for i, group in enumerate(optimizer.param_groups) if group["unit"] not in names]
        for group in optimizer.param_groups:
            if group["unit"] in names:
                for param in group["params"]:
                    optimizer.state.pop(param, None)
        # A step schedule (the options refuse the others) holds one rate function and base rate per group.
        scheduler.lr_lambdas = [scheduler.lr_lambdas[i] for i in kept]
        scheduler.base_lrs = [scheduler.base_lrs[i] for i in kept]
        scheduler._last_lr = [scheduler._last_lr[i] for i in kept]
        optimizer.param_groups[:] = [optimizer.param_groups[i] for i in kept]
        self.frozen_modules = self.plan.eval_mode_modules(self.model, floor)
        if self.frozen_cache is not None:
            try:
                self.frozen_cache.set_floor(floor)
            except CacheNotExact as error:
                if self.plan.cache:
                    raise CliError(f"--cache_frozen: {error}") from None
                logger.warning("The frozen layers run at every step from now on (no cache): %s", error)
                self.frozen_cache, self.cache_declined = None, str(error)

    def agreed(self, values: list[float]) -> list[float]:
        """`values` averaged over the processes, so that every process decides alike."""
        if self.accelerator.num_processes == 1:
            return values
        mine = torch.tensor(values, dtype=torch.float64, device=self.args.device)
        return self.accelerator.reduce(mine, reduction="mean").cpu().tolist()

    def create_scheduler(self, num_training_steps, optimizer=None):
        if self.lr_scheduler is None:
            scheduler = super().create_scheduler(num_training_steps, optimizer)
            if self.unfreeze_schedule:
                self.lr_scheduler = gate_scheduler(scheduler, self.unfreeze_schedule)
        return self.lr_scheduler


class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
    """Length-grouped batches (`--train_sampling_strategy group_by_length`) in an order that is a function of the seed
    and the epoch. transformers' sampler draws it from the global RNG when an epoch starts, whose state there depends
    on every draw before it (dropout, the epochs before): a run resumed in its second epoch cannot replay those, so it
    read other batches than the uninterrupted run. The Trainer (through accelerate) sets the epoch before each one."""

    def __init__(self, batch_size: int, *, lengths: list[int], seed: int):
        super().__init__(batch_size, lengths=lengths, generator=torch.Generator())
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        self.generator.manual_seed(self.seed + self.epoch)
        return super().__iter__()
