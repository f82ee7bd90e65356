"""Which precision to train in: bf16 only where the hardware does bf16 matrix math fast.

On a CUDA GPU: bf16 when the GPU supports it (Ampere and newer), else fp16. On a CPU: bf16 only with AMX
(`amx_bf16` in /proc/cpuinfo); without it PyTorch emulates bf16 matmuls and they run several times slower than
fp32 (measured on a 2-core Xeon without AMX: 0.06 vs 0.31 TFLOP/s), so fp32 stays.

The choice is made on the machine that trains. What the user asked for (`auto`, say) is what run_config.json
keeps, so a run configured on a CPU replays in bf16 on a GPU; results.json records what was used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

CHOICES = ("auto", "fp32", "bf16", "fp16")
# The training options `fit_to_hardware` may change: their requested values are the ones a run's config keeps.
HARDWARE_OPTIONS = ("precision", "bf16", "fp16", "use_cpu", "dataloader_pin_memory")


@dataclass(frozen=True)
class HardwareFit:
    precision: str  # fp32, bf16 or fp16: what the run trains in
    use_cpu: bool
    pin_memory: bool


def cpu_has_amx_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    try:
        return any(line.startswith("flags") and "amx_bf16" in line.split() for line in cpuinfo.read_text().splitlines())
    except OSError:
        return False


def detect_precision(*, use_cpu: bool) -> str:
    if not use_cpu and torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_amx_bf16() else "fp32"


def fit_to_hardware(requested: str, *, bf16: bool, fp16: bool, use_cpu: bool, pin_memory: bool) -> HardwareFit:
    """Resolve `--precision` (and the Trainer's own --bf16/--fp16, which win over 'auto') for this machine."""
    if requested == "auto":
        precision = "bf16" if bf16 else "fp16" if fp16 else detect_precision(use_cpu=use_cpu)
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
