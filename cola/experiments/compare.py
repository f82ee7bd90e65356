"""Compare runs: one row per run directory, as a markdown table, a figure and JSON.

    python -m cola.experiments.compare outputs/grid/* --out docs/grid

Each RUN_DIR is what train.py wrote: a multi-seed run (`--seeds`: results.json with `runs`) or a single run
(results.json with `eval`, treated as one seed). Writes to --out:

- report.md: the data the runs share in its title (CoLA, wherever read from; your files or Hub dataset), or a
  data column and a warning when they differ; per run its model, epochs, peak LR (and the head's multiplier),
  batch size per device, which checkpoint is evaluated, freeze (and LoRA's rank and targets), class weights,
  layer-wise LR decay, gradual unfreezing, trainable parameters, MCC median and interquartile range over seeds,
  in- and out-of-domain MCC, accuracy, degenerate runs, train time and samples/s;
  then every seed's MCC;
  then, where the runs share seeds with the first and kept their eval_predictions.csv, each run's MCC difference from
  the first, paired by seed, with a 95% bootstrap interval over the evaluation sentences (`cola.experiments.paired`)
  and its training time as a share of the first's; then every seed's MCC. A rising floor (`--progressive_freeze`)
  shows in the freeze column: where it ended, in how many rises;
- report.png: MCC per configuration (each seed a dot, the median a bar) and the median training time per run;
- report_floor.png (runs that logged their loss): the training loss over the steps beside the frozen floor;
- report.json: the same rows, for other tools.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from matplotlib.figure import Figure

from ..errors import CliError, on_one_line, reports_errors
from ..files import real_path, write_atomic
from ..recipes import check_stored_options
from ..redact import command_line
from ..results import read_results
from ..run_files import RESULTS_FILE
from ..schema import SWEEP, SchemaError, plan_from_config
from .paired import DRAWS, paired_difference, read_predictions
from .stats import aggregate, run_entry, sweep_runs

PROG = "cola.experiments.compare"


# metric_for_best_model -> how the report names it ("dev" is the run's whole evaluation set).
CHECKPOINT_METRICS = {
    "matthews_correlation": "dev MCC",
    "in_domain_matthews_correlation": "in-domain MCC",
    "out_of_domain_matthews_correlation": "out-of-domain MCC",
}


def load_run(run_dir: str | Path) -> dict:
    """One report row from a run directory."""
    run_dir = Path(run_dir)
    path = run_dir / RESULTS_FILE
    if run_dir.exists() and not run_dir.is_dir():
        raise CliError(f"{run_dir}: not a directory (give the output_dir of a train.py run)")
    if not path.is_file():
        raise CliError(f"{run_dir}: no {RESULTS_FILE} (not a finished run of train.py)")
    results = _read(path)
    check_stored_options(path, results["config"])
    try:
        return _row(run_dir, results)
    except (KeyError, IndexError, TypeError, SchemaError) as error:
        missing = f"key {error}" if isinstance(error, KeyError) else on_one_line(error)
        raise CliError(f"{path}: not the results.json of a train.py run ({missing} missing or malformed)") from None


def _read(path: Path) -> dict:
    """A results.json, every value the report uses checked (`cola.results.read_results`), or one line naming it."""
    try:
        return read_results(path)
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None
    except SchemaError as error:
        raise CliError(f"{path}: {error}") from None


def _row(run_dir: Path, results: dict) -> dict:
    if results["kind"] == SWEEP:
        # The summary is recomputed from the runs, not read: a number in a file is checked, a derived one is not.
        runs = sweep_runs(results)
        summary = aggregate(runs)
        folders = {r["seed"]: run_dir / r["output_dir"] for r in runs}
        # Each seed's own results (None where they are gone): the first's plan, every seed's rises and losses.
        seed_results = {seed: _read(folder / RESULTS_FILE) if (folder / RESULTS_FILE).is_file() else None
                        for seed, folder in folders.items()}
    else:
        runs = [run_entry(results["config"]["seed"], ".", results)]
        summary = aggregate(runs)
        folders, seed_results = {runs[0]["seed"]: run_dir}, {runs[0]["seed"]: results}
    one_run = seed_results[runs[0]["seed"]] or {}
    config = results["config"]
    trained = [r["train"].get("epochs") for r in runs]  # max_steps or early stopping can end before num_train_epochs
    steps = [r["train"].get("steps") for r in runs]
    # A sweep whose first seed's results are gone: what trained, from its options.
    plan = one_run.get("plan") or plan_from_config(config, None)
    return {
        "name": run_dir.name,
        "eval_rows": one_run.get("data", {}).get("rows", {}).get("eval"),
        "path": str(run_dir),
        "model": config["model_name_or_path"],
        "data": data_name(one_run.get("data", {}).get("source"), config),
        "freeze": len(plan["frozen_groups"]) if plan["frozen_groups"] is not None else config["freeze"],
        "layer_groups": plan["layer_groups"],
        "lora": plan.get("lora"),
        "progressive": (plan.get("progressive") or {}).get("mode"),
        # per seed: the frozen floor after each rise ([step, groups frozen]), and the logged training loss
        "floor_rises": {seed: rises for seed, r in seed_results.items() if (rises := floor_rises(r)) is not None},
        "losses": {seed: r["train"]["losses"] for seed, r in seed_results.items() if r and r["train"].get("losses")},
        "seed_folders": {seed: str(folder) for seed, folder in folders.items()},
        "trainable_parameters": one_run.get("trainable_parameters"),
        "class_weights": config["class_weights"],
        "layer_lr_decay": config.get("layer_lr_decay", 1.0),
        "gradual_unfreeze_steps": plan["unfreeze_every"],
        "epochs": statistics.median(trained) if None not in trained else config["num_train_epochs"],
        "steps": max(steps) if None not in steps else None,
        "learning_rate": config["learning_rate"],
        "head_lr_multiplier": config.get("head_lr_multiplier", 1.0),
        "batch_size": config["per_device_train_batch_size"] * config.get("gradient_accumulation_steps", 1),
        "checkpoint": checkpoint_choice(config),
        "seeds": [r["seed"] for r in runs],
        "eval_n": runs[0]["eval"]["n"],
        "mcc_per_seed": [r["eval"]["matthews_correlation"] for r in runs],
        "aggregate": summary,
        "degenerate": len(summary["degenerate_runs"]),
        # Seeds that took no optimizer step (train.py refuses to report those now; older results may hold them).
        "never_trained": [r["seed"] for r in runs if not r["train"].get("steps")],
    }


def floor_rises(results: dict | None) -> list[list[int]] | None:
    """A rising floor's events as [step, groups frozen after it] (None: the run's floor did not rise)."""
    progressive = ((results or {}).get("plan") or {}).get("progressive")
    return None if not progressive else [[event["step"], len(event["frozen_groups"])] for event in progressive["events"]]


def data_name(source: str | None, config: dict) -> str:
    """What a run trained and was evaluated on, as the report names it: "CoLA" wherever its TSVs were read from (the
    folder differs between machines, not the data); your files or Hub dataset as train.py described them."""
    if source is None:  # a sweep whose first seed's results are gone
        source = "CoLA" if not (config.get("train_file") or config.get("dataset_name")) else "your data"
    return "CoLA" if source.startswith("CoLA") else source


def distinct_names(rows: list[dict]) -> list[dict]:
    """Rows whose folders share a name are told apart by as many parent folders as it takes."""
    depth = 1
    while True:
        names = ["/".join(Path(row["path"]).resolve().parts[-depth:]) for row in rows]
        if len(set(names)) == len(names) or depth > max(len(Path(row["path"]).resolve().parts) for row in rows):
            break
        depth += 1
    return [{**row, "name": name} for row, name in zip(rows, names)]


def checkpoint_choice(config: dict) -> str:
    """Which checkpoint a run reports: its last one, or the best on a metric (which then flatters that metric)."""
    if not config.get("load_best_model_at_end") or config.get("eval_strategy") == "no":
        return "last"
    metric = (config.get("metric_for_best_model") or "loss").removeprefix("eval_")
    return f"best {CHECKPOINT_METRICS.get(metric, metric)}"


def markdown(rows: list[dict], command: str) -> str:
    data = sorted({row["data"] for row in rows})
    mixed = len(data) > 1
    lines = [
        f"# Runs compared on {data[0]}" if not mixed else "# Runs compared (on different data)",
        "",
        *([f"**These runs trained and were evaluated on different data** ({'; '.join(data)}): compare scores "
           "within one data set only.", ""] if mixed else []),
        *[f"**Note:** {note}.\n" for note in scoring_notes(rows)],
        f"Made by `{command}`. MCC and accuracy on each run's evaluation set (eval n sentences); median over "
        "seeds, IQR = first to third quartile. Freeze: frozen of all layer groups. Degenerate: runs that predict a "
        "single class (MCC 0). Batch: per device, times gradient accumulation. Checkpoint: the run's last, or its best "
        "on the named dev metric (a best-of choice flatters the set it was chosen on). A run marked NEVER TRAINED "
        "took no optimizer step in the seeds named: its scores are the untrained model's.",
        "",
        "| run | model | " + ("data | " if mixed else "") + "epochs | LR | batch | checkpoint | freeze | class weights "
        "| LR decay | gradual unfreezing | trainable params | seeds | eval n | MCC median | MCC IQR | in-domain MCC "
        "| out-of-domain MCC | accuracy | degenerate | train s/run | samples/s |",
        "|---" * (22 if mixed else 21) + "|",
    ]
    for row in rows:
        agg = row["aggregate"]
        agg_mcc = agg["matthews_correlation"]
        freeze = f"{row['freeze']}/{row['layer_groups']}" if row["layer_groups"] else str(row["freeze"])
        if row.get("lora"):
            freeze += f" + LoRA r{row['lora']['r']} ({' '.join(row['lora']['target_modules'])})"
        if row.get("progressive"):
            freeze += f" rising ({row['progressive']}): {rise_summary(row['floor_rises'], start=row['freeze'])}"
        trainable = f"{row['trainable_parameters']:,}" if row.get("trainable_parameters") is not None else "n/a"
        name = row["name"] + (f" (NEVER TRAINED: seed {', '.join(map(str, row['never_trained']))})"
                              if row.get("never_trained") else "")
        cells = [
            name, row["model"], *([row["data"]] if mixed else []), f"{row['epochs']:.3g}", _learning_rate(row),
            str(row["batch_size"]), row["checkpoint"],
            freeze, "on" if row["class_weights"] else "off",
            "off" if row["layer_lr_decay"] == 1 else f"{row['layer_lr_decay']:g}",
            f"every {row['gradual_unfreeze_steps']} steps" if row["gradual_unfreeze_steps"] else "off", trainable,
            str(len(row["seeds"])), str(row["eval_n"]), f"{agg_mcc['median']:.3f}", f"{agg_mcc['q1']:.3f}–{agg_mcc['q3']:.3f}",
            _domain(agg, "in_domain"), _domain(agg, "out_of_domain"), f"{agg['accuracy']['median']:.3f}",
            f"{row['degenerate']}/{len(row['seeds'])}", f"{agg['train_runtime_s']['median']:.1f}",
            f"{agg['train_samples_per_second']['median']:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += paired_lines(rows)
    lines += ["", "## MCC per seed", "", "| run | seed: MCC |", "|---|---|"]
    for row in rows:
        pairs = ", ".join(f"{seed}: {mcc:.3f}" for seed, mcc in zip(row["seeds"], row["mcc_per_seed"]))
        lines.append(f"| {row['name']} | {pairs} |")
    return "\n".join(lines) + "\n"


def rise_summary(rises: dict, *, start: int) -> str:
    """How a rising floor went over the seeds: where it ended, in how many rises, the last one's step (medians).
    `start`: the floor it rose from (--freeze), where a seed's floor never rose."""
    if not rises:
        return "no seed's results"
    final = [r[-1][1] if r else start for r in rises.values()]
    last = [r[-1][0] for r in rises.values() if r]
    count = statistics.median(len(r) for r in rises.values())
    return (f"to {statistics.median(final):g} groups in {count:g} rise{'' if count == 1 else 's'}"
            + (f", the last at step {statistics.median(last):g}" if last else "") + " (medians over seeds)")


