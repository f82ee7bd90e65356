"""Which precision to train in: bf16 only where the hardware does bf16 matrix math fast.

On a CUDA GPU: bf16 when the GPU supports it (Ampere and newer), else fp16. On a CPU: bf16 only with AMX
(`amx_bf16` in /proc/cpuinfo); without it PyTorch emulates bf16 matmuls and they run several times slower than
fp32 (measured on a 2-core Xeon without AMX: 0.06 vs 0.31 TFLOP/s), so fp32 stays.
"""

from __future__ import annotations

from pathlib import Path

CHOICES = ("auto", "fp32", "bf16", "fp16")


def cpu_has_amx_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    try:
        return any(line.startswith("flags") and "amx_bf16" in line.split() for line in cpuinfo.read_text().splitlines())
    except OSError:
        return False


def detect_precision(*, use_cpu: bool) -> str:
    import torch

    if not use_cpu and torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_amx_bf16() else "fp32"
