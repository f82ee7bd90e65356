"""Which parameters train: one plan, built once from the options and the model's layer groups.

The freezing options (`--freeze`, `--freeze_method`, `--frozen_eval_mode`, `--cache_frozen`,
`--gradual_unfreeze_steps`, `--progressive_freeze` and its settings) are read here and nowhere else. Everything
that acts on what trains is handed the plan: the Trainer (which groups stay in eval mode, which get learning rate
0, when each group starts training, how high the floor may rise), the frozen-prefix cache (whether to try it),
checkpoints (the floor they store), results.json and the model card (what was frozen, and how). As Lightning's
`BaseFinetuning` keeps one policy object beside small helpers that know no command line (here `cola.freezing`:
`freeze_bottom`, `modules_of`, fastai's `freeze_to`), a new way of choosing what trains arrives as one more
function that returns such a plan. A method that trains small added weights beside held base weights fills the
plan's `adapters` with an object of the `Adapters` interface (LoRA's: `cola.lora.LoraAdapters`); nothing here, in
the Trainer or in the model loader knows which method it is.

The floor (`--freeze N`: the bottom N layer groups never train; with `--progressive_freeze` it rises from there
during the run) is called `floor` in every module.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from torch import nn

from .errors import CliError
from .freezing import LayerGroup, check_bottom_up, find_layer_groups, freeze_bottom, modules_of
from .progressive import ProgressiveFreezing, highest_floor
from .training_options import cache_obstacle
from .unfreezing import unfreeze_schedule

logger = logging.getLogger(__name__)


class Adapters(Protocol):
    """Small added weights that train beside base weights held still (LoRA: `cola.lora.LoraAdapters`). The plan
    asks it to hold the base weights, for its row of the layer-group table, for its summary, and what to save."""

    kind: str  # its key in the plan's summary (results.json `plan.<kind>`): "lora"
    held: tuple[str, ...]  # the groups above the floor whose base weights stay still, carrying adapters

    def hold(self, groups: tuple[LayerGroup, ...]) -> None:
        """Turn off the gradients of the held groups' base weights (the adapters' stay on)."""

    def table_row(self, group: LayerGroup) -> dict:
        """The keys it adds to a held group's row of results.json's `layer_groups`."""

    def parameters_in(self, group: LayerGroup) -> int:
        """How many of the group's parameters are adapters."""

    def summary(self) -> dict:
        """What it is, for results.json, the log and the model card."""

    def save(self, model: nn.Module, output_dir: str | Path) -> nn.Module:
        """Write its own files into the run's output folder and return the plain model to save beside them."""


@dataclass(frozen=True)
class TrainingPlan:
    """What trains, and how the rest is kept still. `floor`: the bottom groups that never train."""

    groups: tuple[LayerGroup, ...]  # bottom to top (`cola.freezing.find_layer_groups`)
    floor: int
    method: str  # "requires_grad" (no gradients) or "lr0" (in the optimizer at learning rate 0)
    eval_mode: bool  # the frozen groups in eval mode at every training step (no dropout)
    cache: bool | None  # the frozen prefix run once before training: None whenever exact, True insists, False never
    unfreeze_every: int | None  # gradual unfreezing: a group more every N optimizer steps, top-down to the floor
    adapters: Adapters | None = None  # above the floor only these train, beside the head (`cola.lora.lora_plan`)
    progressive: ProgressiveFreezing | None = None  # the floor rises during training (`cola.progressive`)

    @property
    def frozen_groups(self) -> tuple[LayerGroup, ...]:
        return self.groups[: self.floor]

    def apply(self, floor: int | None = None) -> None:
        """Set `requires_grad` on every layer group as planned (before the optimizer exists: it takes only the
        parameters that require gradients). `floor`: where a rising floor stands (a resumed run's), else the plan's."""
        freeze_bottom(list(self.groups), self.floor if floor is None else floor, method=self.method)
        if self.adapters:
            self.adapters.hold(self.groups)

    def why_not_cached(self) -> str | None:
        """Why the frozen prefix is not run once before training; None when the cache should be tried."""
        if self.cache is False:
            return "--cache_frozen false"
        if obstacle := cache_obstacle(freeze=self.floor, method=self.method, eval_mode=self.eval_mode,
                                      rising=self.progressive is not None):
            return obstacle[0]
        if any(not g.frozen for g in self.frozen_groups):
            return "the bottom groups are not frozen"
        return None

    def eval_mode_modules(self, model: nn.Module, floor: int | None = None) -> list[nn.Module]:
        """The modules switched back to eval mode at every training step (the Trainer's model.train() turns their
        dropout on); `floor`: where a rising floor is now (default: where it starts)."""
        floor = self.floor if floor is None else floor
        return modules_of(model, list(self.groups[:floor])) if self.eval_mode and floor else []

    def zero_lr_units(self) -> frozenset[str]:
        """Layer groups the optimizer holds at learning rate 0 (`--freeze_method lr0`)."""
        return frozenset(g.name for g in self.frozen_groups) if self.method == "lr0" else frozenset()

    def unfreeze_schedule(self) -> dict[str, int | None] | None:
        """Optimizer step at which each unit starts training (gradual unfreezing), or None."""
        if not self.unfreeze_every:
            return None
        return unfreeze_schedule([g.name for g in self.groups], every=self.unfreeze_every, floor=self.floor)

    def layer_group_table(self) -> list[dict]:
        """results.json's `layer_groups`: a group is frozen when the plan keeps it still, whatever the method."""
        rows = [{"name": g.name, "params": g.num_params, "frozen": i < self.floor} for i, g in enumerate(self.groups)]
        if self.adapters:  # the groups whose base weights are held still, and the adapters they carry
            for row, group in zip(rows, self.groups):
                if group.name in self.adapters.held:
                    row.update(self.adapters.table_row(group))
        return rows

    def summary(self) -> dict:
        """results.json's `plan`: what trains, in words other tools (compare, the model card) read."""
        return {"frozen_groups": [g.name for g in self.frozen_groups], "layer_groups": len(self.groups),
                "method": self.method, "frozen_eval_mode": self.eval_mode, "unfreeze_every": self.unfreeze_every,
                "progressive": self.progressive.summary() if self.progressive else None,
                **({self.adapters.kind: self.adapters.summary()} if self.adapters else {})}


