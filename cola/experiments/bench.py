"""Training-speed benchmark: the notebook loop, the Trainer's defaults, and the suite, on the same work.

    python -m cola.experiments.bench --data_dir ../shared/cola/raw                  # table on stdout, bench.json
    python -m cola.experiments.bench --data_dir ../shared/cola/raw --samples 1024 --repeats 5 --out bench.json
    python -m cola.experiments.bench --data_dir ../shared/cola/raw --rows suite --suite_args="--optim adamw_torch"

Rows, all on the packaged all-MiniLM-L6-v2 and the real CoLA training file, batch 32, the same number of
training sentences (`--samples`, drawn by each row's own sampler from the whole file, as in a real run):
- notebook:     every sentence padded to 64 tokens, a plain PyTorch AdamW loop, fp32;
- trainer:      Hugging Face `Trainer` as it comes: random batches, dynamic padding, fp32;
- peer:         the same Trainer as a user who knows its flags sets it: length-grouped batches
                (`train_sampling_strategy="group_by_length"`) and bf16 where `--precision auto` picks it;
- suite:        train.py's own path, built by the same parser, loaders and `build_trainer` (length-grouped
                batches, class weights, named parameter groups, precision picked by the hardware);
- suite_freeze: the same with the embeddings and the bottom half of the layers frozen (the notebook's 6 of 12;
                3 of all-MiniLM-L6-v2's 6), the frozen half run at every step (`--cache_frozen false`);
- suite_freeze_cached: the same, the frozen half run once per sentence (`cola.frozen_cache`), here in one pass
                before training (a run fills it as its batches first hold each sentence; the bench times the steps
                that read it): the pass is reported on its own and amortised over the quick recipe's 10 epochs;
- suite_freeze_lr0: the same half frozen by learning rate 0 (`--freeze_method lr0`): the full backward is paid;
- suite_deep_freeze, suite_deep_freeze_cached: the notebook's deep freeze (the embeddings and every layer but the
                top one: 6 of all-MiniLM-L6-v2's 8 groups, 12 of all-mpnet-base-v2's 13), uncached and cached;
- suite_lora:   LoRA rank 8 on the attention's query and value of every layer (`--lora_r 8`), nothing frozen
                below the adapters (the embeddings are held, not cached);
- suite_lora_half_cached: LoRA rank 8 above the cached frozen half (the suite_freeze_cached row plus adapters);
- suite_fp32, suite_freeze_cached_fp32: the suite and suite_freeze_cached rows in fp32 (`--precision fp32`), to set
                beside the precision `auto` picks on this machine.

Each row runs in its own process (so its peak memory is its own), repeats are interleaved (row 1, 2, 3, 4,
1, 2, ...) so drift of the machine hits every row alike, and the first steps of each run are not timed.
Reported per row (median over repeats): training samples/s, useful (non-padding) tokens/s, padding ratio,
model FLOP utilisation against a matmul peak measured in the same run for the dtype the row trains in, peak
memory (RSS; GPU memory on a GPU), step time, and evaluation sentences/s on GLUE's dev set.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    DataCollatorWithPadding,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

from ..cola_tsv import CLASS_NAMES, EXPECTED_ROWS, TRAIN_FILE
from ..columns import LABEL, TEXT
from ..config import DataArguments
from ..data import load_data, tokenize
from ..errors import CliError, reports_errors
from ..files import write_atomic
from ..freezing import find_layer_groups, place
from ..model import load_model_and_tokenizer, resolve_model_path
from ..precision import detect_precision
from ..recipes import parse_args
from ..run import build_run

PROG = "cola.experiments.bench"
# Suite rows that differ from train.py's defaults: (how many groups are frozen: "none"; "half", the embeddings and
# half the layers; or "deep", the embeddings and every layer but the top one (`row_flags`); the other options).
VARIANT_ROWS = {
    "suite_freeze": ("half", {"cache_frozen": False}),
    "suite_freeze_cached": ("half", {"cache_frozen": True}),
    "suite_freeze_lr0": ("half", {"freeze_method": "lr0"}),
    "suite_deep_freeze": ("deep", {"cache_frozen": False}),
    "suite_deep_freeze_cached": ("deep", {"cache_frozen": True}),
    "suite_lora": ("none", {"lora_r": 8}),
    "suite_lora_half_cached": ("half", {"lora_r": 8, "cache_frozen": True}),
    # the same work in fp32, beside rows in the precision `auto` picks (bf16 on CPUs that do it fast)
    "suite_fp32": ("none", {"precision": "fp32"}),
    "suite_freeze_cached_fp32": ("half", {"cache_frozen": True, "precision": "fp32"}),
}
ROWS = ("notebook", "trainer", "peer", "suite", *VARIANT_ROWS)
QUICK_EPOCHS = 10  # the quick recipe's budget, over which a cache pass is amortised
BATCH = 32
WARMUP_STEPS = 3


# --- measurements shared by every row ---


def matmul_peak(dtype_name: str, device: str, size: int = 2048, seconds: float = 2.0) -> float:
    """Achieved FLOP/s of a square matmul in this dtype on this device: the ceiling MFU is measured against."""
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype_name]
    a, b = (torch.randn(size, size, device=device).to(dtype) for _ in range(2))
    for _ in range(3):
        a @ b
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        n += 1
    if device == "cuda":
        torch.cuda.synchronize()
    return 2 * size**3 * n / (time.perf_counter() - start)


def flops_per_token(model, *, mean_length: float, trainable_fraction: float, forward_fraction: float = 1.0,
                    reached_fraction: float | None = None) -> float:
    """Training FLOPs per useful token: forward 2N (+ attention); backward 1x forward for the gradients of the
    activations wherever the backward pass reaches, 1x forward for the gradients of the trainable weights.

    N counts the encoder's matmul weights (embeddings are look-ups). With the bottom layers frozen the backward
    stops at the first trainable layer, so it reaches the top `trainable_fraction` of the encoder (for a frozen
    row both shares are that); with LoRA it reaches every layer above the floor (`reached_fraction`) while only the
    adapters' weights take gradients. With the frozen layers cached, the forward pass too runs only the top
    `forward_fraction`.
    """
    config = model.config
    n_matmul = sum(p.numel() for p in matmul_weights(model))
    attention = 4 * config.num_hidden_layers * mean_length * config.hidden_size
    forward = 2 * n_matmul + attention
    reached = trainable_fraction if reached_fraction is None else reached_fraction
    return forward * (forward_fraction + reached + trainable_fraction)


def matmul_weights(model) -> list:
    """The weight matrices that take part in matmuls (embedding tables are look-ups, not matmuls)."""
    return [p for n, p in model.named_parameters() if p.dim() == 2 and "embeddings" not in n]


class TokenCounter:
    """Wraps a collator and counts real and padded tokens of every batch it builds."""

    def __init__(self, collate):
        self.collate, self.useful, self.total = collate, 0, 0

    def __call__(self, features):
        batch = self.collate(features)
        self.useful += int(batch["attention_mask"].sum())
        self.total += batch["attention_mask"].numel()
        return batch


def peak_memory_mb(device: str) -> float:
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the rows ---


class StepTimer(TrainerCallback):
    """Times each optimizer step of a Trainer (waiting for the GPU to finish, where there is one)."""

    def __init__(self, device: str):
        self.device, self.step_times = device, []

    def on_step_begin(self, *args, **kwargs):
        self.start = time.perf_counter()

    def on_step_end(self, *args, **kwargs):
        if self.device == "cuda":
            torch.cuda.synchronize()
        self.step_times.append(time.perf_counter() - self.start)


def _baseline_inputs(args):
    """Model, tokenizer and the raw and tokenized data for the two baseline rows (the suite row loads its own)."""
    model, tokenizer = load_model_and_tokenizer(args.model, class_names=CLASS_NAMES)
    # The whole file: length grouping sorts within windows sized from the dataset, as in a real run.
    data = load_data(DataArguments(data_dir=args.data_dir), seed=0)
    return model, tokenizer, data, tokenize(data, tokenizer, max_length=64)


def run_notebook(args, device):
    """The notebook: pad to 64, DataLoader, AdamW over every parameter, model's own loss."""
    model, tokenizer, raw, _ = _baseline_inputs(args)
    model.to(device)

    def encode(split):
        enc = tokenizer(list(split[TEXT]), padding="max_length", truncation=True, max_length=64, return_tensors="pt")
        return [{"input_ids": i, "attention_mask": m, LABEL: torch.tensor(y)}
                for i, m, y in zip(enc["input_ids"], enc["attention_mask"], split[LABEL])]

    counter = TokenCounter(torch.utils.data.default_collate)
    loader = DataLoader(encode(raw.train), batch_size=BATCH, shuffle=True, collate_fn=counter,
                        generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    model.train()
    step_times, steps = [], args.samples // BATCH
    for _, batch in zip(range(steps), loader):
        start = time.perf_counter()
        loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if device == "cuda":
            torch.cuda.synchronize()
        step_times.append(time.perf_counter() - start)
    train = _train_figures(step_times, counter, steps)

    model.eval()
    eval_loader = DataLoader(encode(raw.eval), batch_size=BATCH)
    start = time.perf_counter()
    with torch.no_grad():
        for batch in eval_loader:
            model(**{k: v.to(device) for k, v in batch.items() if k != LABEL})
    return model, train, len(raw.eval) / (time.perf_counter() - start), "fp32", 1.0, None


def run_trainer(args, device, scratch: str, *, knowing: bool = False):
    """The Hugging Face Trainer as it comes: random batches, dynamic padding, fp32, the model's own loss. `knowing`:
    as a user who knows its flags sets it (the peer row): length-grouped batches, bf16 where `auto` picks it."""
    model, tokenizer, _, data = _baseline_inputs(args)
    counter, timer = TokenCounter(DataCollatorWithPadding(tokenizer)), StepTimer(device)
    present = set(data.train.column_names)
    columns = [c for c in ("input_ids", "token_type_ids", "attention_mask", LABEL) if c in present]
    precision = detect_precision(use_cpu=device == "cpu") if knowing else "fp32"
    flags = {"train_sampling_strategy": "group_by_length", "bf16": precision == "bf16",
             "fp16": precision == "fp16"} if knowing else {}
    trainer = Trainer(
        model=model, train_dataset=data.train.select_columns(columns), eval_dataset=data.eval.select_columns(columns),
        args=TrainingArguments(output_dir=scratch, per_device_train_batch_size=BATCH,
                               max_steps=args.samples // BATCH, report_to="none", save_strategy="no", eval_strategy="no",
                               disable_tqdm=True, use_cpu=device == "cpu", seed=0, **flags),
        processing_class=tokenizer, data_collator=counter, callbacks=[timer],
    )
    return _timed_training(trainer, counter, timer, model, precision)


def run_suite(args, device, row: str, scratch: str):
    trainer, counter, timer = suite_trainer(args, device, row, scratch)
    return _timed_training(trainer, counter, timer, trainer.model, trainer.args.precision)


def suite_trainer(args, device, row: str, scratch: str):
    """train.py's own run, built by `cola.run.build_run` from train.py's parser: a row differs from a user's run
    only by the flags it passes (no checkpoints, no per-epoch evaluation, a fixed step count, the row's freezing;
    `--suite_args` adds more), all checked as train.py checks them. Returns the trainer, its token counter and its
    step timer. `scratch`: the run's output folder (the caller's temporary one)."""
    timer = StepTimer(device)
    trainer = build_run(parse_args(suite_argv(args, device, row, scratch)), callbacks=(timer,)).trainer
    # Counting tokens observes the collator train.py uses; it does not replace it.
    trainer.data_collator = counter = TokenCounter(trainer.data_collator)
    return trainer, counter, timer


def suite_argv(args, device: str, row: str, scratch: str) -> list[str]:
    """The train.py command line of a suite row, writing into `scratch`."""
    return ["--model_name_or_path", args.model, "--output_dir", scratch,
            "--per_device_train_batch_size", str(BATCH), "--max_steps", str(args.samples // BATCH), "--seed", "0",
            "--report_to", "none", "--save_strategy", "no", "--eval_strategy", "no", "--load_best_model_at_end", "false",
            "--disable_tqdm", "true", *(["--use_cpu"] if device == "cpu" else []),
            *(["--data_dir", args.data_dir] if args.data_dir else []), *row_flags(row, args.model),
            *shlex.split(args.suite_args)]


def row_flags(row: str, model: str) -> list[str]:
    """The train.py flags that make a variant row: how many groups are frozen (none; the embeddings and the bottom
    half of the layers, as the notebook's 6 of 12; or, for the deep freeze, the embeddings and every layer but the top
    one), how, and LoRA's rank where the row has adapters."""
    if row not in VARIANT_ROWS:
        return []
    how_many, options = VARIANT_ROWS[row]
    layers = encoder_layer_count(model) if how_many != "none" else 0
    flags = ["--freeze", str({"none": 0, "half": 1 + layers // 2, "deep": layers}[how_many])]
    for name, value in options.items():
        flags += [f"--{name}", str(value).lower()]
    return flags


def encoder_layer_count(model: str) -> int:
    """How many encoder-layer groups the model has, from its structure alone (built on the meta device: no weights)."""
    path = resolve_model_path(model)
    with torch.device("meta"):
        skeleton = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(path))
    return sum(place(g.name) == "layer" for g in find_layer_groups(skeleton))


def fill_cache_first(trainer):
    """The row's frozen-prefix cache (or None), filled in one pass before training (a run fills it as its batches
    first hold each sentence): the steps timed or profiled are then the steps that read it."""
    cache = getattr(trainer, "frozen_cache", None)
    if cache is not None:
        cache.fill_all()
    return cache


def _timed_training(trainer, counter, timer, model, precision):
    cache = fill_cache_first(trainer)
    trainer.train()
    train = _train_figures(timer.step_times, counter, len(timer.step_times))
    eval_metrics = trainer.evaluate()
    matmul = matmul_weights(model)
    trainable = sum(p.numel() for p in matmul if p.requires_grad) / sum(p.numel() for p in matmul)
    weights = getattr(trainer, "class_weights", None)  # the suite's loss has them; the plain Trainer's has none
    train["cache_build_s"] = cache.seconds if cache else 0.0
    plan = getattr(trainer, "plan", None)
    if plan is not None and plan.adapters:  # the backward pass runs through every layer above the floor
        below = {id(p) for group in plan.groups[: plan.floor] for _, p in group.parameters}
        reached = sum(p.numel() for p in matmul if id(p) not in below) / sum(p.numel() for p in matmul)
        train["reached_fraction"] = reached
    train["forward_fraction"] = train.get("reached_fraction", trainable) if cache else 1.0  # cached: the rest runs
    return model, train, eval_metrics["eval_samples_per_second"], precision, trainable, (
        None if weights is None else weights.tolist())


def _train_figures(step_times, counter, steps):
    timed = step_times[WARMUP_STEPS:]
    seconds = sum(timed)
    samples = len(timed) * BATCH
    per_step_useful = counter.useful / steps
    return {
        "step_s": statistics.median(timed),
        "samples_per_second": samples / seconds,
        "useful_tokens_per_second": per_step_useful * len(timed) / seconds,
        "padding_ratio": 1 - counter.useful / counter.total,
        "mean_length": counter.useful / (steps * BATCH),
    }


def worker(args) -> dict:
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    # The Trainer rows' output folders (nothing is saved in them, but the Trainer makes one): gone when the row is.
    with tempfile.TemporaryDirectory(prefix="cola-bench-") as scratch:
        if args.worker == "notebook":
            model, train, eval_sps, precision, trainable, weights = run_notebook(args, device)
        elif args.worker in ("trainer", "peer"):
            model, train, eval_sps, precision, trainable, weights = run_trainer(args, device, scratch,
                                                                                knowing=args.worker == "peer")
        else:
            model, train, eval_sps, precision, trainable, weights = run_suite(args, device, args.worker, scratch)
    flops = flops_per_token(model, mean_length=train["mean_length"], trainable_fraction=trainable,
                            forward_fraction=train.get("forward_fraction", 1.0), reached_fraction=train.get("reached_fraction"))
    return {"row": args.worker, "precision": precision, **train,
            "model_flops_per_second": flops * train["useful_tokens_per_second"], "eval_sentences_per_second": eval_sps,
            "peak_memory_mb": peak_memory_mb(device), "device": device, "class_weights": weights,
            "frozen_fraction": 1 - trainable}


# --- the orchestrator ---


def run_benchmark(args) -> dict:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    runs = {row: [] for row in args.rows}
    for repeat in range(args.repeats):
        for row in args.rows:
            print(f"[{repeat + 1}/{args.repeats}] {row} ...", file=sys.stderr, flush=True)
            proc = subprocess.run(
                [sys.executable, "-m", PROG, "--worker", row, "--samples", str(args.samples),
                 "--model", args.model, f"--suite_args={args.suite_args}"]
                + (["--data_dir", args.data_dir] if args.data_dir else []),
                capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"},
            )
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr[-3000:])
                raise CliError(f"benchmark row {row} failed (exit status {proc.returncode}; its last output is above)")
            runs[row].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    peaks = {p: matmul_peak(p, device) for p in sorted({r["precision"] for rs in runs.values() for r in rs})}
    rows = {}
    for row, results in runs.items():
        summary = {key: statistics.median(r[key] for r in results) for key in results[0] if isinstance(results[0][key], float)}
        summary["precision"], summary["class_weights"] = results[0]["precision"], results[0]["class_weights"]
        summary["mfu"] = summary["model_flops_per_second"] / peaks[summary["precision"]]
        rows[row] = summary
    base = rows.get("trainer", {}).get("samples_per_second")
    full_step = rows.get("suite", {}).get("step_s")
    steps_per_epoch = -(-EXPECTED_ROWS[TRAIN_FILE] // BATCH)  # CoLA's training file
    for summary in rows.values():
        # The cache pass, spread over the steps of the quick recipe's 10 epochs on the whole training file.
        summary["amortised_step_s"] = summary["step_s"] + summary.get("cache_build_s", 0.0) / (QUICK_EPOCHS * steps_per_epoch)
        summary["step_vs_suite"] = summary["step_s"] / full_step if full_step else None
        summary["amortised_step_vs_suite"] = summary["amortised_step_s"] / full_step if full_step else None
        summary["speedup_vs_trainer"] = summary["samples_per_second"] / base if base else None
        if "notebook" in rows:
            summary["speedup_vs_notebook"] = summary["samples_per_second"] / rows["notebook"]["samples_per_second"]
        if "peer" in rows:  # against a Trainer user who knows the flags: what the suite itself adds
            summary["speedup_vs_peer"] = summary["samples_per_second"] / rows["peer"]["samples_per_second"]
    return {"device": _device_name(device), "model": args.model, "suite_args": args.suite_args, "samples": args.samples,
            "batch": BATCH, "repeats": args.repeats, "matmul_peak_flops": peaks, "rows": rows, "runs": runs}


def format_table(report: dict) -> str:
    head = ("| row | precision | samples/s | useful tokens/s | padding | MFU | step (s) | step vs suite | cache pass (s) "
            "| amortised vs suite | peak memory (MB) | eval sentences/s | vs trainer | vs peer | vs notebook |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for name, r in report["rows"].items():
        lines.append(
            f"| {name} | {r['precision']} | {r['samples_per_second']:.1f} | {r['useful_tokens_per_second']:.0f} | "
            f"{r['padding_ratio']:.0%} | {r['mfu']:.1%} | {r['step_s']:.3f} | {_ratio(r.get('step_vs_suite'))} | "
            f"{r.get('cache_build_s', 0.0):.1f} | {_ratio(r.get('amortised_step_vs_suite'))} | {r['peak_memory_mb']:.0f} | "
            f"{r['eval_sentences_per_second']:.0f} | {_ratio(r.get('speedup_vs_trainer'))} | "
            f"{_ratio(r.get('speedup_vs_peer'))} | {_ratio(r.get('speedup_vs_notebook'))} |")
    peaks = ", ".join(f"{k} {v / 1e12:.3f} TFLOP/s" for k, v in report["matmul_peak_flops"].items())
    return (f"{report['device']}; {report['model']}; {report['samples']} training sentences per run, batch {report['batch']}, "
            f"median of {report['repeats']} interleaved repeats; matmul peak: {peaks}; amortised: the cache pass spread "
            f"over {QUICK_EPOCHS} epochs of CoLA's training file\n\n" + "\n".join(lines))


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name()
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.processor())
    return f"CPU {model}, {torch.get_num_threads()} threads"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m {PROG}", description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--data_dir", default=None, help="CoLA raw folder (default: $COLA_DATA_DIR or the cached download).")
    parser.add_argument("--model", default="all-MiniLM-L6-v2", help="Model name or folder. (default: all-MiniLM-L6-v2)")
    parser.add_argument("--samples", type=int, default=640, help="Training sentences per run. (default: 640)")
    parser.add_argument("--repeats", type=int, default=3, help="Interleaved repeats per row. (default: 3)")
    parser.add_argument("--rows", nargs="+", choices=ROWS, default=list(ROWS), help="Rows to run. (default: all)")
    parser.add_argument("--suite_args", default="",
                        help="Extra train.py flags for the suite rows, e.g. \"--optim adamw_torch\" or \"--torch_compile true\".")
    parser.add_argument("--out", default="bench.json", help="Where the JSON report goes. (default: bench.json)")
    parser.add_argument("--worker", choices=ROWS, help=argparse.SUPPRESS)  # one row, in its own process
    return parser


def check_options(args) -> None:
    """Everything a benchmark could fail on at its end, refused before its first row runs (it takes minutes)."""
    least = (WARMUP_STEPS + 1) * BATCH
    if args.samples < least:
        raise CliError(f"--samples must be at least {least} ({WARMUP_STEPS} warm-up steps and one timed step of "
                       f"batch {BATCH}), got {args.samples}")
    if args.repeats < 1:
        raise CliError(f"--repeats must be 1 or more, got {args.repeats}")
    out = Path(args.out)
    if out.is_dir() or not out.parent.is_dir() or not os.access(out.parent, os.W_OK):
        raise CliError(f"--out {out}: {'a folder' if out.is_dir() else 'its folder does not exist or is not writable'}; "
                       f"give a file in an existing, writable folder")
    try:
        parse_args(shlex.split(args.suite_args) + ["--model_name_or_path", args.model, "--output_dir", "unused"])
    except (ValueError, CliError) as error:  # ValueError: shlex's, an unclosed quote
        raise CliError(f"--suite_args: {error}") from None
    except SystemExit:  # argparse's own usage error, already printed
        raise CliError(f"--suite_args {args.suite_args!r} is not a valid train.py command line") from None


@reports_errors
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    check_options(args)
    report = run_benchmark(args)
    write_atomic(args.out, json.dumps(report, indent=2) + "\n")
    print(format_table(report))
    print(f"\nJSON: {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
