"""The training loss: class-weighted cross-entropy, normalised over a whole optimizer step.

The cross-entropy of an optimizer step is `sum(w[y_i] * ce_i) / sum(w[y_i])` over every example of the step,
across gradient-accumulation micro-batches and processes, exactly as one big batch would see it (with no class
weights, w = 1 and this is the plain mean). The denominator, the step's total example weight, is computed before
the step's first forward pass (`ColaTrainer.get_batch_samples`) and passed in as `step_weight`. Dividing a
per-micro-batch mean by the number of micro-batches instead, the Trainer's fallback, weights micro-batches with
few heavy examples too much.

Label smoothing is applied here too: this loss replaces the Trainer's, so its label smoother never runs.
Evaluation reports plain, unweighted cross-entropy (`metrics.py`), so weighted and unweighted runs compare.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def example_weights(labels: torch.Tensor, class_weights: torch.Tensor | None) -> torch.Tensor:
    """Each example's weight: its class's weight, or 1 with no class weights."""
    if class_weights is None:
        return torch.ones(labels.shape, dtype=torch.float32, device=labels.device)
    return class_weights.to(labels.device)[labels]


def step_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    class_weights: torch.Tensor | None,
    step_weight: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
    num_processes: int = 1,
) -> torch.Tensor:
    """This micro-batch's share of the step's loss (the shares of a step add up to the step's weighted mean).

    `step_weight` None: the micro-batch is the whole step. Under DDP the gradients are averaged over processes,
    while `step_weight` is already the global total, so the share is multiplied back by `num_processes`.
    """
    # fp32 whatever the autocast dtype, so the weights and the softmax do not round away small differences.
    losses = F.cross_entropy(logits.float(), labels, reduction="none", label_smoothing=label_smoothing)
    weights = example_weights(labels, class_weights)
    if step_weight is None:
        return (losses * weights).sum() / weights.sum()
    return (losses * weights).sum() / step_weight * num_processes
