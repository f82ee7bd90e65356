"""The step time over the run, per row of the progressive-freezing experiment (docs/progressive/run.sh): the mean
optimizer step in each tenth of the run (results.json's train.step_seconds), median over seeds, as a markdown
table; and each row's whole wall time per call (wall.tsv: loading, training with every cache fill and growth, the
final evaluation), median over seeds; where a seed's row was run again (its folder deleted, the script rerun), the
last call's time counts.

    python docs/progressive/step_times.py outputs/progressive_base
"""

import json
import statistics
import sys
from pathlib import Path

ROWS = ("full", "auto", "auto_tol", "linear", "auto_late", "half")


def main(out: Path) -> None:
    last: dict[tuple[str, str], float] = {}  # (row, seed): the last call's seconds
    for line in (out / "wall.tsv").read_text().splitlines():
        name, seed, seconds = line.split("\t")
        last[name, seed] = float(seconds)
    walls: dict[str, list[float]] = {}
    for (name, _seed), seconds in last.items():
        walls.setdefault(name, []).append(seconds)
    print("| row | seeds | wall s/call | train s | " + " | ".join(f"{i}0%" for i in range(1, 11)) + " |")
    print("|---" * 14 + "|")
    for row in ROWS:
        runs = [json.loads(p.read_text()) for p in sorted((out / row).glob("seed_*/results.json"))]
        if not runs:
            continue
        tenths = [r["train"]["step_seconds"]["mean_by_tenth"] for r in runs]
        cells = [f"{statistics.median(t[i] for t in tenths):.3f}" for i in range(len(tenths[0]))]
        train = statistics.median(r["train"]["runtime_s"] for r in runs)
        print(f"| {row} | {len(runs)} | {statistics.median(walls.get(row, [float('nan')])):.0f} | {train:.0f} | "
              + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
