"""The output folder: claimed by one run at a time, and never silently replaced or mixed with another run.

A folder that already holds a run (results.json or a saved model: finished; `checkpoint-*`: unfinished) is
refused, before any work and without touching a byte of it, unless the run continues it
(`--resume_from_checkpoint`, for an unfinished run only) or replaces it (`--overwrite_run`). So results.json,
run_config.json, the model and the checkpoints in one folder always come from one run. A folder the run reads
from (the base model's, the data's) is never an output folder.

What `--overwrite_run` deletes is what the suite's own record says the old run wrote: `.cola-suite-run.json`
lists what was in the folder before the run claimed it (never touched) and, once the run's claim ends however it
ends (an error, Ctrl-C), every entry the run added. A run killed outright (SIGKILL, power loss) leaves the list
unfinished; then only the entries that look like a run's (RUN_FILES, RUN_FOLDERS) and were not there before go. A
folder that holds a run but no record (an older suite wrote it, or it is not a run at all) is refused.

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
import fnmatch
import json
import os
import shutil
import tempfile
from pathlib import Path

from .checkpoints import checkpoint_folders
from .errors import CliError
from .files import write_atomic
from .model_card import is_suite_card
from .run_files import (
    ADAPTER_DIR,
    CARD_FILE,
    LOCK_FILE,
    RECORD_FILE,
    RESOLVED_CONFIG_FILE,
    RESULTS_FILE,
    TEST_PREDICTIONS_FILE,
    WEIGHTS_FILES,
)

# Files that mean "a run finished here": its results, or a saved model.
FINISHED_MARKERS = (RESULTS_FILE, *WEIGHTS_FILES)
# What a run writes into its folder: what --overwrite_run deletes of a run that was killed before its record was
# complete (README.md only when it is the suite's model card: a user's own README is never deleted or written over).
RUN_FILES = (
    *FINISHED_MARKERS, RESOLVED_CONFIG_FILE, TEST_PREDICTIONS_FILE, CARD_FILE, "config.json", "training_args.bin",
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "vocab.json", "merges.txt",
    "added_tokens.json", "trainer_state.json",
)
RUN_FOLDERS = ("checkpoint-*", "seed_*", "wandb", ADAPTER_DIR)


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
def claim_output_dir(output_dir: str | Path, *, resuming: bool, overwrite: bool, is_main: bool = True,
                     sweep: bool = False, reads: dict[str, str | None] | None = None):
    """Check, lock and (with `overwrite`) clear the output folder for the length of a run; keep its record.

    `sweep`: the run is a sweep of seeds; `reads`: what the run reads from, by name ("the base model": a path).
    Every process checks; only the main one locks, deletes and records (the others are the same run)."""
    path = Path(output_dir)
    created = not path.exists()
    for what, source in (reads or {}).items():
        if source and Path(source).is_dir() and path.is_dir() and path.resolve() == Path(source).resolve():
            raise CliError(f"--output_dir {path} is the folder {what} is read from; choose another --output_dir")
    if path.is_dir():
        _check_claim(path, resuming=resuming, overwrite=overwrite, sweep=sweep)
    card = path / CARD_FILE
    if card.is_file() and not is_suite_card(card):
        raise CliError(f"{card} is not a model card this suite wrote, and the run writes its card there; choose "
                       f"another --output_dir (or move that file)")
    ensure_writable(path)
    if not is_main:
        yield
        return
    with _locked(path):
        before = _record(path)
        if overwrite:
            remove_run_files(path)
        record = _start_record(path, before, resuming=resuming)
        try:
            yield
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
            raise CliError(f"no space left on the device while writing into {path}; no results.json was written (free "
                           f"space, then continue with --resume_from_checkpoint last)") from None
        finally:
            _finish_record(path, record)
            if created and path.is_dir() and not _entries(path):
                shutil.rmtree(path, ignore_errors=True)  # a run that failed before writing anything leaves nothing


def _check_claim(path: Path, *, resuming: bool, overwrite: bool, sweep: bool) -> None:
    """Refuse a claim that would mix two runs in one folder, or continue a run that has already finished."""
    held = existing_run(path)
    if held and not resuming and not overwrite:
        raise CliError(f"{path} already holds {held}; choose a fresh --output_dir, continue it with "
                       f"--resume_from_checkpoint last, or replace it with --overwrite_run")
    if not (held and resuming):
        return
    held_sweep = _holds_sweep(path)
    if sweep and not held_sweep:
        raise CliError(f"{path} holds a single run, not a sweep of seeds: --seeds cannot continue it; choose a fresh "
                       f"--output_dir for the sweep")
    if not sweep and held_sweep:
        raise CliError(f"{path} holds a sweep of seeds: continue it with the same --seeds and --resume_from_checkpoint "
                       f"last")
    if not sweep and (path / RESULTS_FILE).is_file():
        raise CliError(f"{path} holds a finished run (results.json): there is nothing to continue; train another run "
                       f"in a fresh --output_dir, or replace this one with --overwrite_run")


def _holds_sweep(path: Path) -> bool:
    """Whether the run in `path` is a sweep of seeds: its run_config.json (written first) or results.json says so."""
    for name in (RESULTS_FILE, RESOLVED_CONFIG_FILE):
        try:
            if json.loads((path / name).read_text(encoding="utf-8")).get("seeds"):
                return True
        except (OSError, ValueError, AttributeError):
            continue
    return False


def _entries(path: Path) -> set[str]:
    """The folder's entries, less the suite's own bookkeeping (the lock, the record)."""
    return {p.name for p in path.iterdir()} - {LOCK_FILE, RECORD_FILE}


def _record(path: Path) -> dict | None:
    try:
        record = json.loads((path / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(record, dict) and isinstance(record.get("before"), list) and isinstance(record.get("added"), list)):
        return None
    return record


def _start_record(path: Path, earlier: dict | None, *, resuming: bool) -> dict:
    """The record of the run that claims the folder now: a resumed run goes on with the record of the run it
    continues; a new run's 'before' is what the folder holds now (after --overwrite_run removed the old run)."""
    if resuming and earlier:
        record = {"before": earlier["before"], "added": earlier["added"]}
    elif resuming:  # a run an older suite began, without a record: what looks like a run's is the run's
        record = {"before": sorted(n for n in _entries(path) if not _run_like(n)), "added": []}
    else:
        record = {"before": sorted(_entries(path)), "added": []}
    _write_record(path, record | {"complete": False})
    return record