SUPPORTED = ("BERT, RoBERTa, DistilBERT, ELECTRA, MPNet, DeBERTa(-v2/v3), ALBERT, XLM-RoBERTa, CamemBERT, ModernBERT, "
             "MobileBERT, ERNIE and encoders built like them")


def supported_layer_groups(model, name: str) -> list[LayerGroup]:
    """The model's layer groups, if it is an encoder whose groups run bottom-up (else a one-line error).

    An encoder is a model type transformers can pretrain with a masked-LM head: a decoder (GPT-2, Llama) reads
    left to right, and is not what the suite's questions are about."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    kind = model.config.model_type
    if kind not in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        raise CliError(f"cannot fine-tune '{name}' ({kind}): not an encoder (transformers has no masked-LM model of this "
                       f"type). Supported: {SUPPORTED}")
    try:
        groups = find_layer_groups(model)
        check_bottom_up(model, groups)
    except ValueError as error:
        raise CliError(f"cannot fine-tune '{name}' ({kind}): {error}. Supported: {SUPPORTED}") from None
    return groups


def plan_from(args, groups: list[LayerGroup]) -> TrainingPlan:
    """The plan the options ask for, on these layer groups; an out-of-range --freeze is a one-line error."""
    if not 0 <= args.freeze <= len(groups):
        names = ", ".join(g.name for g in groups)
        raise CliError(f"--freeze {args.freeze} is out of range: this model has {len(groups)} layer groups ({names}); "
                       f"use 0..{len(groups)}")
    return TrainingPlan(groups=tuple(groups), floor=args.freeze, method=args.freeze_method,
                        eval_mode=args.frozen_eval_mode, cache=args.cache_frozen,
                        unfreeze_every=args.gradual_unfreeze_steps or None,
                        progressive=progressive_from(args, groups))


def progressive_from(args, groups: list[LayerGroup]) -> ProgressiveFreezing | None:
    """The rising floor `--progressive_freeze` asks for, on these layer groups (None without it)."""
    if args.progressive_freeze is None:
        return None
    highest = highest_floor(groups)
    most = highest if args.progressive_freeze_max is None else args.progressive_freeze_max
    if not args.freeze < most <= highest:
        names = ", ".join(g.name for g in groups[:highest])
        raise CliError(f"--progressive_freeze_max {most} is out of range: the floor rises from --freeze {args.freeze} "
                       f"to at most {highest} groups on this model ({names}); the top layer and what runs after it "
                       f"keep training")
    return ProgressiveFreezing(mode=args.progressive_freeze, most=most, every=args.progressive_freeze_every,
                               start=args.progressive_freeze_start, percentile=args.progressive_freeze_percentile,
                               tolerance=args.progressive_freeze_tolerance)


def adopt_checkpoint_floor(args, stored: int | None, *, given: bool, checkpoint: str) -> None:
    """A resumed run trains the groups its checkpoint trained (the optimizer state only fits those): the stored
    floor is adopted, and a different one given explicitly is refused."""
    if stored is None:
        logger.warning("%s stores no freeze setting: resuming with --freeze %d as given", checkpoint, args.freeze)
        return
    if given and stored != args.freeze:
        raise CliError(f"{checkpoint} was trained with --freeze {stored}; resuming with --freeze {args.freeze} would "
                       f"hand the optimizer different parameters. Pass --freeze {stored} or leave --freeze out")
    if stored != args.freeze:
        logger.info("Resuming with the checkpoint's --freeze %d", stored)
    args.freeze = stored