def paired_lines(rows: list[dict]) -> list[str]:
    """The paired comparison of each run with the first, where they share seeds (`cola.experiments.paired`)."""
    paired = [row for row in rows[1:] if row.get("paired")]
    if not paired:
        return []
    first = rows[0]
    lines = ["", f"## Against {first['name']}, paired by seed", "",
             f"MCC of each run minus {first['name']}'s on the same seed, averaged over the seeds both have; 95% interval "
             f"from {DRAWS:,} bootstrap draws of the evaluation sentences within each seed (the same draw for both runs "
             "of a seed). Training time: median per run, as a share of the first run's.", "",
             "| run | shared seeds | MCC difference | 95% interval | per seed | training time |", "|---|---|---|---|---|---|"]
    for row in paired:
        p = row["paired"]
        lines.append(f"| {row['name']} | {len(p['seeds'])} | {p['mean']:+.3f} | {p['low']:+.3f} to {p['high']:+.3f} | "
                     + ", ".join(f"{seed}: {d:+.3f}" for seed, d in zip(p["seeds"], p["per_seed"]))
                     + f" | {row['time_vs_first']:.2f}x |")
    return lines


def pair_with_first(rows: list[dict]) -> None:
    """Each later row's paired MCC difference with the first (`paired`) and its time as a share of the first's."""
    def predictions(row):
        try:
            found = {int(seed): read_predictions(Path(folder)) for seed, folder in row["seed_folders"].items()}
        except ValueError as error:  # a damaged file: refused, naming it
            raise CliError(str(error)) from None
        return {seed: table for seed, table in found.items() if table is not None}

    first = predictions(rows[0])
    for row in rows[1:]:
        try:
            row["paired"] = paired_difference(first, predictions(row))
        except ValueError as error:  # scored on other sentences: the table still compares them, with a note
            row["paired"], row["unpaired"] = None, f"{row['name']} is not paired with {rows[0]['name']} ({error})"
        row["time_vs_first"] = (row["aggregate"]["train_runtime_s"]["median"]
                                / rows[0]["aggregate"]["train_runtime_s"]["median"])


