"""What auto's statistic costs per optimizer step: `cola.progressive.group_norms` (one L2 norm per layer group, the
call RaiseTheFloor makes before every optimizer step) beside the Trainer's own gradient clipping, on random gradients
shaped like each packaged model's parameters; median milliseconds of 20 calls each, interleaved.

    HF_HUB_OFFLINE=1 python docs/progressive/norm_cost.py
"""

import statistics
import time

import torch

from cola.cola_tsv import CLASS_NAMES
from cola.freezing import find_layer_groups
from cola.model import load_model_and_tokenizer
from cola.progressive import group_norms


def milliseconds(call, *args) -> float:
    start = time.perf_counter()
    call(*args)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    for name in ("all-MiniLM-L6-v2", "all-mpnet-base-v2"):
        model, _ = load_model_and_tokenizer(name, class_names=CLASS_NAMES)  # the suite's loader, as a run loads
        for parameter in model.parameters():
            parameter.grad = torch.randn_like(parameter)
        groups = find_layer_groups(model)
        norms, clipping = [], []
        for _ in range(20):
            norms.append(milliseconds(group_norms, groups))
            clipping.append(milliseconds(torch.nn.utils.clip_grad_norm_, list(model.parameters()), 1.0))
        print(f"{name}: {sum(p.numel() for p in model.parameters()):,} parameters in {len(groups)} groups; "
              f"group_norms {statistics.median(norms):.1f} ms, clip_grad_norm_ {statistics.median(clipping):.1f} ms")


if __name__ == "__main__":
    main()
