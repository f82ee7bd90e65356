"""What every source ends in, whatever it reads (CoLA's TSVs, your files, a Hub dataset): the columns each split
has once loaded, and `TaskData`, the splits with the names their class and group ids stand for.

Defined here once and imported by the loaders, config, metrics, the trainer and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import datasets
import numpy as np

TEXT, TEXT_PAIR = "text", "text_pair"  # the text to classify, and the second text of a sentence-pair task
LABEL, GROUP = "labels", "group"  # the class id (0..k-1), and the id of the example's group (CoLA: its domain)
# Columns the Trainer treats as labels (its `label_names`): the class and the example's group, so the metrics can be
# split per group whatever order the predictions come back in (length-grouped batches, distributed gather).
LABEL_COLUMNS = (LABEL, GROUP)
# Columns that travel with a batch but never reach the model's forward(): the labels and the length that
# length-grouped sampling reads.
NON_MODEL_COLUMNS = (*LABEL_COLUMNS, "length")


@dataclass
class TaskData:
    train: datasets.Dataset
    eval: datasets.Dataset
    test: datasets.Dataset | None  # the optional test split, classified after training; scored if `test_labelled`
    class_names: tuple[str, ...]  # index = class id
    group_names: tuple[str, ...]  # index = group id; CoLA's groups are its two domains
    source: str  # where the data came from, in words (the log and the model card)
    test_labelled: bool = False
    labels_read_as: str = "class ids"  # how the label cells were read (texts as written, integers, ...), for the log
    truncated: dict[str, int] = field(default_factory=dict)  # split -> texts cut to --max_length (set by tokenize)

    def class_counts(self) -> list[int]:
        return np.bincount(np.asarray(self.train[LABEL]), minlength=len(self.class_names)).tolist()

    def group_sizes(self) -> dict[str, int]:
        counts = np.bincount(np.asarray(self.eval[GROUP]), minlength=len(self.group_names))
        return {name: int(n) for name, n in zip(self.group_names, counts) if n}

    def splits(self) -> dict[str, datasets.Dataset]:
        return {"train": self.train, "eval": self.eval, **({"test": self.test} if self.test is not None else {})}


def eval_order(dataset) -> np.ndarray:
    """The rows of an evaluation or test split in the order the Trainer reads them
    (`cola.trainer.ColaTrainer._get_eval_sampler`): shortest first, ties in row order."""
    return np.argsort([len(ids) for ids in dataset["input_ids"]], kind="stable")


def in_row_order(values, dataset) -> np.ndarray:
    """Per-example outputs of an evaluation or prediction (in reading order) put back in the split's row order."""
    values = np.asarray(values)
    ordered = np.empty_like(values)
    ordered[eval_order(dataset)] = values
    return ordered
