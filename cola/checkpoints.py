"""Resuming: find a complete checkpoint, and continue only the run that wrote it.

Each checkpoint gets `cola_suite.json` next to the Trainer's files: the run's resolved configuration (its
`freeze` is the floor the resume adopts) and its layer groups. It is written after the Trainer has written
everything else (`on_save`), so it is the checkpoint's completion mark: a folder without it was cut off mid-write
(a crash, a kill, a full disk) and is never resumed from.

On resume:
- `last` takes the newest complete checkpoint and names any incomplete one it skipped;
- the checkpoint's files are checked (weights, optimizer, scheduler and RNG state present and readable,
  trainer_state.json valid JSON): a damaged checkpoint is a one-line error, never a fresh optimizer that would
  silently break the bit-exact resume;
- the freeze setting is re-applied before the optimizer is built (the optimizer state only fits the same set of
  trainable parameters), and every other option must match the stored one, except those whose field says they
  may differ (the `resume_may_differ` trait: logging, saving, batch size of evaluation), which do not change
  what is trained.
"""

from __future__ import annotations

import json
import logging
import os
import re
import zipfile
from pathlib import Path

from safetensors import safe_open
from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from .config import option_defaults, options_with
from .divergence import weights_are_finite
from .errors import CliError, on_one_line
from .files import DATA_DIR_ENV, write_atomic
from .run_files import SUITE_STATE_FILE
from .schema import SchemaError, is_count, upgrade_run_config

logger = logging.getLogger(__name__)

# The Trainer's files a checkpoint cannot be resumed without (the RNG state is rng_state.pth, or one per process).
_STATE_FILES = ("optimizer.pt", "scheduler.pt")


def resolve_checkpoint(value: str | None, output_dir: str) -> str | None:
    """`--resume_from_checkpoint PATH` or `last` (the newest complete checkpoint-* in the output directory)."""
    if value is None:
        return None
    if value == "last":
        found = checkpoint_folders(output_dir)
        complete = [p for p in found if is_marked_complete(p)]
        if not found:
            raise CliError(f"--resume_from_checkpoint last: no {PREFIX_CHECKPOINT_DIR}-* folder in {output_dir}")
        if not complete:
            raise CliError(f"--resume_from_checkpoint last: no complete {PREFIX_CHECKPOINT_DIR}-* folder in {output_dir} "
                           f"(incomplete: {', '.join(p.name for p in found)})")
        skipped = [p.name for p in found if _step(p) > _step(complete[0])]
        if skipped:
            logger.warning("Skipping incomplete checkpoint(s) %s (cut off while being written); resuming from %s",
                           ", ".join(skipped), complete[0].name)
        checkpoint = complete[0]
    else:
        checkpoint = Path(value)
        if not (checkpoint / "trainer_state.json").is_file():
            raise CliError(f"--resume_from_checkpoint {value}: not a checkpoint folder (no trainer_state.json)")
    check_complete(checkpoint)
    return str(checkpoint)


def checkpoint_folders(output_dir: str | Path) -> list[Path]:
    """The `checkpoint-N` folders in an output directory, newest (highest N) first."""
    found = [p for p in Path(output_dir).glob(f"{PREFIX_CHECKPOINT_DIR}-*") if p.is_dir() and _step(p) >= 0]
    return sorted(found, key=_step, reverse=True)


def is_marked_complete(checkpoint: Path) -> bool:
    """Whether the checkpoint got its completion mark (written after everything else)."""
    return (checkpoint / SUITE_STATE_FILE).is_file()


def check_complete(checkpoint: Path) -> None:
    """Every file a bit-exact resume needs is there and readable; else a one-line error naming the file."""
    def broken(name: str, why: str) -> CliError:
        return CliError(f"{checkpoint / name}: {why}; this checkpoint cannot be resumed exactly (use an earlier one, or "
                        f"start afresh with --overwrite_run)")

    for name in ("trainer_state.json", SUITE_STATE_FILE):
        path = checkpoint / name
        if path.is_file():
            try:
                json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise broken(name, f"not valid JSON ({on_one_line(error)})") from None
    weights = sorted(checkpoint.glob("model*.safetensors"))
    if not weights:
        raise broken("model.safetensors", "missing")
    for path in weights:
        try:
            with safe_open(str(path), framework="pt") as f:
                f.keys()
        except Exception as error:  # safetensors raises its own error types for a truncated or garbled file
            raise broken(path.name, f"not readable weights ({on_one_line(error)})") from None
    rng = sorted(checkpoint.glob("rng_state*.pth"))
    for name in (*_STATE_FILES, *(p.name for p in rng[:1])):
        path = checkpoint / name
        if not path.is_file():
            raise broken(name, "missing")
        if not zipfile.is_zipfile(path) or zipfile.ZipFile(path).testzip() is not None:
            raise broken(name, "damaged (not a complete torch.save archive)")
    if not rng:
        raise broken("rng_state.pth", "missing")