def _finish_record(path: Path, record: dict) -> None:
    """Add what the run wrote; a run that wrote nothing into a folder that was there leaves no record behind."""
    added = sorted(set(record["added"]) | (_entries(path) - set(record["before"])))
    if not added and not record["added"]:
        (path / RECORD_FILE).unlink(missing_ok=True)
        return
    _write_record(path, {"before": record["before"], "added": added, "complete": True})


def _run_like(name: str) -> bool:
    return name in RUN_FILES or any(fnmatch.fnmatch(name, pattern) for pattern in RUN_FOLDERS)


def _write_record(path: Path, record: dict) -> None:
    write_atomic(path / RECORD_FILE, json.dumps(record, indent=1) + "\n")


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
    """Delete what the run in `path` wrote, by its record (see the module's docstring); leave anything else.
    Returns the names deleted."""
    record = _record(path) if path.is_dir() else None
    if record is None:
        if not path.is_dir() or existing_run(path) is None:
            return []
        raise CliError(f"{path} holds a run without the suite's record of what it wrote ({RECORD_FILE}; an older "
                       f"version of the suite made it, or it is not a run): --overwrite_run deletes nothing it cannot "
                       f"tell is the run's; move its files away or choose another --output_dir")
    before, added = set(record["before"]), set(record["added"])
    if record.get("complete"):
        ours = added
        strays = sorted(n for n in _entries(path) - added - before if fnmatch.fnmatch(n, "checkpoint-*"))
        if strays:  # a checkpoint the run did not write would sit beside the new run's and be resumed from
            raise CliError(f"{path / strays[0]} was not written by the run in {path}; move it away, then --overwrite_run")
    else:  # killed before its record was complete: what looks like a run's and was not there before
        ours = added | {n for n in _entries(path) - before if _run_like(n)}
    removed = []
    for name in sorted(ours):
        target = path / name
        if name == CARD_FILE and target.is_file() and not is_suite_card(target):
            continue
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        else:
            continue
        removed.append(name)
    return removed
