"""--precision: what 'auto' picks on which hardware, explicit flags, and what a run's config keeps."""

import json

import pytest
import torch

import cola.precision
from cola.errors import CliError
from cola.precision import BF16_MIN_SPEEDUP, cpu_does_bf16_fast, cpu_flags, detect_precision
from cola.recipes import parse_args, resolved_config

CPUS = {
    # the kinds of CPU the project's machines have: AMX (Sapphire Rapids), AVX-512 BF16 only (AMD Zen 4), neither
    "amx": "model name\t: Intel(R) Xeon(R) Platinum 8480+\nflags\t\t: fpu avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n",
    "zen4": "model name\t: AMD EPYC 9B14\nflags\t\t: fpu avx512f avx512_bf16 avx512_vnni\n",
    "neither": "model name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\nflags\t\t: fpu avx512f avx512_vnni\n",
}


@pytest.mark.parametrize("kind, speedup, expected", [
    ("amx", 9.0, True), ("zen4", 1.8, True),  # the hardware does bf16 and the probe confirms it
    ("zen4", 1.0, False),  # a flag with no speed behind it (a virtual machine that passes the flag on): fp32
    ("neither", 9.0, False),  # no flag: the probe is not even run
])
def test_bf16_where_a_flag_says_the_cpu_does_it_and_the_probe_confirms(tmp_path, kind, speedup, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUS[kind])
    probes = []

    def probe():
        probes.append(1)
        return speedup

    cache = tmp_path / "cache" / "bf16_probe.json"
    assert cpu_does_bf16_fast(cpuinfo=cpuinfo, probe=probe, cache=cache) is expected
    assert cpu_does_bf16_fast(cpuinfo=cpuinfo, probe=probe, cache=cache) is expected
    assert len(probes) == (0 if kind == "neither" else 1)  # measured once, then read from the cache
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_a_damaged_probe_cache_is_measured_again(tmp_path):
    """The cache is a file anyone can edit: what is not a positive number for this machine is measured again."""
    cpuinfo, cache = tmp_path / "cpuinfo", tmp_path / "bf16_probe.json"
    cpuinfo.write_text(CPUS["zen4"])
    for damaged in ("{", "[1, 2]", '{"another machine": 9.0}'):
        cache.write_text(damaged)
        assert not cpu_does_bf16_fast(cpuinfo=cpuinfo, probe=lambda: BF16_MIN_SPEEDUP / 2, cache=cache)
    [key] = json.loads(cache.read_text()).keys() - {"another machine"}
    for value in ("fast", -3, None, True):
        cache.write_text(json.dumps({key: value}))
        assert cpu_does_bf16_fast(cpuinfo=cpuinfo, probe=lambda: 2.0, cache=cache)
        assert json.loads(cache.read_text())[key] == 2.0


def test_a_fifo_named_like_the_probe_cache_is_never_opened(tmp_path):
    """A FIFO (or any special file) where the cache would be: opening it would block the run at parsing, forever."""
    import os
    import threading

    cpuinfo, cache = tmp_path / "cpuinfo", tmp_path / "bf16_probe.json"
    cpuinfo.write_text(CPUS["zen4"])
    os.mkfifo(cache)
    answer = []
    worker = threading.Thread(target=lambda: answer.append(cpu_does_bf16_fast(cpuinfo=cpuinfo, probe=lambda: 2.0,
                                                                              cache=cache)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # blocked on the FIFO: unblock it (open its writing end) before failing
        os.close(os.open(cache, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("the probe's cache was opened though it is a FIFO")
    assert answer == [True] and not cache.is_file()  # measured; the FIFO is left as it was


def test_an_unwritable_probe_cache_only_means_probing_again(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUS["amx"])
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert cpu_does_bf16_fast(cpuinfo=cpuinfo, probe=lambda: 5.0, cache=blocked / "bf16_probe.json")


def test_auto_precision_follows_the_hardware_and_explicit_flags_win(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(cola.precision, "cpu_does_bf16_fast", lambda: False)
    assert detect_precision(use_cpu=True) == "fp32"
    assert settled(parse_args([])).precision == "fp32"
    monkeypatch.setattr(cola.precision, "cpu_does_bf16_fast", lambda: True)
    assert detect_precision(use_cpu=True) == "bf16"
    t = settled(parse_args([]))
    assert (t.precision, t.bf16, t.mixed_precision) == ("bf16", True, "bf16")
    t = settled(parse_args(["--precision", "fp32"]))
    assert (t.precision, t.bf16, t.mixed_precision) == ("fp32", False, "no")
    assert parse_args(["--bf16"]).training.precision == "bf16"
    with pytest.raises(CliError, match="--precision fp32 contradicts --bf16"):
        parse_args(["--precision", "fp32", "--bf16"])


def settled(config):
    """The training options as a run starts with them (`cola.run.build_run` settles a CPU's 'auto' first)."""
    from cola.precision import settle_auto_precision

    settle_auto_precision(config.training)
    return config.training


def test_parsing_probes_no_hardware(monkeypatch):
    """Parsing has no side effect on the machine: a CPU's 'auto' is decided when the run starts (the probe measures
    matmuls and reads and writes its cache file; a FIFO of that name once blocked every command at parsing)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    def probe():
        raise AssertionError("the bf16 probe ran while parsing")

    monkeypatch.setattr(cola.precision, "cpu_does_bf16_fast", probe)
    t = parse_args(["--output_dir", "outputs/x"]).training
    assert (t.precision, t.bf16, t.mixed_precision) == ("auto", False, "no")


def test_the_config_keeps_what_was_asked_for_and_replays_it(monkeypatch):
    """A run configured on an AMX CPU (bf16 there) replays 'auto' on a machine without AMX (fp32 there)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(cola.precision, "cpu_does_bf16_fast", lambda: True)
    config = parse_args([])
    t = settled(config)
    assert (t.precision, t.bf16, t.use_cpu) == ("bf16", True, True)  # what the Trainer is told on this machine
    resolved = resolved_config(config)
    assert (resolved["precision"], resolved["bf16"], resolved["fp16"], resolved["use_cpu"]) == ("auto", False, False, False)
    assert resolved["dataloader_pin_memory"] is True

    monkeypatch.setattr(cola.precision, "cpu_does_bf16_fast", lambda: False)
    replayed = parse_args([f"--{key}={value}" for key, value in resolved.items() if key in ("precision", "bf16", "use_cpu")])
    # fp32 there; and with no GPU the Trainer is told it is on the CPU whatever the file says (several CPU processes
    # form their process group only when told)
    assert (settled(replayed).precision, replayed.training.bf16, replayed.training.use_cpu) == ("fp32", False, True)