def stored_floor(checkpoint: str) -> int | None:
    """The number of frozen layer groups the checkpoint's run trained with (None: an older checkpoint without it);
    `cola.plan.adopt_checkpoint_floor` decides what the resumed run does with it."""
    stored = _suite_state(checkpoint)
    if stored is None:
        return None
    # Kept once, in the configuration; checkpoints written before that kept it beside the configuration too.
    return stored["config"]["freeze"] if "config" in stored else stored.get("freeze")


def check_same_run(checkpoint: str, wanted: dict) -> None:
    """Refuse to continue a checkpoint with options that would train something else than the run that wrote it."""
    stored = _suite_state(checkpoint)
    if stored is None or "config" not in stored:
        logger.warning("%s stores no configuration: cannot check that this run continues the same one", checkpoint)
        return
    changed = config_differences(stored["config"], wanted)
    if changed:
        raise CliError(f"{checkpoint} was written by a run with other settings ({', '.join(changed)}); resume with the "
                       f"same options (only logging, saving and output options may change), or start afresh")


def config_differences(stored: dict, wanted: dict) -> list[str]:
    """The options whose values differ between two resolved configurations, less those that may differ.

    An option the stored configuration lacks was added to the suite after that run: the run behaved as its default,
    so it differs only if the wanted value is not the default (a checkpoint or finished seed stays usable)."""
    wanted = json.loads(json.dumps(wanted))  # as stored: tuples become lists
    defaults = json.loads(json.dumps(option_defaults(), default=str))
    may_differ = options_with("resume_may_differ").keys() | {"description"}  # and the file's free text
    return sorted(key for key in stored.keys() | wanted.keys() if key not in may_differ
                  and not _same(key, stored.get(key, defaults.get(key)), wanted.get(key)))


def _same(key: str, stored, wanted) -> bool:
    """Equal values; or, for a path option, two spellings of one existing file or folder (a stored relative path
    read from where the run continues, as the run itself would read it)."""
    if key == "data_dir":  # unset: CoLA's folder is $COLA_DATA_DIR (the README's set-up), as the run reads it
        stored, wanted = (value or os.environ.get(DATA_DIR_ENV) for value in (stored, wanted))
    if stored == wanted:
        return True
    # Options that name files or folders: `../shared/cola/raw` and `/work/shared/cola/raw` are the same data.
    if key not in options_with("reads") or not (isinstance(stored, str) and isinstance(wanted, str)):
        return False
    a, b = Path(stored).expanduser(), Path(wanted).expanduser()
    return a.exists() and b.exists() and a.resolve() == b.resolve()


def stored_floor_rise(checkpoint: str) -> dict | None:
    """The rising floor's state when the checkpoint was written (`cola.progressive.FloorRise.state_dict`, which
    checks it field by field when it loads it), or None."""
    stored = _suite_state(checkpoint)
    return None if stored is None else stored.get("floor_rise")


class SaveSuiteState(TrainerCallback):
    """Writes the configuration (its `freeze` is the floor), the layer-group table and a rising floor's state into
    every checkpoint, last."""

    def __init__(self, plan, resolved_config: dict, floor_rise=None):
        self.plan = plan
        self.resolved_config = resolved_config
        self.floor_rise = floor_rise

    def on_save(self, args, state, control, model=None, **kwargs):
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
            if model is not None and not weights_are_finite(model):
                # A diverged run's checkpoint is never marked complete: `last` never resumes from it.
                logger.warning("%s holds NaN or infinite weights (the run diverged): not marked complete", folder.name)
                return
            if folder.is_dir():
                payload = {"layer_groups": self.plan.layer_group_table(), "config": self.resolved_config,
                           **({"floor_rise": self.floor_rise.state_dict()} if self.floor_rise else {})}
                write_atomic(folder / SUITE_STATE_FILE, json.dumps(payload, indent=2) + "\n")  # the mark: whole or not at all


def _suite_state(checkpoint: str) -> dict | None:
    """The checkpoint's cola_suite.json, its configuration in the current shape (`cola.schema`)."""
    path = Path(checkpoint) / SUITE_STATE_FILE
    if not path.is_file():
        return None
    stored = json.loads(path.read_text(encoding="utf-8"))  # valid JSON: check_complete read it first
    if not isinstance(stored, dict):
        raise CliError(f"{path}: not a checkpoint's state (a JSON object)")
    if "config" in stored:
        try:
            stored["config"] = upgrade_run_config(stored["config"])
        except SchemaError as error:
            raise CliError(f"{path}: {error}") from None
    freeze = stored["config"].get("freeze") if "config" in stored else stored.get("freeze")
    if freeze is not None and not is_count(freeze):
        raise CliError(f"{path}: config.freeze is {json.dumps(freeze)[:40]}, not a number of layer groups")
    return stored


def _step(path: Path) -> int:
    match = re.fullmatch(rf"{PREFIX_CHECKPOINT_DIR}-(\d+)", path.name)
    return int(match.group(1)) if match else -1
