"""The grid's frozen rows before (docs/grid/report.json) and after issue 12's defaults (a run_grid_frozen.sh folder).

    python docs/grid/before_after.py docs/grid/report.json outputs/grid_frozen > docs/grid/frozen_cached/before_after.md

Per row: median MCC and IQR over the 5 seeds, and the median time per run. "After" counts the cache pass with
the training time (it happens before the Trainer's clock starts), so the times compare like with like. "Before"
ran on another CPU; the control column is the same row on this machine with the old behaviour (seed 1).
"""

import json
import sys
from pathlib import Path

from cola.experiments.stats import describe


def median_iqr(values) -> tuple[float, float]:
    d = describe(values)
    return d["median"], d["q3"] - d["q1"]


def main(before_path: str, after_dir: str) -> None:
    before = {run["name"]: run for run in json.loads(Path(before_path).read_text())["runs"]}
    print("| row | MCC median (IQR) before | after | s per run before (other CPU) | control, this CPU | after "
          "(of which cache pass) |")
    print("|---|---|---|---|---|---|")
    for folder in sorted(f for f in Path(after_dir).iterdir() if f.name in before):
        seeds = [json.loads(p.read_text()) for p in sorted(folder.glob("seed_*/results.json"))]
        mcc, iqr = median_iqr([r["eval"]["matthews_correlation"] for r in seeds])
        cache = describe([r["frozen_cache"].get("build_seconds", 0.0) for r in seeds])["median"]
        seconds = describe([r["train"]["runtime_s"] + r["frozen_cache"].get("build_seconds", 0.0) for r in seeds])["median"]
        old = before[folder.name]["aggregate"]
        old_mcc = old["matthews_correlation"]
        control = json.loads((Path(after_dir) / "control" / folder.name / "seed_1" / "results.json").read_text())
        print(f"| {folder.name} | {old_mcc['median']:.3f} ({old_mcc['q3'] - old_mcc['q1']:.3f}) | "
              f"{mcc:.3f} ({iqr:.3f}) | {old['train_runtime_s']['median']:.0f} | {control['train']['runtime_s']:.0f} | "
              f"{seconds:.0f} ({cache:.0f}) |")


if __name__ == "__main__":
    main(*sys.argv[1:])
