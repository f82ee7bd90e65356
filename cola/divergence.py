"""Whether a model's weights are still numbers: a run that diverged (a learning rate too high) has NaN or infinite
weights. Asked by the Trainer's end-of-run check, by every checkpoint before it is marked complete, and by
`cola.predict` before it classifies anything with a model."""

from __future__ import annotations

import torch


def weights_are_finite(model) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())
