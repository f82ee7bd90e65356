"""What a run prints while it trains: the Trainer's progress bar or plain printer, with each evaluation as one short
line (MCC, accuracy, loss, MCC per group) instead of the dict of every metric (35 keys for CoLA).

`ProgressLines` and `PrinterLines` stand in for the Trainer's two stock callbacks (`cola.trainer.build_trainer`
swaps them); they are twins because the stock ones are.
"""

from __future__ import annotations

import statistics
import time

from transformers import PrinterCallback, ProgressCallback, TrainerCallback


def evaluation_line(logs: dict, step: int) -> str:
    """An evaluation's log as one short line: MCC, accuracy and loss, then MCC per group (the Trainer prints the
    dict of every metric: 35 keys for CoLA)."""
    groups = [(key.removeprefix("eval_").removesuffix("_matthews_correlation"), value) for key, value in logs.items()
              if key.endswith("_matthews_correlation") and key != "eval_matthews_correlation"]
    per_group = "".join(f"; {name} MCC {value:.4f}" for name, value in groups)
    return (f"step {step} (epoch {logs.get('epoch', 0):g}): eval MCC {logs.get('eval_matthews_correlation', float('nan')):.4f}, "
            f"accuracy {logs.get('eval_accuracy', float('nan')):.4f}, loss {logs['eval_loss']:.4f}{per_group}")


class ProgressLines(ProgressCallback):
    """The Trainer's progress bars, with each evaluation as one line (`evaluation_line`)."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "eval_loss" in logs:
            if state.is_world_process_zero and self.training_bar is not None:
                self.training_bar.write(evaluation_line(logs, state.global_step))
            return
        super().on_log(args, state, control, logs=logs, **kwargs)


class PrinterLines(PrinterCallback):
    """The Trainer's plain printer (--disable_tqdm, as in the search's trial logs), evaluations as one line."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "eval_loss" in logs:
            if state.is_local_process_zero:
                print(evaluation_line(logs, state.global_step))
            return
        super().on_log(args, state, control, logs=logs, **kwargs)


class StepClock(TrainerCallback):
    """How long each optimizer step took (from its first micro-batch to the optimizer's update; evaluations and
    saves apart), for results.json's `train.step_seconds`: where a run's time went as its floor rose or its cache
    filled. A resumed run times the steps it ran."""

    def __init__(self):
        self.seconds: list[float] = []
        self._began = 0.0
        self.first_step = 0  # the step this process started after: a resumed run's checkpoint

    def on_train_begin(self, args, state, control, **kwargs):
        self.first_step = state.global_step

    def on_step_begin(self, args, state, control, **kwargs):
        self._began = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.seconds.append(time.perf_counter() - self._began)

    def summary(self, parts: int = 10) -> dict | None:
        """The median step, and the mean step in each tenth of the run (fewer parts for a run of fewer steps)."""
        if not self.seconds:
            return None
        parts = min(parts, len(self.seconds))
        bounds = [round(i * len(self.seconds) / parts) for i in range(parts + 1)]
        return {"steps": len(self.seconds), "median": round(statistics.median(self.seconds), 4),
                "mean_by_tenth": [round(statistics.fmean(self.seconds[a:b]), 4) for a, b in zip(bounds, bounds[1:])]}
