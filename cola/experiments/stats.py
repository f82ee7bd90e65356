"""The statistics a sweep of seeds and the comparison report share: one entry per run, and their summary.

CoLA's MCC swings by several points between seeds, so every figure is reported as a distribution over runs
(median and quartiles first, mean and sample std beside them), and runs that collapsed to one class are named.
"""

from __future__ import annotations

import statistics

from ..results import single_class


def run_entry(seed: int, output_dir: str, results: dict) -> dict:
    """One run of a sweep, as the sweep's results.json lists it: its eval sections, train figures, degeneracy."""
    entry = {"seed": seed, "output_dir": output_dir}
    entry.update({key: value for key, value in results.items() if key.startswith("eval")})
    entry["train"] = results["train"]
    entry["degenerate"] = is_degenerate(results["eval"])
    return entry


def sweep_runs(results: dict) -> list[dict]:
    """A sweep's results.json's runs as `run_entry` makes them (degeneracy recomputed): what `aggregate` is taken
    from when the file is read back, never the file's own summary."""
    return [run_entry(run["seed"], run["output_dir"], run) for run in results["runs"]]


def is_degenerate(eval_section: dict) -> bool:
    """A run whose predictions are all one class (`cola.results.single_class`)."""
    return single_class(eval_section) is not None


def aggregate(runs: list[dict]) -> dict:
    """The across-seeds summary of `run_entry` dicts."""
    summary = {"n_runs": len(runs)}
    for key in ("matthews_correlation", "accuracy"):
        summary[key] = describe([r["eval"][key] for r in runs])
    # Per group (CoLA: in_domain, out_of_domain), where every run reports it.
    for section in sorted(set.intersection(*(set(r) for r in runs))):
        if section.startswith("eval_"):
            summary[section.removeprefix("eval_")] = {
                key: describe([r[section][key] for r in runs]) for key in ("matthews_correlation", "accuracy")
            }
    summary["train_runtime_s"] = describe([r["train"]["runtime_s"] for r in runs])
    summary["train_samples_per_second"] = describe([r["train"]["samples_per_second"] for r in runs])
    summary["degenerate_runs"] = [r["seed"] for r in runs if r["degenerate"]]
    return summary


def describe(values: list[float]) -> dict:
    """median, mean, std (sample; 0 for one value), min, max and the quartiles q1, q3 (inclusive method)."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("no values to describe")
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else (values[0],) * 3
    return {
        "median": statistics.median(values),
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
        "q1": q1,
        "q3": q3,
    }
