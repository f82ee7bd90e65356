"""--precision: what 'auto' picks on which hardware, explicit flags, and what a run's config keeps."""

import pytest
import torch

import cola.precision
from cola.errors import CliError
from cola.precision import cpu_has_amx_bf16, detect_precision
from cola.recipes import parse_args, resolved_config


def test_amx_detection_reads_the_cpu_flags(tmp_path):
    with_amx, without = tmp_path / "amx", tmp_path / "plain"
    with_amx.write_text("processor\t: 0\nflags\t\t: fpu avx512f amx_bf16 amx_tile amx_int8\n")
    without.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_vnni\n")
    assert cpu_has_amx_bf16(with_amx) and not cpu_has_amx_bf16(without)
    assert not cpu_has_amx_bf16(tmp_path / "missing")


def test_auto_precision_follows_the_hardware_and_explicit_flags_win(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(cola.precision, "cpu_has_amx_bf16", lambda: False)
    assert detect_precision(use_cpu=True) == "fp32"
    assert parse_args([]).training.precision == "fp32"
    monkeypatch.setattr(cola.precision, "cpu_has_amx_bf16", lambda: True)
    assert detect_precision(use_cpu=True) == "bf16"
    t = parse_args([]).training
    assert (t.precision, t.bf16, t.mixed_precision) == ("bf16", True, "bf16")
    t = parse_args(["--precision", "fp32"]).training
    assert (t.precision, t.bf16, t.mixed_precision) == ("fp32", False, "no")
    assert parse_args(["--bf16"]).training.precision == "bf16"
    with pytest.raises(CliError, match="--precision fp32 contradicts --bf16"):
        parse_args(["--precision", "fp32", "--bf16"])


def test_the_config_keeps_what_was_asked_for_and_replays_it(monkeypatch):
    """A run configured on an AMX CPU (bf16 there) replays 'auto' on a machine without AMX (fp32 there)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(cola.precision, "cpu_has_amx_bf16", lambda: True)
    config = parse_args([])
    t = config.training
    assert (t.precision, t.bf16, t.use_cpu) == ("bf16", True, True)  # what the Trainer is told on this machine
    resolved = resolved_config(config)
    assert (resolved["precision"], resolved["bf16"], resolved["fp16"], resolved["use_cpu"]) == ("auto", False, False, False)
    assert resolved["dataloader_pin_memory"] is True

    monkeypatch.setattr(cola.precision, "cpu_has_amx_bf16", lambda: False)
    replayed = parse_args([f"--{key}={value}" for key, value in resolved.items() if key in ("precision", "bf16", "use_cpu")])
    # fp32 there; and with no GPU the Trainer is told it is on the CPU whatever the file says (several CPU processes
    # form their process group only when told)
    assert (replayed.training.precision, replayed.training.bf16, replayed.training.use_cpu) == ("fp32", False, True)
