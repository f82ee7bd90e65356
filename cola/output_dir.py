"""The output folder: claimed by one run at a time, and never silently replaced or mixed with another run.

A folder that already holds a run (results.json or a saved model: finished; `checkpoint-*`: unfinished) is
refused, before any work and without touching a byte of it, unless the run continues it
(`--resume_from_checkpoint`) or replaces it (`--overwrite_run`, which first deletes the old run's own files,
listed below, and nothing else). So results.json, run_config.json, the model and the checkpoints in one folder
always come from one run.

A full disk while the run writes (a checkpoint, the model) is a one-line error; the checkpoint it cut off has no
completion mark and is never resumed from (`cola.checkpoints`).

While a run works, it holds an exclusive lock (`flock`) on `.cola-suite.lock` in the folder: a second run started
into the same folder is refused. The operating system releases the lock when the process ends, however it ends,
so a crashed run never blocks the next one; the lock file itself is removed on the way out.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import tempfile
from pathlib import Path

from .checkpoints import checkpoint_folders
from .errors import CliError
from .model_card import CARD_FILE, is_suite_card

LOCK_FILE = ".cola-suite.lock"
# Files that mean "a run finished here": its results, or a saved model.
FINISHED_MARKERS = ("results.json", "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
# What a run writes into its folder, and so what --overwrite_run deletes (with checkpoint-* and seed_* folders).
# (README.md only when it is the suite's model card: a user's own README is never deleted or written over.)
RUN_FILES = (
    *FINISHED_MARKERS, "run_config.json", "test_predictions.csv", CARD_FILE, "config.json", "training_args.bin",
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "vocab.json", "merges.txt",
    "added_tokens.json", "trainer_state.json",
)
RUN_FOLDERS = ("checkpoint-*", "seed_*", "wandb")


def ensure_writable(output_dir: str | Path) -> None:
    """Create the output directory and prove a file can be written there."""
    try:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=output_dir):
            pass
    except OSError as error:
        raise CliError(f"cannot write to output directory {output_dir}: {error.strerror}") from None


def existing_run(output_dir: Path) -> str | None:
    """What run the folder holds, in words for an error message, or None."""
    finished = [name for name in FINISHED_MARKERS if (output_dir / name).exists()]
    if finished:
        return f"a finished run ({finished[0]})"
    checkpoints = checkpoint_folders(output_dir)
    if checkpoints:
        return f"an unfinished run ({checkpoints[0].name})"
    return None


@contextlib.contextmanager
def claim_output_dir(output_dir: str | Path, *, resuming: bool, overwrite: bool, is_main: bool = True):
    """Check, lock and (with `overwrite`) clear the output folder for the length of a run.

    Every process checks; only the main one locks and deletes (the others are the same run)."""
    path = Path(output_dir)
    created = not path.exists()
    if not resuming and not overwrite and path.is_dir():
        held = existing_run(path)
        if held:
            raise CliError(
                f"{path} already holds {held}; choose a fresh --output_dir, continue it with "
                f"--resume_from_checkpoint last, or replace it with --overwrite_run"
            )
    card = path / CARD_FILE
    if card.is_file() and not is_suite_card(card):
        raise CliError(f"{card} is not a model card this suite wrote, and the run writes its card there; choose "
                       f"another --output_dir (or move that file)")
    ensure_writable(path)
    if not is_main:
        yield
        return
    with _locked(path):
        try:
            if overwrite:
                remove_run_files(path)
            yield
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
            raise CliError(f"no space left on the device while writing into {path}; no results.json was written (free "
                           f"space, then continue with --resume_from_checkpoint last)") from None
        finally:
            if created and path.is_dir() and not [p for p in path.iterdir() if p.name != LOCK_FILE]:
                shutil.rmtree(path, ignore_errors=True)  # a run that failed before writing anything leaves nothing


@contextlib.contextmanager
def _locked(path: Path):
    lock_path = path / LOCK_FILE
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            raise CliError(
                f"{path} is in use by another run (process {holder}); wait for it to end or choose another --output_dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        try:
            yield
        finally:
            lock_path.unlink(missing_ok=True)  # while still holding the lock: no other run is between the two
    finally:
        os.close(fd)


def remove_run_files(path: Path) -> list[str]:
    """Delete what a run wrote into `path` (RUN_FILES, RUN_FOLDERS); leave anything else. Returns the names."""
    removed = []
    for name in RUN_FILES:
        if (path / name).is_file() and (name != CARD_FILE or is_suite_card(path / name)):
            (path / name).unlink()
            removed.append(name)
    for pattern in RUN_FOLDERS:
        for folder in sorted(path.glob(pattern)):
            if folder.is_dir():
                shutil.rmtree(folder)
                removed.append(folder.name)
    return removed
