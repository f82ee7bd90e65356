"""Progressive freezing: the frozen floor rises while the run trains (`--progressive_freeze auto|linear`).

Bottom layers of a pre-trained encoder settle early in fine-tuning, so they can stop training part-way, and from
then on their output is a fixed function of the tokens: the frozen-prefix cache (`cola.frozen_cache`) grows over
them and later steps start above them. Two ways to decide when:

- `auto` (AutoFreeze, Liu et al. 2021): the run is cut into windows of `--progressive_freeze_every` optimizer
  steps; for each still-training layer group the mean gradient norm over a window is compared with the previous
  window's (relative change |g_w - g_{w-1}| / g_{w-1}). A group whose change is at or below the given percentile of
  all still-training groups' changes (AutoFreeze found the median to agree with its SVCCA reference) has settled;
  the lowest run of settled groups, starting at the floor, joins it. The percentile is relative: when every group's
  gradient norm jumps at once (on CoLA, as the loss starts to fall), the lower half still counts as settled;
  `--progressive_freeze_tolerance` adds an absolute bound on the change (docs/progressive measured both). Bottom-up
  only: a settled group above a moving one keeps training, since freezing it would leave a training group below a
  frozen one.
- `linear` (FreezeOut, Brock et al. 2017; Composer's LayerFreezing): the floor rises by a fixed schedule, evenly
  over the decision points, reaching `--progressive_freeze_max` at the last one. The deterministic baseline.

Never below `--freeze`, never above `--progressive_freeze_max`, never the head, the pooler or a final norm (what runs
after the layers reads the last layer's output, so freezing it saves nothing the cache can keep).

Every decision is a pure function of what every process sees alike: the gradients after DDP's reduction (their
statistics are averaged over processes all the same) and the step count. `FloorRise` holds the decision state; it
goes into every checkpoint (`cola.checkpoints.SaveSuiteState`), so a resumed run continues the same decisions. The
Trainer applies a rise (`ColaTrainer.raise_floor`): the groups stop getting gradients, go to eval mode, leave the
optimizer (their AdamW state freed) and the scheduler, and the cache grows over them.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass

import numpy as np
import torch
from transformers import TrainerCallback

from .freezing import LayerGroup, place
from .schema import is_count, is_list_of, is_number

logger = logging.getLogger(__name__)

MODES = ("auto", "linear")
DECISIONS_PER_RUN = 10  # the default window: a tenth of the run's optimizer steps


@dataclass(frozen=True)
class ProgressiveFreezing:
    """The options of a rising floor, as the plan holds them (`cola.plan.TrainingPlan.progressive`)."""

    mode: str  # "auto" or "linear"
    most: int  # the floor never rises above this many groups
    every: int | None  # optimizer steps per window; None: a tenth of the run
    start: int | None  # the first decision's step; None: after two windows
    percentile: float  # auto: a group has settled at or below this percentile of the changes
    tolerance: float | None = None  # auto: ... and at or below this change (None: the percentile alone)

    def windows(self, total_steps: int) -> tuple[int, int]:
        """(steps per window, the first decision's step) for a run of `total_steps` optimizer steps."""
        every = self.every or max(1, total_steps // DECISIONS_PER_RUN)
        return every, self.start if self.start is not None else 2 * every

    def decision_steps(self, total_steps: int) -> list[int]:
        """The steps after which the floor may rise: every window's end from the start, before the run's end."""
        every, start = self.windows(total_steps)
        first = max(every, math.ceil(start / every) * every)
        return list(range(first, total_steps, every))

    def summary(self) -> dict:
        auto = self.mode == "auto"
        return {"mode": self.mode, "max_frozen_groups": self.most, "every": self.every, "start": self.start,
                "percentile": self.percentile if auto else None, "tolerance": self.tolerance if auto else None}


def highest_floor(groups: list[LayerGroup]) -> int:
    """The most groups a rising floor may freeze: every group up to the top encoder layer, which keeps training
    (with what runs after it)."""
    return sum(1 for g in groups if place(g.name) != "top") - 1


def settled_threshold(changes: list[float], *, percentile: float) -> float:
    """The `percentile` of the changes that are numbers (NaN when none is)."""
    finite = [c for c in changes if math.isfinite(c)]
    return float(np.percentile(finite, percentile)) if finite else math.nan


def settled_prefix(changes: list[float], *, threshold: float) -> int:
    """How many of the still-training groups, bottom-up, have settled: the lowest run whose relative change is at or
    below `threshold`. A change that is not a number (a group with no gradient in a window) has not settled."""
    count = 0
    for change in changes:
        if not (math.isfinite(change) and change <= threshold):
            break
        count += 1
    return count


def linear_floor(first: int, most: int, *, done: int, points: int) -> int:
    """The floor after the `done`-th of `points` decision points: evenly from `first` to `most`."""
    return first + math.ceil((most - first) * done / points)


class FloorRise:
    """The rising floor's state: where it is, what happened, and the statistics of the current and last window."""

    def __init__(self, schedule: ProgressiveFreezing, group_names: list[str], floor: int):
        self.schedule = schedule
        self.names = list(group_names)
        self.first = floor  # --freeze: the floor it rises from
        self.floor = floor
        self.events: list[dict] = []
        self.sums = [0.0] * len(self.names)  # this window's summed gradient norms, per group
        self.steps = 0  # optimizer steps in this window
        self.previous: list[float] | None = None  # the last window's mean gradient norms

    # --- watching ---

    def observe(self, norms: list[float]) -> None:
        """One optimizer step's gradient norms of the groups from the floor up (auto only)."""
        for offset, norm in enumerate(norms):
            self.sums[self.floor + offset] += norm
        self.steps += 1

    def window_means(self) -> list[float]:
        return [s / self.steps if self.steps else math.nan for s in self.sums]

    # --- deciding ---

    def decide(self, step: int, total_steps: int, means: list[float] | None = None) -> tuple[int, dict | None]:
        """At the end of optimizer step `step`: the new floor (the current one when it does not rise) and the
        statistic behind it. `means`: this window's mean gradient norms as every process agrees on them (auto)."""
        every, _ = self.schedule.windows(total_steps)
        if step % every:
            return self.floor, None
        points = self.schedule.decision_steps(total_steps)
        if self.schedule.mode == "linear":
            if step not in points:
                return self.floor, None
            target = linear_floor(self.first, self.schedule.most, done=points.index(step) + 1, points=len(points))
            return max(self.floor, min(target, self.schedule.most)), None
        # auto: a window ends here; compare it with the last one, then start the next
        means = self.window_means() if means is None else means
        previous, self.previous = self.previous, means
        self.sums, self.steps = [0.0] * len(self.names), 0
        if step not in points or previous is None:
            return self.floor, None
        training = range(self.floor, len(self.names))
        changes = [abs(means[i] - previous[i]) / previous[i] if previous[i] > 0 else math.nan for i in training]
        threshold = settled_threshold(changes, percentile=self.schedule.percentile)
        if self.schedule.tolerance is not None:
            threshold = min(threshold, self.schedule.tolerance)
        settled = settled_prefix(changes, threshold=threshold)
        statistic = {"relative_change": {self.names[i]: _rounded(c) for i, c in zip(training, changes)},
                     "threshold": _rounded(threshold)}
        return min(self.floor + settled, max(self.floor, self.schedule.most)), statistic

    def record(self, step: int, floor: int, statistic: dict | None) -> dict:
        """The floor rose to `floor` after `step`: the event as results.json lists it."""
        event = {"step": step, "frozen_groups": self.names[:floor], "statistic": statistic}
        self.events.append(event)
        self.floor = floor
        return event

    def floor_at(self, step: int) -> int:
        """Where the floor stood after optimizer step `step` (a checkpoint saved then holds these groups' weights)."""
        return max([self.first, *(len(e["frozen_groups"]) for e in self.events if e["step"] <= step)])

    # --- checkpoints ---

    def state_dict(self) -> dict:
        return {"first": self.first, "floor": self.floor, "events": self.events, "sums": self.sums,
                "steps": self.steps, "previous": self.previous}

    def load_state_dict(self, state: dict) -> None:
        """Where a checkpoint left the floor: every field checked (a file anyone can edit), a ValueError naming it."""
        if not isinstance(state, dict):
            raise ValueError("floor_rise is not an object")
        count = len(self.names)

        def need(ok: bool, key: str, expected: str) -> None:
            if not ok:
                raise ValueError(f"floor_rise.{key} is {json.dumps(state.get(key))[:40]}, not {expected}")

        need(is_count(state.get("first")), "first", "a number of layer groups")
        need(is_list_of(state.get("sums"), is_number), "sums", "a list of gradient-norm sums")
        if state["first"] != self.first or len(state["sums"]) != count:
            raise ValueError(f"the checkpoint's rising floor started at {state['first']} groups of {len(state['sums'])}, "
                             f"this run's at {self.first} of {count}")
        need(is_count(state.get("floor")) and self.first <= state["floor"] <= count, "floor",
             f"a floor between {self.first} and {count}")
        need(is_count(state.get("steps")), "steps", "a number of steps")
        need(state.get("previous") is None or (is_list_of(state["previous"], is_number) and len(state["previous"]) == count),
             "previous", f"null or {count} mean gradient norms")
        floors = [self.first]  # each event freezes the groups below a higher floor, at a later step
        steps = [0]
        for event in state.get("events") if isinstance(state.get("events"), list) else [None]:
            frozen = event.get("frozen_groups") if isinstance(event, dict) else None
            need(isinstance(event, dict) and is_count(event.get("step")) and event["step"] > steps[-1]
                 and isinstance(frozen, list) and floors[-1] < len(frozen) <= count and frozen == self.names[:len(frozen)],
                 "events", "a list of rises ({step, frozen_groups}) in order")
            floors.append(len(frozen))
            steps.append(event["step"])
        need(floors[-1] == state["floor"], "floor", f"the floor its last event left ({floors[-1]})")
        self.floor, self.events, self.steps = state["floor"], state["events"], state["steps"]
        self.sums, self.previous = [float(x) for x in state["sums"]], state["previous"]



def _rounded(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None


def group_norms(groups: list[LayerGroup]) -> list[float]:
    """The L2 norm of each group's gradient (0 for a group none of whose parameters got one)."""
    norms = []
    for group in groups:
        grads = [p.grad for _, p in group.parameters if p.grad is not None]
        norms.append(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))).item() if grads else 0.0)
    return norms