def plot(rows: list[dict], path: Path) -> None:
    fig = figure(rows)
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))


def figure(rows: list[dict]) -> Figure:
    """MCC per configuration (each seed a dot, the IQR a band, the median a bar) beside the median time per run.

    A bare `Figure`, not pyplot: no display backend is chosen or needed, and nothing global changes."""
    names = [row["name"] for row in rows]
    positions = range(len(rows))
    fig = Figure(figsize=(12, 0.45 * len(rows) + 1.6))
    ax_mcc, ax_time = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [3, 1.2]})
    for y, row in zip(positions, rows):
        ax_mcc.scatter(row["mcc_per_seed"], [y] * len(row["mcc_per_seed"]), s=18, alpha=0.7, color="tab:blue", zorder=3)
        agg = row["aggregate"]["matthews_correlation"]
        ax_mcc.plot([agg["q1"], agg["q3"]], [y, y], color="tab:blue", linewidth=6, alpha=0.25, zorder=2)
        ax_mcc.plot([agg["median"]] * 2, [y - 0.3, y + 0.3], color="black", linewidth=2, zorder=4)
    ax_mcc.set_yticks(list(positions), names)
    ax_mcc.invert_yaxis()
    ax_mcc.set_xlabel("MCC (dots: seeds; band: IQR; bar: median)")
    ax_mcc.grid(axis="x", alpha=0.3)
    ax_time.barh(list(positions), [row["aggregate"]["train_runtime_s"]["median"] for row in rows], color="tab:gray")
    ax_time.set_xlabel("training time per run (s, median)")
    ax_time.grid(axis="x", alpha=0.3)
    data = sorted({row["data"] for row in rows})
    fig.suptitle(f"{data[0] if len(data) == 1 else 'Different data'}: MCC per configuration and time per run")
    fig.tight_layout()
    return fig


