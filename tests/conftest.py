"""Shared fixtures and helpers: where CoLA lives, tiny random models of each architecture, small tokenized
datasets, and the runs several test files read (built once per session, and never changed by a test: a test
that changes a run's folder works on its own copy)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent  # commands that run train.py as a script start here

# Tests never touch the network: Hub look-ups fail at once instead of retrying for half a minute.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")


def cola_data_dir() -> Path:
    return Path(os.environ.get("COLA_DATA_DIR") or REPO.parent / "shared" / "cola" / "raw")


def require_base_model() -> None:
    """Skip unless all-mpnet-base-v2's pieces were fetched (README: requirements-base.txt; CI fetches them)."""
    from cola.errors import CliError
    from cola.packaged import packaged_model, piece_path

    row = packaged_model("all-mpnet-base-v2")
    try:
        for package in row.packages:
            piece_path(package, row)
    except CliError:
        pytest.skip(f"the base model's pieces are not fetched ({row.install})")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = cola_data_dir()
    if not (path / "in_domain_train.tsv").is_file():
        pytest.skip(f"CoLA's raw files are not at {path}: put them there or set COLA_DATA_DIR (README, 'On a fresh "
                    f"machine') to run the tests that read them")
    return path


@pytest.fixture(scope="session")
def tokenizer():
    from transformers import AutoTokenizer

    from cola.model import resolve_model_path

    return AutoTokenizer.from_pretrained(resolve_model_path("all-MiniLM-L6-v2"))


ARCHITECTURES = ("bert", "roberta", "distilbert", "electra")
# The other encoders people fine-tune (tiny_model builds them too): freezing and the cache are tested on each.
MORE_ARCHITECTURES = ("mpnet", "deberta-v2", "albert", "xlm-roberta", "camembert", "modernbert", "mobilebert", "ernie")

# Sixteen sentences with labels: micro-batch 1 (the first 8) is mostly acceptable, micro-batch 2 mostly not, so
# their weight sums differ under class weights.
SENTENCES = [
    "The cat sat on the mat.", "Sat mat the cat.", "She voted for herself.", "Herself voted she.",
    "John seems to be happy.", "John seems happy to be.", "Books were sent to each other by the students.",
    "The book was written by John.", "I saw that gas can explode.", "Gas saw I explode.",
    "Who do you think left?", "Who do you think that left?", "Mary left.", "Left Mary the.",
    "They arrived yesterday morning after a very long flight.", "Arrived they.",
]
LABELS = [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0]


def tiny_model(arch: str, *, layers: int = 4, dropout: float = 0.1, seed: int = 0):
    """A random sequence-classification model: hidden 32, `layers` layers, the uncased WordPiece vocabulary size."""
    import torch
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        DistilBertConfig,
        DistilBertForSequenceClassification,
        ElectraConfig,
        ElectraForSequenceClassification,
        RobertaConfig,
        RobertaForSequenceClassification,
    )

    common = dict(vocab_size=30522, num_labels=2, max_position_embeddings=128)
    bert_like = dict(
        hidden_size=32, num_hidden_layers=layers, num_attention_heads=4, intermediate_size=37,
        hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout, **common,
    )
    torch.manual_seed(seed)
    if arch == "bert":
        return BertForSequenceClassification(BertConfig(**bert_like))
    if arch == "roberta":
        return RobertaForSequenceClassification(RobertaConfig(**bert_like, pad_token_id=0))
    if arch == "electra":
        # embedding_size != hidden_size gives ELECTRA its embeddings_project layer.
        return ElectraForSequenceClassification(ElectraConfig(**bert_like, embedding_size=16))
    if arch == "distilbert":
        return DistilBertForSequenceClassification(
            DistilBertConfig(dim=32, n_layers=layers, n_heads=4, hidden_dim=37, dropout=dropout,
                             attention_dropout=dropout, seq_classif_dropout=dropout, **common)
        )
    return _more_architectures(arch, layers=layers, dropout=dropout, vocab=common["vocab_size"])


def _more_architectures(arch: str, *, layers: int, dropout: float, vocab: int):
    """The other encoders people fine-tune, tiny (hidden 32), with the uncased WordPiece vocabulary's ids."""
    import transformers as tf

    size = dict(vocab_size=vocab, num_labels=2, max_position_embeddings=128, hidden_size=32, num_hidden_layers=layers,
                num_attention_heads=4, intermediate_size=37)
    drop = dict(hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    ids = dict(pad_token_id=0, bos_token_id=101, eos_token_id=102)
    if arch == "mpnet":
        return tf.MPNetForSequenceClassification(tf.MPNetConfig(**size, **drop, **ids))
    if arch == "deberta-v2":
        return tf.DebertaV2ForSequenceClassification(tf.DebertaV2Config(
            **size, **drop, pad_token_id=0, relative_attention=True, position_buckets=16, max_relative_positions=32,
            position_biased_input=False, pos_att_type=["p2c", "c2p"], norm_rel_ebd="layer_norm"))
    if arch == "albert":  # one layer, shared by every depth
        return tf.AlbertForSequenceClassification(tf.AlbertConfig(**size, **drop, **ids, embedding_size=16))
    if arch == "xlm-roberta":
        return tf.XLMRobertaForSequenceClassification(tf.XLMRobertaConfig(**size, **drop, **ids))
    if arch == "camembert":
        return tf.CamembertForSequenceClassification(tf.CamembertConfig(**size, **drop, **ids))
    if arch == "modernbert":  # a final norm after the layers
        return tf.ModernBertForSequenceClassification(tf.ModernBertConfig(
            **size, pad_token_id=0, bos_token_id=101, eos_token_id=102, cls_token_id=101, sep_token_id=102,
            attention_dropout=dropout, mlp_dropout=dropout, embedding_dropout=dropout, global_attn_every_n_layers=2,
            local_attention=16))
    if arch == "mobilebert":
        return tf.MobileBertForSequenceClassification(tf.MobileBertConfig(
            **size, **drop, pad_token_id=0, embedding_size=16, intra_bottleneck_size=16, true_hidden_size=16,
            num_feedforward_networks=2))
    if arch == "ernie":
        return tf.ErnieForSequenceClassification(tf.ErnieConfig(**size, **drop, pad_token_id=0))
    raise ValueError(arch)


def _saved_tiny_bert(tmp_path_factory, tokenizer, name: str, dropout: float):
    path = tmp_path_factory.mktemp(name)
    tiny_model("bert", layers=3, dropout=dropout).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory, tokenizer):
    """A saved 3-layer tiny BERT with dropout off, for runs through the CLI that compare exact weights."""
    return _saved_tiny_bert(tmp_path_factory, tokenizer, "tiny_bert", dropout=0.0)


