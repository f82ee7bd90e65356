"""Class weights for the loss, computed from the training split only.

The notebook computed them on all the data, test rows included: a leak. Here they come from the labels the
model trains on, or from an explicit list.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.class_weight import compute_class_weight

from .errors import CliError


def class_weights_for(train_labels, *, enabled: bool, values: list[float] | None, num_labels: int) -> list[float] | None:
    """None (unweighted), the explicit `values`, or scikit-learn's 'balanced' weights n / (k * count)."""
    if not enabled:
        return None
    if values is not None:
        if len(values) != num_labels:
            raise CliError(f"--class_weight_values gives {len(values)} weight(s) for {num_labels} classes; give one per class")
        return [float(v) for v in values]
    labels = np.asarray(train_labels)
    classes = np.arange(num_labels)
    missing = sorted(int(c) for c in set(classes) - set(np.unique(labels)))
    if missing:
        raise CliError(f"the training split has no examples of class(es) {missing}: balanced weights are undefined")
    return compute_class_weight("balanced", classes=classes, y=labels).astype(float).tolist()
