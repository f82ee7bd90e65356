"""The one model loader, for training and for prediction: a name or folder -> (model, tokenizer).

Training loads a pretrained encoder and gives it the data's classes (a fresh classification head with their names
as id2label/label2id, which the saved model keeps); prediction loads a fine-tuned folder as it was saved, labels
included (`class_names=None`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from safetensors import SafetensorError
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from .errors import CliError, on_one_line
from .hub import offline_unless_reachable
from .packaged import PACKAGED_MODELS, hub_id, packaged_model
from .run_files import CARD_FILE

logger = logging.getLogger(__name__)

# A model folder needs one of these for its tokenizer (fast tokenizers, WordPiece, BPE, SentencePiece).
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model",
                   "tokenizer.model")


def resolve_model_path(name: str) -> str:
    """A local directory stays as it is; the packaged model's name becomes its folder; anything else is a Hub id."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    row = packaged_model(name)
    return row.folder() if row else name  # a packaged model's folder (a one-line error if it is not installed)


def load_model_and_tokenizer(
    name_or_path: str, *, class_names: tuple[str, ...] | None, trust_remote_code: bool = False
):
    """Tokenizer and sequence-classification model; `class_names` sets the head's labels (None keeps the saved ones)."""
    path = resolve_model_path(name_or_path)
    local = Path(path).is_dir()
    if local and not (Path(path) / "config.json").is_file():
        raise CliError(f"{name_or_path}: not a loadable model directory (no config.json)")
    if local and not any((Path(path) / name).is_file() for name in TOKENIZER_FILES):
        # Without them transformers builds a tokenizer of a handful of special tokens: every word becomes [UNK].
        raise CliError(f"{name_or_path}: no tokenizer files ({', '.join(TOKENIZER_FILES[:3])}, ...) in the model "
                       f"directory; save the tokenizer there too (tokenizer.save_pretrained)")
    if not local:
        offline_unless_reachable()  # seconds, not the Hub client's half minute of retries, on a machine without it
    kwargs = {"trust_remote_code": trust_remote_code}
    labels = {}
    if class_names is not None:
        labels = dict(num_labels=len(class_names), id2label=dict(enumerate(class_names)),
                      label2id={name: i for i, name in enumerate(class_names)})
    try:
        config = AutoConfig.from_pretrained(path, **labels, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
        # For training, a head of another size (a CoLA model fine-tuned again on 3 classes) starts afresh, as the
        # classes do; transformers logs which weights were newly initialised.
        model, loading = AutoModelForSequenceClassification.from_pretrained(
            path, config=config, ignore_mismatched_sizes=class_names is not None, output_loading_info=True, **kwargs
        )
    except (OSError, ValueError, SafetensorError) as error:  # ValueError: e.g. a config with no classification head
        if local:
            raise CliError(f"{name_or_path}: not a loadable model directory ({on_one_line(error)})") from None
        if isinstance(error, ValueError):
            raise CliError(f"cannot load model '{name_or_path}': {on_one_line(error)}") from None
        raise CliError(
            f"cannot load model '{name_or_path}': not a local directory, not in the Hugging Face cache, and not "
            f"reachable on the Hub ({on_one_line(error)}). Offline, use a local directory or a packaged model: "
            f"{' or '.join(repr(row.hub_id.split('/')[-1]) for row in PACKAGED_MODELS)}."
        ) from None
    check_weights_complete(name_or_path, model, loading, head_may_be_new=class_names is not None)
    rows = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > rows:
        raise CliError(f"{name_or_path}: the tokenizer has {len(tokenizer)} tokens but the model's embeddings only "
                       f"{rows} rows: they do not belong together")
    return model, tokenizer


def check_weights_complete(name: str, model, loading: dict, *, head_may_be_new: bool) -> None:
    """Weights the folder does not hold would be initialised at random, silently: refused. A fresh classification
    head is expected when training (the base model has none, or one for other classes); nothing may be missing
    from a model that predicts. A LoRA run's checkpoint is the usual case: it keeps the adapters apart from the
    base weights (`cola.lora`), and its run's output folder holds the merged model."""
    encoder = f"{model.base_model_prefix}."
    # Training: the head, and a pooler the base model was saved without (sentence-transformers folders), start new.
    missing = [key for key in loading.get("missing_keys", ())
               if not head_may_be_new or key.startswith(encoder) and ".pooler." not in key]
    if not missing:
        return
    # PEFT wraps each adapted layer, its weight then under `.base_layer.`: a checkpoint of a run with adapters.
    adapted = any(".base_layer." in key for key in loading.get("unexpected_keys", ()))
    hint = ("a checkpoint of a run with adapters (LoRA) keeps them apart: use the run's output folder, which holds the "
            "merged model" if adapted else "the folder does not hold this model's weights")
    raise CliError(f"{name}: {len(missing)} weight(s) missing ({missing[0]}, ...), which would start at random; {hint}")


def check_max_length(model, max_length: int) -> None:
    """--max_length must fit the model's position embeddings (else the first long sentence fails mid-training)."""
    positions = getattr(model.config, "max_position_embeddings", None)
    # RoBERTa's positions start after the padding index: two fewer usable ones than the table has rows.
    usable = positions - 2 if positions and model.config.model_type in ("roberta", "xlm-roberta", "camembert") else positions
    if usable and max_length > usable:
        raise CliError(f"--max_length {max_length} is longer than this model's {usable} positions")


def base_model_record(name: str) -> dict:
    """What results.json records of the base model, for the model card: its Hub id (None for a local folder, which
    the Hub cannot link) and the license its folder's card declares (a local folder's or a packaged model's; a Hub
    id is not looked up: no network at report time)."""
    return {"name": name, "hub_id": hub_id(name), "license": _declared_license(name)}


def _declared_license(name: str) -> str | None:
    from huggingface_hub import ModelCard

    row = packaged_model(name)
    card = (Path(row.folder()) if row else Path(name).expanduser()) / CARD_FILE
    if not card.is_file():
        return None
    try:
        return ModelCard.load(card).data.license
    except Exception:  # noqa: BLE001 - a card that does not parse says nothing about the license
        return None