class RaiseTheFloor(TrainerCallback):
    """Watches the gradients (auto), decides at each window's end, and has the Trainer raise the floor."""

    def __init__(self, trainer, rise: FloorRise):
        self.trainer = trainer
        self.rise = rise

    def on_train_begin(self, args, state, control, **kwargs):
        every, start = self.rise.schedule.windows(state.max_steps)
        points = self.rise.schedule.decision_steps(state.max_steps)
        if state.is_world_process_zero:
            logger.info("Progressive freezing (%s): decisions every %d optimizer steps from step %d (%d in this run), the "
                        "floor rising from %d up to %d of %d groups", self.rise.schedule.mode, every, start, len(points),
                        self.rise.first, self.rise.schedule.most, len(self.rise.names))

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        if self.rise.schedule.mode == "auto" and self.rise.floor < self.rise.schedule.most:
            self.rise.observe(group_norms(list(self.trainer.plan.groups[self.rise.floor:])))

    def on_step_end(self, args, state, control, **kwargs):
        rise = self.rise
        means = None
        if rise.schedule.mode == "auto" and state.global_step % rise.schedule.windows(state.max_steps)[0] == 0:
            means = self.trainer.agreed(rise.window_means())
        floor, statistic = rise.decide(state.global_step, state.max_steps, means)
        if floor > rise.floor:
            newly = rise.names[rise.floor:floor]
            self.trainer.raise_floor(floor)
            rise.record(state.global_step, floor, statistic)
            if state.is_world_process_zero:
                why = "" if statistic is None else "; gradient-norm change " + ", ".join(
                    f"{name} {statistic['relative_change'][name]}" for name in newly) + (
                    f" (at or below {statistic['threshold']}: the {rise.schedule.percentile:g}th percentile"
                    + (f", at most {rise.schedule.tolerance:g}" if rise.schedule.tolerance is not None else "") + ")")
                logger.info("Progressive freezing after step %d: %s join the frozen floor (%d of %d groups)%s",
                            state.global_step, ", ".join(newly), floor, len(rise.names), why)
