"""The Trainer subclass: class-weighted loss that is right under gradient accumulation, named param groups with
per-layer learning rates, and the gradual-unfreezing gates on the schedule.

Loss. The cross-entropy of an optimizer step is `sum(w[y_i] * ce_i) / sum(w[y_i])` over every example of
the step, across accumulation micro-batches and processes, exactly as one big batch would see it (with no
class weights, w = 1 and this is the plain mean). `get_batch_samples` sees all micro-batches of a step before
any forward pass, so it computes that denominator and hands it to `compute_loss` as `num_items_in_batch`.
Dividing a per-micro-batch mean by the number of micro-batches instead, the Trainer's fallback, weights
micro-batches with few heavy examples too much.

transformers 5 assumes a model whose forward() takes **kwargs (all BERT-family heads) scales its own loss by
`num_items_in_batch` (it does not, upstream issue 47688). The loss here is computed in this class, so the
Trainer is told both facts explicitly: the model takes no loss kwargs, and the loss is already scaled.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from transformers import Trainer

from .errors import CliError
from .freezing import find_layer_groups
from .param_groups import build_param_groups, param_group_table
from .unfreezing import LogUnfreezing, gate_scheduler, unfreeze_schedule

logger = logging.getLogger(__name__)

# Columns the collator passes along that the model's forward() must not receive.
NON_MODEL_INPUTS = ("labels", "domain", "length")


class ColaTrainer(Trainer):
    loss_is_scaled_for_ga = True

    def __init__(self, *args, class_weights: list[float] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.model_accepts_loss_kwargs = False
        self.class_weights = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32)
        self.param_group_table: list[dict] = []
        self.unfreeze_schedule: dict[str, int | None] | None = None
        if self.args.gradual_unfreeze_steps:
            # From the model as frozen now (--freeze is applied before the Trainer exists): the floor stays frozen.
            self.unfreeze_schedule = unfreeze_schedule(
                [g.name for g in find_layer_groups(self.model)], every=self.args.gradual_unfreeze_steps, floor=self.args.freeze
            )
            self.add_callback(LogUnfreezing(self.unfreeze_schedule))
        self._check_ranks_agree_on_class_weights()

    def _check_ranks_agree_on_class_weights(self) -> None:
        """Each process computes the weights from its own copy of the data: they must be the same everywhere."""
        if self.accelerator.num_processes == 1:
            return
        mine = self.class_weights if self.class_weights is not None else torch.full((2,), -1.0)
        everyone = self.accelerator.gather(mine.to(self.args.device).reshape(1, -1)).cpu()
        if not torch.equal(everyone, mine.reshape(1, -1).expand_as(everyone)):
            raise CliError(f"processes disagree on the class weights ({everyone.tolist()}): is the data the same everywhere?")

    # --- loss ---

    def example_weights(self, labels: torch.Tensor) -> torch.Tensor:
        if self.class_weights is None:
            return torch.ones(labels.shape, dtype=torch.float32, device=labels.device)
        return self.class_weights.to(labels.device)[labels]

    def get_batch_samples(self, epoch_iterator, num_batches, device):
        batches, _ = super().get_batch_samples(epoch_iterator, num_batches, device)
        total = torch.zeros(1, dtype=torch.float32, device=device)
        for batch in batches:
            total += self.example_weights(batch["labels"]).sum().to(device)
        if self.accelerator.num_processes > 1:
            total = self.accelerator.gather(total).sum()
        return batches, total.reshape(())

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs["labels"]
        outputs = model(**{k: v for k, v in inputs.items() if k not in NON_MODEL_INPUTS})
        # fp32 whatever the autocast dtype, so the weights and the softmax do not round away small differences.
        logits = outputs.logits.float()
        if not model.training:
            # Evaluation reports plain cross-entropy: comparable between weighted, unweighted and smoothed runs.
            loss = F.cross_entropy(logits, labels)
        else:
            # This loss replaces the Trainer's, so its label smoother would never run: smooth here instead.
            losses = F.cross_entropy(logits, labels, reduction="none", label_smoothing=self.args.label_smoothing_factor)
            weights = self.example_weights(labels)
            if num_items_in_batch is None:
                loss = (losses * weights).sum() / weights.sum()
            else:
                # DDP averages gradients over processes; the denominator is already global, so undo that average.
                loss = (losses * weights).sum() / num_items_in_batch * self.accelerator.num_processes
        return (loss, outputs) if return_outputs else loss

    # --- optimizer ---

    def create_optimizer(self, model=None):
        if self.optimizer is not None:
            return self.optimizer
        opt_model = self.accelerator.unwrap_model(self.model if model is None else model)
        # Frozen parameters were set before this point, so they land in no group and the optimizer never holds them.
        groups = build_param_groups(
            opt_model,
            layer_groups=find_layer_groups(opt_model),
            lr=self.args.learning_rate,
            weight_decay=self.args.weight_decay,
            decay_embeddings=self.args.decay_embeddings,
            no_decay_patterns=tuple(self.args.no_decay_patterns or ()),
            layer_lr_decay=self.args.layer_lr_decay,
            head_lr_multiplier=self.args.head_lr_multiplier,
        )
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        if {"params", "model", "optimizer_dict"} & optimizer_kwargs.keys():
            raise CliError(f"--optim {self.args.optim} builds its own parameter groups; the suite cannot use it")
        self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        self.param_group_table = param_group_table(groups)
        logger.info("Optimizer %s with %d parameter groups:", optimizer_cls.__name__, len(groups))
        for row in self.param_group_table:
            logger.info(
                "  %-20s weight_decay=%-8g lr=%-8g %s", row["name"], row["weight_decay"], row["lr"], ", ".join(row["params"])
            )
        if self.unfreeze_schedule:
            order = ", ".join(f"{name} after {step}" for name, step in self.unfreeze_schedule.items() if step is not None)
            logger.info("Gradual unfreezing, optimizer steps before each group trains: %s", order)
        return self.optimizer

    def create_scheduler(self, num_training_steps, optimizer=None):
        if self.lr_scheduler is None:
            scheduler = super().create_scheduler(num_training_steps, optimizer)
            if self.unfreeze_schedule:
                self.lr_scheduler = gate_scheduler(scheduler, self.unfreeze_schedule)
        return self.lr_scheduler
