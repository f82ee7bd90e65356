"""Which precision to train in: bf16 only where the hardware does bf16 matrix math fast.

On a CUDA GPU: bf16 when the GPU supports it (Ampere and newer), else fp16. On a CPU: bf16 where the CPU does
bf16 matrix products in hardware, with AMX tiles (`amx_bf16`: Sapphire Rapids and later) or AVX-512 BF16 dot
products (`avx512_bf16`: Cooper Lake, AMD Zen 4), and a short measured probe confirms it (a flag a virtual machine
passes on without the speed behind it): bf16 matmuls at least `BF16_MIN_SPEEDUP` times as fast as fp32. Without
either flag PyTorch emulates bf16 matmuls and they run several times slower than fp32 (measured on a 2-core Xeon
without them: 0.06 vs 0.31 TFLOP/s), so fp32 stays. The probe runs once per machine (CPU, flags, torch version
and thread count) and its result is kept in the suite's cache (`bf16_probe.json`). bf16 costs no MCC at base size
(docs/precision): the measurements that allowed it.

The choice is made on the machine that trains. What the user asked for (`auto`, say) is what run_config.json
keeps, so a run configured on a CPU replays in bf16 on a GPU; results.json records what was used.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .files import cache_dir, write_atomic

logger = logging.getLogger(__name__)

CHOICES = ("auto", "fp32", "bf16", "fp16")
CPUINFO = Path("/proc/cpuinfo")
FAST_BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})  # bf16 matrix products in hardware
BF16_MIN_SPEEDUP = 1.25  # the probe's bar: bf16 matmuls this much faster than fp32, or bf16 is not worth it


@dataclass(frozen=True)
class HardwareFit:
    precision: str  # fp32, bf16 or fp16: what the run trains in
    use_cpu: bool
    pin_memory: bool


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The CPU's feature flags (the first `flags` line of /proc/cpuinfo), empty where they cannot be read."""
    return frozenset(_cpuinfo_field(cpuinfo, "flags").split())


def cpu_model(cpuinfo: Path = CPUINFO) -> str:
    return _cpuinfo_field(cpuinfo, "model name") or "unknown"


def _cpuinfo_field(cpuinfo: Path, name: str) -> str:
    """The value of the first `name : value` line of /proc/cpuinfo ('' where there is none, or no file)."""
    try:
        line = next((line for line in cpuinfo.read_text().splitlines() if line.startswith(name)), "")
    except OSError:
        return ""
    return line.partition(":")[2].strip()


def measure_bf16_speedup(repeats: int = 5) -> float:
    """fp32 time / bf16 time of a matmul the size of a base encoder's (512 tokens x 768 x 768), best of `repeats`."""
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(shape, generator=generator) for shape in ((512, 768), (768, 768)))

    def best(x, y) -> float:
        torch.matmul(x, y)  # warm-up: kernel selection
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(4):
                torch.matmul(x, y)
            times.append(time.perf_counter() - start)
        return min(times)

    return best(a, b) / best(a.bfloat16(), b.bfloat16())


def cpu_does_bf16_fast(*, cpuinfo: Path = CPUINFO, probe: Callable[[], float] = measure_bf16_speedup,
                       cache: Path | None = None) -> bool:
    """Whether a run on this CPU trains faster in bf16: a flag says the hardware does it, the probe confirms it."""
    flags = cpu_flags(cpuinfo)
    if not flags & FAST_BF16_FLAGS:
        return False
    return _probed_speedup(flags, cpuinfo, probe, cache or cache_dir() / "bf16_probe.json") >= BF16_MIN_SPEEDUP


def _probed_speedup(flags: frozenset[str], cpuinfo: Path, probe: Callable[[], float], cache: Path) -> float:
    """The probe's result for this machine: from the cache where it was measured before, else measured and kept."""
    key = " | ".join([cpu_model(cpuinfo), " ".join(sorted(flags & FAST_BF16_FLAGS)), torch.__version__,
                      f"{torch.get_num_threads()} threads"])
    try:
        # Never opened unless a regular file: a FIFO (or a device) of that name would block every run here.
        known = json.loads(cache.read_text(encoding="utf-8")) if cache.is_file() else {}
    except (OSError, ValueError):
        known = {}
    known = known if isinstance(known, dict) else {}
    value = known.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return float(value)
    speedup = probe()
    logger.info("bf16 probe on this CPU (%s): bf16 matmuls %.2fx as fast as fp32; %s", key, speedup,
                "bf16 it is" if speedup >= BF16_MIN_SPEEDUP else "fp32 stays")
    try:
        if cache.is_file() or not cache.exists():  # (replacing a special file or a folder is not the suite's to do)
            cache.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(cache, json.dumps(known | {key: round(speedup, 3)}, indent=1) + "\n")
    except OSError:  # a cache that cannot be written: the probe runs again next time, nothing worse
        pass
    return speedup


def detect_precision(*, use_cpu: bool, probe: bool = True) -> str | None:
    """What 'auto' trains in here. `probe=False`: None where only the CPU's probe can tell (parsing never runs it)."""
    if not use_cpu and torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if not probe:
        return None
    return "bf16" if cpu_does_bf16_fast() else "fp32"


def fit_to_hardware(requested: str, *, bf16: bool, fp16: bool, use_cpu: bool, pin_memory: bool) -> HardwareFit:
    """Resolve `--precision` (and the Trainer's own --bf16/--fp16, which win over 'auto') for this machine, as far as
    the options are parsed: on a CPU, 'auto' stays 'auto' until the run starts (`settle_auto_precision`), so parsing
    reads no /proc/cpuinfo, runs no probe and opens no cache file."""
    if requested == "auto":
        precision = "bf16" if bf16 else "fp16" if fp16 else (detect_precision(use_cpu=use_cpu, probe=False) or "auto")
    elif (bf16 and requested != "bf16") or (fp16 and requested != "fp16"):
        raise ValueError(f"--precision {requested} contradicts --{'bf16' if bf16 else 'fp16'}; give one")
    else:
        precision = requested
    gpu = torch.cuda.is_available()
    # With no accelerator the run is on the CPU whether or not --use_cpu says so; saying it matters: TrainingArguments
    # only allows bf16 off-GPU when told, and a torchrun/accelerate launch of several CPU processes (several nodes)
    # only forms its process group for the Trainer when told (without it, each node trained alone).
    accelerator = gpu or getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    use_cpu = use_cpu or not accelerator
    # Pinning only speeds up copies to a GPU.
    return HardwareFit(precision=precision, use_cpu=use_cpu, pin_memory=pin_memory and gpu and not use_cpu)


def settle_auto_precision(args) -> None:
    """At the start of a run (`cola.run.build_run`): a CPU's 'auto' becomes bf16 or fp32, by the measured probe, and
    the Trainer's own flags follow (bf16, and the mixed precision accelerate is handed)."""
    if args.precision != "auto":
        return
    args.precision = detect_precision(use_cpu=True)
    args.bf16 = args.precision == "bf16"
    if args.bf16:
        args.mixed_precision = "bf16"


def training_autocast(args):
    """The autocast the Trainer's forward passes run under (accelerate's for `--bf16` / `--fp16`: the same dtype on
    the same device), for work done outside the Trainer that must match them exactly: the frozen-prefix cache."""
    if not (args.bf16 or args.fp16):
        return contextlib.nullcontext()
    return torch.autocast(device_type=args.device.type, dtype=torch.bfloat16 if args.bf16 else torch.float16)
