"""Gradual unfreezing (ULMFiT), done as per-group learning-rate multipliers in the scheduler.

Training starts with only the head moving; every S optimizer steps the next layer group down joins it (pooler,
layer L-1, ..., embeddings), never below the `--freeze` floor, whose groups stay frozen for good.

Why multipliers rather than `requires_grad`: every group the run will ever train is in the optimizer, and in
DDP's gradient buckets, from step 0. A waiting group's rate is exactly 0, so AdamW moves it by nothing (its
decoupled weight decay, lr * wd, is 0 as well). The gate is a pure function of the step count, so every DDP
process computes the same rates, and a resumed run, whose scheduler step count comes from the checkpoint, picks
up the schedule where it stopped. Adding groups to the optimizer later would leave them out of the scheduler;
flipping `requires_grad` mid-run breaks DDP's reduction and the optimizer state a checkpoint holds.

Accepted side effects: waiting groups still get gradients (the backward pass is not shortened, unlike
`--freeze`), their gradients count in the clipping norm, and AdamW's moment estimates for them accumulate
while they wait, so a group joins with warm statistics instead of a cold start.
"""

from __future__ import annotations

import logging
import math

from torch.optim.lr_scheduler import LambdaLR
from transformers import TrainerCallback

from .errors import CliError

logger = logging.getLogger(__name__)


def unfreeze_schedule(layer_group_names: list[str], *, every: int, floor: int = 0) -> dict[str, int | None]:
    """Optimizer step at which each unit starts training: 'head' at 0, then one layer group every `every` steps,
    top-down. `layer_group_names` run bottom to top (as `find_layer_groups` gives them); the bottom `floor`
    groups are frozen and get None."""
    count = len(layer_group_names)
    schedule: dict[str, int | None] = {"head": 0}
    for index in reversed(range(count)):  # in the order the groups join
        schedule[layer_group_names[index]] = every * (count - index) if index >= floor else None
    return schedule


def gate_scheduler(scheduler: LambdaLR, schedule: dict[str, int | None]) -> LambdaLR:
    """A LambdaLR equal to `scheduler`, except that each optimizer group's rate is 0 before its unit's start step."""
    if not isinstance(scheduler, LambdaLR):
        raise CliError(
            f"gradual_unfreeze_steps needs a step-based schedule (linear, cosine, constant, ...); "
            f"{type(scheduler).__name__} is not one"
        )
    optimizer = scheduler.optimizer
    lambdas = []
    for base, group in zip(scheduler.lr_lambdas, optimizer.param_groups):
        start = schedule[group["unit"]]  # None: below the freeze floor (in the optimizer only with freeze_method lr0)
        lambdas.append(_gated(base, math.inf if start is None else start))
    # Built on the same optimizer: `initial_lr` is already each group's absolute initial rate.
    return LambdaLR(optimizer, lambdas)


def _gated(base, start: int):
    # A closure, not a callable object: LambdaLR.state_dict() skips plain functions, so checkpoints stay small and
    # a resumed run rebuilds the same gates from its arguments.
    def multiplier(step: int) -> float:
        return base(step) if step >= start else 0.0

    return multiplier


class LogUnfreezing(TrainerCallback):
    """Says in the log when each layer group starts training."""

    def __init__(self, schedule: dict[str, int | None]):
        self.starts = {step: name for name, step in schedule.items() if step}

    def on_step_end(self, args, state, control, **kwargs):
        name = self.starts.get(state.global_step)
        if name and state.is_world_process_zero:
            logger.info("Gradual unfreezing: %s trains from step %d on", name, state.global_step + 1)