@pytest.fixture(scope="session")
def tiny_bert_dropout_dir(tmp_path_factory, tokenizer):
    """A saved 3-layer tiny BERT with dropout on: its RNG state is part of what a resume must restore."""
    return _saved_tiny_bert(tmp_path_factory, tokenizer, "tiny_bert_dropout", dropout=0.1)


def sweep_argv(model_dir, data_dir, out) -> list[str]:
    """A two-seed run of the tiny BERT: 3 steps each, no checkpoints."""
    return ["--model_name_or_path", str(model_dir), "--data_dir", str(data_dir), "--output_dir", str(out),
            "--max_train_samples", "48", "--max_eval_samples", "40", "--max_steps", "3", "--per_device_train_batch_size", "16",
            "--learning_rate", "1e-3", "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false",
            "--seeds", "3", "4"]


@pytest.fixture(scope="session")
def seed_sweep(tmp_path_factory, tiny_bert_dir, data_dir):
    import train

    out = tmp_path_factory.mktemp("seeds") / "sweep"
    assert train.main(sweep_argv(tiny_bert_dir, data_dir, out)) == 0
    return out


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, data_dir):
    """A short real run of train.py (the packaged model, 2 epochs on 96 sentences, bottom 2 groups frozen)."""
    import train

    out = tmp_path_factory.mktemp("trained") / "run"
    argv = [
        "--model_name_or_path", "all-MiniLM-L6-v2", "--data_dir", str(data_dir), "--output_dir", str(out),
        "--max_train_samples", "96", "--max_eval_samples", "120", "--num_train_epochs", "2",
        "--per_device_train_batch_size", "16", "--learning_rate", "5e-5", "--freeze", "2", "--seed", "7",
    ]
    assert train.main(argv) == 0
    return out


def tiny_dataset(tokenizer, sentences, labels, domains=None):
    import datasets

    from cola.columns import LABEL_COLUMNS

    encoded = tokenizer(list(sentences), truncation=True, max_length=32)
    label_column, domain_column = LABEL_COLUMNS
    encoded[label_column] = list(labels)
    encoded[domain_column] = list(domains) if domains is not None else [0] * len(labels)
    return datasets.Dataset.from_dict(dict(encoded))


def make_trainer(model, args, tokenizer, train, **options):
    """A Trainer built the way a run builds it (`make_run_parts`), for tests that need no report."""
    return make_run_parts(model, args, tokenizer, train, **options)[0]


def make_run_parts(model, args, tokenizer, train, *, eval=None, class_weights=None, plan=None, class_names=None):
    """(Trainer, RunReport) built in `cola.run`'s order by its own parts: the plan the arguments ask for on the
    model's layer groups (or `plan`), applied; the frozen-prefix cache where the plan allows one; the report; the
    Trainer from `cola.trainer.build_trainer`. `eval` defaults to the training sentences; CoLA's class and domain
    names unless `class_names` says otherwise."""
    from cola.cola_tsv import CLASS_NAMES, DOMAINS
    from cola.columns import TaskData
    from cola.freezing import find_layer_groups
    from cola.plan import plan_from
    from cola.results import run_report
    from cola.run import frozen_prefix_cache, rising_floor
    from cola.trainer import build_trainer

    if plan is None:
        plan = plan_from(args, find_layer_groups(model))
    floor_rise = rising_floor(plan, None)
    plan.apply()
    data = TaskData(train=train, eval=train if eval is None else eval, test=None,
                    class_names=tuple(class_names or CLASS_NAMES), group_names=DOMAINS, source="test sentences")
    cache, summary = frozen_prefix_cache(plan, model, data, tokenizer, args)
    report = run_report(plan=plan, model=model, args=args, class_weights=class_weights, frozen_cache=summary,
                        base_model={"name": "tiny", "hub_id": None, "license": None})
    trainer = build_trainer(args, model=model, tokenizer=tokenizer, data=data, plan=plan, class_weights=class_weights,
                            frozen_cache=cache, floor_rise=floor_rise)
    return trainer, report


def training_args(tmp_path, **overrides):
    from cola.training_options import ColaTrainingArguments

    defaults = dict(
        output_dir=str(tmp_path / "out"), use_cpu=True, report_to="none", eval_strategy="no", save_strategy="no",
        load_best_model_at_end=False, logging_steps=1, disable_tqdm=True, dataloader_pin_memory=False, seed=0,
        precision="fp32",  # exact comparisons; 'auto' would train in bf16 on a CPU with AMX
    )
    defaults.update(overrides)
    return ColaTrainingArguments(**defaults)
