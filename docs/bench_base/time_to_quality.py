"""Time to quality at base size: how long a frozen + cached recipe takes to reach full fine-tuning's median MCC.

    python docs/bench_base/time_to_quality.py outputs/grid_base/freeze0 outputs/grid_base/freeze7 outputs/search_best_base

The first folder is full fine-tuning (a `--seeds` sweep of train.py); the others are the candidates. A run's wall
time is what it costs end to end before its final evaluation: the cache pass (`frozen_cache.build_seconds`, 0
when uncached) plus training (`train.runtime_s`, which includes any evaluation during training). The quality bar
is full fine-tuning's median GLUE-dev MCC; a candidate reaches it when its own median does. Prints a markdown table
(the figures in docs/bench_base/README.md come from it).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def seeds_of(folder: Path) -> list[dict]:
    """Every seed's results.json of a sweep (or the one run of a single-run folder)."""
    top = json.loads((folder / "results.json").read_text())
    if "runs" not in top:
        return [top]
    return [json.loads((folder / run["output_dir"] / "results.json").read_text()) for run in top["runs"]]


def figures(folder: Path) -> dict:
    runs = seeds_of(folder)
    walls = [r["train"]["runtime_s"] + (r.get("frozen_cache") or {}).get("build_seconds", 0.0) for r in runs]
    return {"name": str(folder), "seeds": len(runs), "mcc": statistics.median(r["eval"]["matthews_correlation"] for r in runs),
            "wall_s": statistics.median(walls), "epochs": runs[0]["train"]["epochs"],
            "frozen": len(runs[0]["plan"]["frozen_groups"])}


def main(argv: list[str]) -> int:
    full, *candidates = (figures(Path(folder)) for folder in argv)
    print(f"Bar: full fine-tuning's median GLUE-dev MCC {full['mcc']:.3f} ({full['seeds']} seeds), reached in "
          f"{full['wall_s']:.0f} s (median wall time).\n")
    print("| run | frozen groups | epochs | seeds | MCC median | reaches the bar | wall s (median) | vs full |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    for row in (full, *candidates):
        reached = "yes" if row["mcc"] >= full["mcc"] else "no"
        print(f"| {row['name']} | {row['frozen']} | {row['epochs']:g} | {row['seeds']} | {row['mcc']:.3f} | {reached} "
              f"| {row['wall_s']:.0f} | {row['wall_s'] / full['wall_s']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
