"""`cola.experiments.stats`: per-run entries and the across-seeds summary (median, quartiles, degenerate runs)."""

import pytest

from cola.experiments.stats import aggregate, describe, is_degenerate, run_entry


def test_describe_uses_inclusive_quartiles_and_sample_std():
    d = describe([0.1, 0.2, 0.3, 0.4, 0.5])
    assert d["median"] == 0.3 and d["q1"] == pytest.approx(0.2) and d["q3"] == pytest.approx(0.4)
    assert d["std"] == pytest.approx(0.158113883) and d["min"] == 0.1 and d["max"] == 0.5
    assert describe([0.7]) == {"median": 0.7, "mean": 0.7, "std": 0.0, "min": 0.7, "max": 0.7, "q1": 0.7, "q3": 0.7}
    with pytest.raises(ValueError):
        describe([])


def test_degenerate_runs_predict_one_class():
    assert is_degenerate({"predicted_a": 1.0, "predicted_b": 0.0})
    assert not is_degenerate({"predicted_a": 0.6, "predicted_b": 0.4})


def _results(mcc, in_domain, share):
    return {"eval": {"matthews_correlation": mcc, "accuracy": 0.7, "predicted_acceptable": share,
                     "predicted_unacceptable": 1 - share},
            "eval_in_domain": {"matthews_correlation": in_domain, "accuracy": 0.8},
            "train": {"runtime_s": 10.0, "samples_per_second": 5.0}, "config": {}}


def test_aggregate_summarises_every_group_and_names_degenerate_seeds():
    runs = [run_entry(seed, f"seed_{seed}", _results(mcc, mcc + 0.1, share))
            for seed, mcc, share in [(1, 0.2, 0.6), (2, 0.0, 1.0), (3, 0.4, 0.7)]]
    assert runs[1] == {"seed": 2, "output_dir": "seed_2", "eval": runs[1]["eval"], "eval_in_domain": runs[1]["eval_in_domain"],
                       "train": runs[1]["train"], "degenerate": True}
    summary = aggregate(runs)
    assert summary["n_runs"] == 3 and summary["matthews_correlation"]["median"] == 0.2
    assert summary["in_domain"]["matthews_correlation"]["median"] == pytest.approx(0.3)
    assert summary["degenerate_runs"] == [2] and summary["train_runtime_s"]["median"] == 10.0
