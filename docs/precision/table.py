"""bf16 against fp32 at base size, row by row: docs/precision/table.md from the bf16 runs (OUT, made by run.sh)
and the committed fp32 reports (docs/grid_base/report, docs/search/best_base).

    python docs/precision/table.py outputs/precision
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent
# row -> (the bf16 run's folder name, the committed fp32 report and its row)
ROWS = {
    "full fine-tuning (grid, 1 epoch)": ("freeze0_bf16", DOCS / "grid_base/report/report.json", "freeze0"),
    "embeddings + 6 of 12 layers frozen, cached (grid, 1 epoch)": ("freeze7_bf16", DOCS / "grid_base/report/report.json",
                                                                   "freeze7"),
    "recipes/best_base.json (2 epochs, seeds 11-15)": ("best_base_bf16", DOCS / "search/best_base/report.json",
                                                      "search_best_base"),
}


def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def main(out: Path) -> int:
    lines = [
        "| row | seeds | fp32 MCC median (IQR) | bf16 MCC median (IQR) | bf16 - fp32 | fp32 IQR width | fp32 per seed | "
        "bf16 per seed | bf16 s/run (median) |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    for label, (folder, report, name) in ROWS.items():
        results = out / folder / "results.json"
        if not results.is_file():
            lines.append(f"| {label} | not run yet | | | | | | | |")
            continue
        bf16 = json.loads(results.read_text())
        fp32 = next(row for row in json.loads(report.read_text())["runs"] if row["name"] == name)
        seeds = [run["seed"] for run in bf16["runs"]]
        if seeds != fp32["seeds"]:
            raise SystemExit(f"{results}: seeds {seeds}, the fp32 row's are {fp32['seeds']}")
        ours = [run["eval"]["matthews_correlation"] for run in bf16["runs"]]
        theirs = fp32["mcc_per_seed"]
        (a1, a, a3), (b1, b, b3) = quartiles(theirs), quartiles(ours)
        seconds = statistics.median(run["train"]["runtime_s"] for run in bf16["runs"])
        lines.append(f"| {label} | {' '.join(map(str, seeds))} | {a:.3f} ({a1:.3f}-{a3:.3f}) | {b:.3f} ({b1:.3f}-{b3:.3f}) "
                     f"| {b - a:+.3f} | {a3 - a1:.3f} | {' '.join(f'{v:.3f}' for v in theirs)} | "
                     f"{' '.join(f'{v:.3f}' for v in ours)} | {seconds:.0f} |")
    table = Path(__file__).resolve().parent / "table.md"
    table.write_text("\n".join(lines) + "\n")
    print(table.read_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "outputs/precision")))
