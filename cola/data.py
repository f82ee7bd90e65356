"""A run's data, whatever its source, as validated and tokenized `datasets`: `load_data`, then `tokenize`.

Sources (chosen by the data options, see `python train.py --help`): CoLA's raw TSVs (the default,
`cola.cola_tsv`), or your own labelled texts in local files or a Hub dataset (`cola.user_data`). Every source
ends in the same columns (`cola.columns`): the text (and, for pair tasks, its second text), the class id and the
id of the example's group. Which names those ids stand for travels beside the splits, in `TaskData`.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import datasets

from .cola_tsv import read_cola
from .columns import LABEL, TEXT, TEXT_PAIR, TaskData
from .errors import CliError, on_one_line
from .user_data import read_user_data

logger = logging.getLogger(__name__)


def load_data(data_args, seed: int) -> TaskData:
    """Train and evaluation splits (and the optional test split) as checked raw text, not yet tokenized."""
    data = read_cola(data_args.data_dir) if data_args.uses_cola else read_user_data(data_args)
    if data_args.eval_split == "holdout":
        data.train, data.eval = holdout(data.train, len(data.class_names), data_args.holdout_fraction, seed)
    data.train = _subsample(data.train, data_args.max_train_samples, seed)
    data.eval = _subsample(data.eval, data_args.max_eval_samples, seed)
    warn_about(data.train, data.eval)
    return data


def holdout(train: datasets.Dataset, num_labels: int, fraction: float, seed: int) -> tuple[datasets.Dataset, datasets.Dataset]:
    """The notebook's protocol: a stratified, seeded hold-out of the training split as the evaluation split."""
    # Stratifying needs a ClassLabel column; cast with the ids as they are (class_encode_column would renumber
    # them in string order, "10" before "2").
    labelled = train.cast_column(LABEL, datasets.ClassLabel(num_classes=num_labels))
    try:
        split = labelled.train_test_split(test_size=fraction, stratify_by_column=LABEL, seed=seed)
    except ValueError as error:  # a fraction that leaves a split without an example of each class
        raise CliError(f"--holdout_fraction {fraction} cannot split {len(train)} training examples into two "
                       f"non-empty stratified parts ({on_one_line(error)})") from None
    return tuple(s.cast_column(LABEL, datasets.Value("int64")) for s in (split["train"], split["test"]))


def warn_about(train: datasets.Dataset, evaluation: datasets.Dataset) -> list[str]:
    """Warnings, not errors: data that trains but whose figures should be read with care. Returns them."""
    warnings = []
    if len(set(evaluation[LABEL])) < 2:
        warnings.append("the evaluation set has one class only: MCC is 0 whatever the model predicts")
    texts = _inputs(train)
    duplicates = len(texts) - len(set(texts))
    if duplicates:
        warnings.append(f"{duplicates} training text(s) occur more than once")
    leaked = len(set(_inputs(evaluation)) & set(texts))
    if leaked:
        warnings.append(f"{leaked} evaluation text(s) also occur in the training split: their scores are flattered")
    for warning in warnings:
        logger.warning("Data: %s", warning)
    return warnings


def _inputs(dataset: datasets.Dataset) -> list:
    """Each example's input: its text, or (text, pair) for a pair task."""
    if TEXT_PAIR in dataset.column_names:
        return list(zip(dataset[TEXT], dataset[TEXT_PAIR]))
    return dataset[TEXT]


def tokenize(data: TaskData, tokenizer, max_length: int) -> TaskData:
    """Tokenize once (batched); padding happens per batch in the collator. Texts longer than `max_length` tokens are
    cut to it (the pair's longer text first), counted per split and logged: a long text is not an error."""

    def encode(batch):
        pair = batch.get(TEXT_PAIR)
        encoded = tokenizer(batch[TEXT], pair, truncation=True, max_length=max_length)
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]  # read by group_by_length sampling
        # Only a text that fills max_length can have been cut: tokenized again whole, to know.
        full = [i for i, n in enumerate(encoded["length"]) if n == max_length]
        whole = tokenizer([batch[TEXT][i] for i in full], [pair[i] for i in full] if pair else None)["input_ids"] if full else []
        cut = {i for i, ids in zip(full, whole) if len(ids) > max_length}
        encoded["truncated"] = [i in cut for i in range(len(encoded["length"]))]
        return encoded

    tokenized, truncated = {}, {}
    for name, split in data.splits().items():
        # The test split keeps its texts: they go into test_predictions.csv (the Trainer drops them from batches).
        text_columns = [c for c in (TEXT, TEXT_PAIR) if c in split.column_names and name != "test"]
        encoded = split.map(encode, batched=True, remove_columns=text_columns, desc=f"Tokenizing {name}")
        truncated[name] = int(sum(encoded["truncated"]))
        tokenized[name] = encoded.remove_columns("truncated")
        if truncated[name]:
            logger.info("Truncated %d of %d %s texts to --max_length %d tokens", truncated[name], len(split), name,
                        max_length)
    return replace(data, train=tokenized["train"], eval=tokenized["eval"], test=tokenized.get("test"), truncated=truncated)


def _subsample(dataset: datasets.Dataset, n: int | None, seed: int) -> datasets.Dataset:
    if n is None or n >= len(dataset):
        return dataset
    return dataset.shuffle(seed=seed).select(range(n))
