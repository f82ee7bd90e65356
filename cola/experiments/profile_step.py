"""Where a training step's time goes: torch.profiler over steps of a benchmark row, grouped by kind of work.

    python -m cola.experiments.profile_step --data_dir ../shared/cola/raw                      # the suite row
    python -m cola.experiments.profile_step --data_dir ../shared/cola/raw --row suite_freeze_cached --out p.json

The row is built exactly as `cola.experiments.bench` builds it (train.py's parser and `cola.run.build_run`).
After a few untimed steps, `--steps` steps run under the profiler. Every operator's own time (not counting the
operators it calls) goes to one kind:
- optimizer: anything inside the optimizer's step;
- collation: anything inside the DataLoader's `__next__` (padding, the collator);
- matmul: mm, addmm, bmm, linear and their oneDNN kernels, forward and backward;
- attention: scaled-dot-product attention and softmax, forward and backward;
- norms/activations/elementwise: layer norm, GELU, tanh, dropout, adds, multiplies, copies, ...;
- other operators: embedding look-ups, indexing, reductions in the loss, ...;
- Python and Trainer overhead: the step's wall time not spent in any operator (the Trainer's loop, callbacks,
  the suite's loss and cache look-ups in Python, the autograd engine's bookkeeping).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import torch
from transformers import TrainerCallback

from ..errors import CliError, reports_errors
from ..files import write_atomic
from ..redact import command_line
from .bench import BATCH, ROWS, WARMUP_STEPS, fill_cache_first, suite_trainer

PROG = "cola.experiments.profile_step"
MATMUL = ("mm", "addmm", "bmm", "linear", "matmul", "mkldnn_linear", "mkldnn_matmul", "_addmm_activation")
ATTENTION = ("scaled_dot_product", "softmax", "flash_attention", "_efficient_attention")
ELEMENTWISE = ("layer_norm", "gelu", "tanh", "dropout", "bernoulli", "add", "mul", "div", "sub", "copy_", "to", "clone",
               "fill_", "zero_", "where", "masked_fill", "neg", "rsqrt", "sqrt", "pow", "exp", "_to_copy", "empty",
               "threshold", "relu", "sum", "mean")
KINDS = ("matmul", "attention", "norms/activations/elementwise", "other operators", "optimizer", "collation",
         "Python and Trainer overhead")


class ProfileSteps(TrainerCallback):
    """Starts the profiler after the warm-up steps and stops it after `steps` more."""

    def __init__(self, steps: int):
        self.steps, self.profiler, self.wall = steps, None, 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == WARMUP_STEPS:
            self.profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
            self.profiler.start()
            self.start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == WARMUP_STEPS + self.steps:
            self.wall = time.perf_counter() - self.start
            self.profiler.stop()


def kind_of(event) -> str:
    """The kind of work an operator's own time counts as (see the module docstring)."""
    parent = event
    while parent is not None:
        if parent.name.startswith("Optimizer.step"):
            return "optimizer"
        if parent.name.startswith("enumerate(DataLoader)"):
            return "collation"
        parent = parent.cpu_parent
    name = event.name.removeprefix("aten::").removeprefix("mkldnn::")
    if any(key in name for key in ATTENTION):
        return "attention"
    if name.lstrip("_") in MATMUL or name.startswith(("mkldnn_linear", "mkldnn_matmul", "onednn")):
        return "matmul"
    if any(name.rstrip("_").startswith(key.rstrip("_")) or name.startswith("native_" + key) for key in ELEMENTWISE):
        return "norms/activations/elementwise"
    return "other operators"


def breakdown(events, wall_s: float, steps: int) -> dict:
    """Milliseconds per step and share of the step for each kind, and the operators that took the most time."""
    per_kind = dict.fromkeys(KINDS, 0.0)
    per_op: dict[str, float] = {}
    for event in events:
        own = event.self_cpu_time_total / 1e3  # ms
        per_kind[kind_of(event)] += own
        per_op[event.name] = per_op.get(event.name, 0.0) + own
    wall_ms = wall_s * 1e3
    per_kind["Python and Trainer overhead"] = max(0.0, wall_ms - sum(per_kind.values()))
    top = sorted(per_op.items(), key=lambda item: -item[1])[:15]
    return {
        "step_ms": wall_ms / steps,
        "kinds": {kind: {"ms_per_step": ms / steps, "share": ms / wall_ms} for kind, ms in per_kind.items()},
        "top_operators": [{"name": name, "ms_per_step": ms / steps, "share": ms / wall_ms, "kind": None} for name, ms in top],
    }


def format_breakdown(report: dict) -> str:
    lines = [f"{report['row']} ({report['precision']}), {report['steps']} profiled steps of {report['step_ms']:.0f} ms "
             f"(batch {report['batch']}):", "", "| kind of work | ms per step | share of the step |", "|---|---|---|"]
    for kind, figures in report["kinds"].items():
        lines.append(f"| {kind} | {figures['ms_per_step']:.1f} | {figures['share']:.1%} |")
    lines += ["", "| operator (own time) | ms per step | share |", "|---|---|---|"]
    lines += [f"| {op['name']} | {op['ms_per_step']:.1f} | {op['share']:.1%} |" for op in report["top_operators"]]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m {PROG}", description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--data_dir", default=None, help="CoLA raw folder (default: $COLA_DATA_DIR or the cached download).")
    parser.add_argument("--model", default="all-MiniLM-L6-v2", help="Model name or folder. (default: all-MiniLM-L6-v2)")
    suite_rows = [row for row in ROWS if row.startswith("suite")]
    parser.add_argument("--row", default="suite", choices=suite_rows, help="Benchmark row to profile. (default: suite)")
    parser.add_argument("--steps", type=int, default=10, help="Profiled steps, after the warm-up. (default: 10)")
    parser.add_argument("--suite_args", default="", help="Extra train.py flags, as for the benchmark.")
    parser.add_argument("--out", default=None, help="Also write the breakdown as JSON here.")
    return parser


@reports_errors
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.steps < 1:
        raise CliError(f"--steps must be 1 or more, got {args.steps}")
    args.samples = (WARMUP_STEPS + args.steps) * BATCH  # the bench's batch: this many steps and no more
    device = "cuda" if torch.cuda.is_available() else "cpu"
    profile = ProfileSteps(args.steps)
    with tempfile.TemporaryDirectory(prefix="cola-profile-") as scratch:
        trainer, _, _ = suite_trainer(args, device, args.row, scratch)
        trainer.add_callback(profile)
        fill_cache_first(trainer)
        trainer.train()
    if profile.profiler is None or not profile.wall:
        raise CliError("the run ended before the profiled steps")
    command = command_line(f"python -m {PROG}", sys.argv[1:] if argv is None else argv)
    report = {"command": command, "row": args.row, "precision": trainer.args.precision, "steps": args.steps, "batch": BATCH,
              **breakdown(profile.profiler.events(), profile.wall, args.steps)}
    for op in report["top_operators"]:
        op["kind"] = next((kind_of(e) for e in profile.profiler.events() if e.name == op["name"]), None)
    print(format_breakdown(report))
    if args.out:
        write_atomic(args.out, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
