"""`cola.experiments.profile_step`: operators sorted into kinds of work, and the breakdown's arithmetic."""

from types import SimpleNamespace

import pytest

from cola.experiments.profile_step import KINDS, breakdown, kind_of, main


def _event(name, own_us=0.0, parent=None):
    return SimpleNamespace(name=name, self_cpu_time_total=own_us, cpu_parent=parent)


@pytest.mark.parametrize("name, parent, kind", [
    ("aten::addmm", None, "matmul"),
    ("aten::mm", None, "matmul"),
    ("aten::_scaled_dot_product_attention_math", None, "attention"),
    ("aten::native_layer_norm", None, "norms/activations/elementwise"),
    ("aten::embedding", None, "other operators"),
    ("aten::add_", "Optimizer.step#AdamW.step", "optimizer"),
    ("aten::pad", "enumerate(DataLoader)#_SingleProcessDataLoaderIter.__next__", "collation"),
])
def test_kind_of(name, parent, kind):
    assert kind_of(_event(name, parent=_event(parent) if parent else None)) == kind


def test_breakdown_puts_the_unaccounted_wall_time_on_python():
    events = [_event("aten::mm", 30_000), _event("aten::embedding", 10_000), _event("aten::mm", 20_000)]
    report = breakdown(events, wall_s=0.1, steps=2)  # 100 ms over 2 steps, 60 ms in operators
    assert report["step_ms"] == 50 and list(report["kinds"]) == list(KINDS)
    assert report["kinds"]["matmul"] == {"ms_per_step": 25.0, "share": 0.5}
    assert report["kinds"]["Python and Trainer overhead"]["ms_per_step"] == pytest.approx(20.0)
    assert report["top_operators"][0]["name"] == "aten::mm" and report["top_operators"][0]["ms_per_step"] == 25.0


def test_bad_steps_is_one_line(capsys):
    assert main(["--steps", "0"]) == 2
    assert capsys.readouterr().err == "error: --steps must be 1 or more, got 0\n"