def floor_figure(rows: list[dict]) -> Figure:
    """The training loss over the optimizer steps (mean over seeds) beside the frozen floor (each seed a line): where
    a rising floor rose, and what the loss did meanwhile. A static freeze is a flat line at its floor; a run that froze
    nothing has no line. Each line runs to the run's last step (its losses may not reach it: a short run logs none)."""
    fig = Figure(figsize=(12, 4.2))
    ax_loss, ax_floor = fig.subplots(1, 2, sharex=True)
    colors = [f"C{i % 10}" for i in range(len(rows))]
    for row, color in zip(rows, colors):
        curves = list(row["losses"].values())
        if curves:
            steps = [step for step, _ in curves[0]]
            mean = [statistics.fmean(c[i][1] for c in curves if i < len(c)) for i in range(len(steps))]
            ax_loss.plot(steps, mean, color=color, label=row["name"], linewidth=1.2)
        last = max([row["steps"] or 0, *(c[-1][0] for c in curves if c)])
        if not (row["floor_rises"] or row["freeze"]):
            continue
        for i, rises in enumerate((row["floor_rises"] or {seed: [] for seed in row["seeds"]}).values()):
            xs, ys = [0], [row["freeze"]]
            for step, floor in rises:
                xs += [step, step]
                ys += [ys[-1], floor]
            ax_floor.plot([*xs, last], [*ys, ys[-1]], color=color, alpha=0.6, linewidth=1.2,
                          label=row["name"] if i == 0 else None)
    ax_loss.set_xlabel("optimizer step")
    ax_loss.set_ylabel("training loss (mean over seeds)")
    ax_loss.grid(alpha=0.3)
    if ax_loss.get_legend_handles_labels()[0]:  # (runs too short to log a loss draw the floor alone)
        ax_loss.legend(fontsize=8)
    ax_floor.set_xlabel("optimizer step")
    ax_floor.set_ylabel("layer groups frozen (each seed a line)")
    ax_floor.grid(alpha=0.3)
    ax_floor.legend(fontsize=8)
    fig.suptitle("Training loss and the frozen floor over the run")
    fig.tight_layout()
    return fig


