"""Resuming: find the checkpoint to resume from, and keep the freeze setting it was trained with.

Each checkpoint gets `cola_suite.json` next to the Trainer's files, naming the freeze setting and the layer
groups. On resume that setting is re-applied before the optimizer is built, because the optimizer state in the
checkpoint only fits the same set of trainable parameters. Asking for a different one is an error here,
not PyTorch's "loaded state dict contains a parameter group that doesn't match the size" later.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint

from .errors import CliError

logger = logging.getLogger(__name__)

SUITE_STATE_FILE = "cola_suite.json"


def resolve_checkpoint(value: str | None, output_dir: str) -> str | None:
    """`--resume_from_checkpoint PATH` or `last` (the newest checkpoint-* in the output directory)."""
    if value is None:
        return None
    if value == "last":
        last = get_last_checkpoint(output_dir) if Path(output_dir).is_dir() else None
        if last is None:
            raise CliError(f"--resume_from_checkpoint last: no {PREFIX_CHECKPOINT_DIR}-* folder in {output_dir}")
        return last
    if not (Path(value) / "trainer_state.json").is_file():
        raise CliError(f"--resume_from_checkpoint {value}: not a checkpoint folder (no trainer_state.json)")
    return value


def reapply_freeze(checkpoint: str, args, *, freeze_given: bool) -> None:
    """Adopt the checkpoint's freeze setting; refuse a different one given explicitly."""
    state_file = Path(checkpoint) / SUITE_STATE_FILE
    if not state_file.is_file():
        logger.warning("%s has no %s: resuming with --freeze %d as given", checkpoint, SUITE_STATE_FILE, args.freeze)
        return
    stored = json.loads(state_file.read_text())["freeze"]
    if freeze_given and stored != args.freeze:
        raise CliError(
            f"{checkpoint} was trained with --freeze {stored}; resuming with --freeze {args.freeze} would hand the "
            f"optimizer different parameters. Pass --freeze {stored} or leave --freeze out"
        )
    if stored != args.freeze:
        logger.info("Resuming with the checkpoint's --freeze %d", stored)
    args.freeze = stored


class SaveSuiteState(TrainerCallback):
    """Writes the freeze setting and the layer-group table into every checkpoint."""

    def __init__(self, layer_group_table):
        self.layer_group_table = layer_group_table

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
            if folder.is_dir():
                payload = {"freeze": args.freeze, "layer_groups": self.layer_group_table()}
                (folder / SUITE_STATE_FILE).write_text(json.dumps(payload, indent=2) + "\n")
