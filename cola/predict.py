"""Classify sentences with a fine-tuned model: one line out per sentence, `label<TAB>probability<TAB>sentence`.

    python -m cola.predict outputs/quick "The book was written by John." "Books was written."
    python -m cola.predict outputs/quick --file sentences.txt      # one sentence per line
    some-command | python -m cola.predict outputs/quick --file -   # standard input
    python -m cola.predict outputs/mrpc --pairs --file pairs.tsv   # a pair model: text<TAB>pair per line

The probability is the model's probability for the printed label. Sentences are classified in batches.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .columns import LABEL, TEXT, TEXT_PAIR, in_row_order
from .divergence import weights_are_finite
from .errors import CliError, reports_errors
from .files import decode_lines, write_atomic
from .model import check_max_length, load_model_and_tokenizer
from .run_files import EVAL_PREDICTIONS_FILE, TEST_PREDICTIONS_FILE

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cola.predict", description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("model_dir", help="Output directory of train.py (or any sequence-classification model folder).")
    parser.add_argument("sentences", nargs="*", help="Sentences to classify.")
    parser.add_argument("--file", help="Read sentences from this file, one per line; '-' reads standard input.")
    parser.add_argument("--pairs", action="store_true", help="Each input is a text and its pair, separated by a tab "
                        "(for a model trained with --text_pair_column); it is printed as given.")
    parser.add_argument("--batch_size", type=int, default=64, help="Sentences per forward pass. (default: 64)")
    parser.add_argument("--max_length", type=int, default=128, help="Truncate longer sentences. (default: 128)")
    return parser


def read_sentences(args) -> list[str]:
    sentences = list(args.sentences)
    if args.file == "-":
        sentences += decode_lines(sys.stdin.buffer.read(), "standard input")
    elif args.file:
        try:
            sentences += decode_lines(Path(args.file).read_bytes(), args.file)
        except OSError as error:
            raise CliError(f"cannot read {args.file}: {error.strerror}") from None
    sentences = [s.strip() for s in sentences if s.strip()]
    if not sentences:
        raise CliError("no sentences given: pass them as arguments or with --file")
    return sentences


def load(model_dir: str):
    """The fine-tuned model (in eval mode) and its tokenizer, with the labels it was saved with."""
    if not Path(model_dir).is_dir():
        raise CliError(f"{model_dir}: {'not a directory' if Path(model_dir).exists() else 'no such model directory'}")
    model, tokenizer = load_model_and_tokenizer(model_dir, class_names=None)
    if not weights_are_finite(model):
        raise CliError(f"{model_dir}: the model's weights hold NaN or infinite values (a run that diverged?); it cannot "
                       f"classify anything")
    return model.eval(), tokenizer


def split_pairs(lines: list[str]) -> tuple[list[str], list[str]]:
    """`text<TAB>pair` lines -> (texts, pairs); a line without both halves is a one-line error."""
    halves = [line.partition("\t") for line in lines]
    for line, (text, tab, pair) in zip(lines, halves):
        if not (tab and text.strip() and pair.strip()):
            raise CliError(f"--pairs: {line[:60]!r} is not a text and its pair separated by a tab")
    return [text for text, _, _ in halves], [pair for _, _, pair in halves]


def predict(model, tokenizer, sentences: list[str], *, batch_size: int = 64, max_length: int = 128,
            pairs: list[str] | None = None):
    """Yield (label, probability, sentence) in input order; with `pairs`, each sentence is encoded with its pair."""
    for start in range(0, len(sentences), batch_size):
        batch = sentences[start : start + batch_size]
        second = pairs[start : start + batch_size] if pairs is not None else None
        encoded = tokenizer(batch, second, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        with torch.inference_mode():
            probs = model(**encoded).logits.float().softmax(-1)
        best, index = probs.max(-1)
        for sentence, p, i in zip(batch, best.tolist(), index.tolist()):
            yield model.config.id2label[i], p, sentence




def write_eval_predictions(trainer, data, output_dir: str | Path) -> None:
    """eval_predictions.csv (the main process): the final evaluation's class for each evaluation row, in file order,
    with its group and gold label, so that two runs can be compared sentence by sentence (`cola.experiments.compare`'s
    paired intervals). Written from what the evaluation computed: no second pass."""
    last = trainer.compute_metrics.last
    if not trainer.is_world_process_zero() or last is None or len(last["label"]) != len(data.eval):
        return
    names, groups = np.asarray(data.class_names, dtype=object), np.asarray(data.group_names, dtype=object)
    table = {"row": np.arange(len(data.eval)), "group": groups[in_row_order(last["group"], data.eval)],
             "label": names[in_row_order(last["label"], data.eval)],
             "predicted": names[in_row_order(last["predicted"], data.eval)]}
    if not (table["label"] == names[np.asarray(data.eval[LABEL])]).all():  # the order is known, not assumed
        logger.warning("The evaluation's predictions came back in an unexpected order: eval_predictions.csv not written")
        return
    write_atomic(Path(output_dir) / EVAL_PREDICTIONS_FILE, pd.DataFrame(table).to_csv(index=False))


def predict_test_split(trainer, data, output_dir: str | Path) -> dict | None:
    """Classify the run's test split (every process takes part) and write test_predictions.csv (the main process):
    one row per test row, in file order, with its text(s), gold label if it has one, prediction and probability.
    Returns the test metrics (keys `test_...`) if the split is labelled, else None."""
    output = trainer.predict(data.test, metric_key_prefix="test")  # the whole model (the cache holds no test text)
    logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
    probs = torch.from_numpy(np.asarray(logits, dtype=np.float32)).softmax(-1).numpy()  # in row order (ColaTrainer.predict)
    if trainer.is_world_process_zero():
        names = np.asarray(data.class_names, dtype=object)
        table = {"text": data.test[TEXT], **({"text_pair": data.test[TEXT_PAIR]} if TEXT_PAIR in data.test.column_names else {})}
        if data.test_labelled:
            table["label"] = names[np.asarray(data.test[LABEL])]
        table["predicted"], table["probability"] = names[probs.argmax(-1)], probs.max(-1).round(6)
        write_atomic(Path(output_dir) / TEST_PREDICTIONS_FILE, pd.DataFrame(table).to_csv(index=False))
    return output.metrics if data.test_labelled else None


@reports_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_intermixed_args(argv)  # sentences may come before or after the options
    if args.batch_size < 1:
        raise CliError(f"--batch_size must be 1 or more, got {args.batch_size}")
    if args.max_length < 2:
        raise CliError(f"--max_length must be at least 2 (room for [CLS] and [SEP]), got {args.max_length}")
    lines = read_sentences(args)
    texts, pairs = split_pairs(lines) if args.pairs else (lines, None)
    model, tokenizer = load(args.model_dir)
    check_max_length(model, args.max_length)
    results = predict(model, tokenizer, texts, pairs=pairs, batch_size=args.batch_size, max_length=args.max_length)
    for line, (label, probability, _) in zip(lines, results):
        print(f"{label}\t{probability:.4f}\t{line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
