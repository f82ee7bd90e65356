"""Every evaluation figure of two runs side by side, and whether they are identical (timings left out).

    python docs/own_data/same_metrics.py outputs/own_data/cola outputs/own_data/csv

Exit status 0 when every figure is equal, 1 otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TIMINGS = ("runtime_s", "samples_per_second")


def figures(run: Path) -> dict[str, float]:
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    return {f"{section}.{key}": value for section, values in results.items() if section.startswith("eval")
            for key, value in values.items() if key not in TIMINGS}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    a, b = (figures(Path(run)) for run in argv)
    print(f"{'figure':48} {argv[0]:>22} {argv[1]:>22}")
    for key in sorted(a.keys() | b.keys()):
        mark = "" if a.get(key) == b.get(key) else "   <- differs"
        print(f"{key:48} {a.get(key, 'absent')!s:>22} {b.get(key, 'absent')!s:>22}{mark}")
    same = a == b
    print(f"{len(a)} figures; {'all identical' if same else 'NOT identical'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
