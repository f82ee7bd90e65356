"""Shared fixtures: where CoLA lives, tiny random models of each architecture, small tokenized datasets."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# Tests never touch the network: Hub look-ups fail at once instead of retrying for half a minute.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")


def cola_data_dir() -> Path:
    return Path(os.environ.get("COLA_DATA_DIR") or REPO.parent / "shared" / "cola" / "raw")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = cola_data_dir()
    if not (path / "in_domain_train.tsv").is_file():
        pytest.fail(f"CoLA raw files not found at {path}: set COLA_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def tokenizer():
    from transformers import AutoTokenizer

    from cola.model import resolve_model_path

    return AutoTokenizer.from_pretrained(resolve_model_path("all-MiniLM-L6-v2"))


ARCHITECTURES = ("bert", "roberta", "distilbert", "electra")


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
    raise ValueError(arch)


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory, tokenizer):
    """A saved 3-layer tiny BERT with dropout off, for runs through the CLI that compare exact weights."""
    path = tmp_path_factory.mktemp("tiny_bert")
    tiny_model("bert", layers=3, dropout=0.0).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


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


def tiny_dataset(tokenizer, sentences, labels, domains=None):
    import datasets

    encoded = tokenizer(list(sentences), truncation=True, max_length=32)
    encoded["labels"] = list(labels)
    encoded["domain"] = list(domains) if domains is not None else [0] * len(labels)
    return datasets.Dataset.from_dict(dict(encoded))


def training_args(tmp_path, **overrides):
    from cola.config import ColaTrainingArguments

    defaults = dict(
        output_dir=str(tmp_path / "out"), use_cpu=True, report_to="none", eval_strategy="no", save_strategy="no",
        load_best_model_at_end=False, logging_steps=1, disable_tqdm=True, dataloader_pin_memory=False,
        label_names=["labels", "domain"], seed=0,
    )
    defaults.update(overrides)
    return ColaTrainingArguments(**defaults)