def _learning_rate(row: dict) -> str:
    head = row["head_lr_multiplier"]
    return f"{row['learning_rate']:.1e}".replace("e-0", "e-") + ("" if head == 1 else f", head ×{head:g}")


def _domain(agg: dict, domain: str) -> str:
    return f"{agg[domain]['matthews_correlation']['median']:.3f}" if domain in agg else "n/a"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python -m {PROG}", description="Compare train.py runs (single or multi-seed) in a table and a figure.",
        allow_abbrev=False,
    )
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="output_dir of a train.py run")
    parser.add_argument("--out", required=True, help="folder for report.md, report.png and report.json")
    return parser


REPORT_FILES = ("report.md", "report.json", "report.png", "report_floor.png")


def check_report_folder(out: Path) -> None:
    """The report's folder holds no files of those names but an earlier report of this tool's (rewritten)."""
    present = [name for name in REPORT_FILES if (out / name).exists() or (out / name).is_symlink()]
    if not present:
        return
    try:
        earlier = json.loads((out / "report.json").read_text(encoding="utf-8"))
        ours = isinstance(earlier, dict) and str(earlier.get("command", "")).startswith(f"python -m {PROG}")
    except (OSError, ValueError):
        ours = False
    links = [name for name in present if (out / name).is_symlink()]
    if not ours or links:
        raise CliError(f"{out / (links or present)[0]} is not a report this tool wrote; choose another --out (or move it)")


def scoring_notes(rows: list[dict]) -> list[str]:
    """Runs on the same data scored on evaluation sets of different sizes (--max_eval_samples): not comparable."""
    notes = []
    for data in sorted({row["data"] for row in rows}):
        sizes = {row["name"]: row.get("eval_rows") for row in rows if row["data"] == data and row.get("eval_rows")}
        if len(set(sizes.values())) > 1:
            listed = ", ".join(f"{name} on {n}" for name, n in sizes.items())
            notes.append(f"runs on {data} were scored on evaluation sets of different sizes ({listed} rows; "
                         f"--max_eval_samples?): their scores are not comparable")
    return notes + [row["unpaired"] for row in rows if row.get("unpaired")]


@reports_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    seen = {}
    for spelled in args.run_dirs:
        real = real_path(spelled)
        if real in seen:
            raise CliError(f"{spelled} and {seen[real]} are the same run; give each run once")
        seen[real] = spelled
    rows = distinct_names([load_run(path) for path in seen])
    pair_with_first(rows)
    out = real_path(args.out)
    check_report_folder(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CliError(f"cannot write to {args.out}: {error.strerror}") from None
    for note in scoring_notes(rows):
        print(f"note: {note}", file=sys.stderr)
    command = command_line(f"python -m {PROG}", sys.argv[1:] if argv is None else argv)
    write_atomic(out / "report.md", markdown(rows, command))
    write_atomic(out / "report.json", json.dumps({"command": command, "runs": rows}, indent=2) + "\n")
    plot(rows, out / "report.png")
    written = [out / name for name in ("report.md", "report.png", "report.json")]
    if any(row["losses"] or row["floor_rises"] for row in rows):
        fig = floor_figure(rows)
        write_atomic(out / "report_floor.png", lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
        written.append(out / "report_floor.png")
    print(f"compared {len(rows)} runs: {', '.join(map(str, written))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
