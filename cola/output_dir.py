"""The output folder: claimed by one run at a time, and never silently replaced or mixed with another run.

Every check is about the folder the run will actually write into (`cola.files.real_path`: `X/missing/..` is X, a
symlink is its target), never about how it was spelled. A fresh run writes only into a folder that holds nothing
it would write over: a folder that holds a run (results.json or a saved model: finished; `checkpoint-*`:
unfinished), or any file or folder a run writes (`config.json`, `tokenizer.json`, `vocab.txt`, a `wandb` folder,
... : `would_write`), is refused before any work and without touching a byte of it, unless the run continues it
(`--resume_from_checkpoint`, for an unfinished run only) or replaces it (`--overwrite_run`). So results.json,
run_config.json, the model and the checkpoints in one folder always come from one run. A folder the run reads
from (the base model's, the data's, the suite's cache) is never an output folder. The suite never writes through
a symbolic link it did not make: an entry named like a run's that is a link is refused, whatever the run does.

What `--overwrite_run` deletes is what the suite's own record says the old run wrote: `.cola-suite-run.json`
lists what was in the folder before the run claimed it (never touched) and, once the run's claim ends however it
ends (an error, Ctrl-C), every entry the run added. A run killed outright (SIGKILL, power loss) leaves the list
unfinished; then only the entries that look like a run's (`would_write`) and were not there before go. The record
is a file anyone can edit, so it is trusted no further than it can be checked: each entry must be a plain name
directly in the folder, and what it names must still look like what a run writes (a regular file or a real folder
of a run's name, never a link); any other entry refuses the whole overwrite in one line, nothing deleted. A folder
that holds a run but no record (an older suite wrote it, or it is not a run at all) is refused, and so is an
overwrite that would leave behind something the new run would write over.

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
from .errors import CliError, on_one_line
from .files import cache_dir, is_within, real_path, write_atomic
from .model_card import is_suite_card
from .results import read_results
from .run_files import (
    ADAPTER_DIR,
    CARD_FILE,
    EVAL_PREDICTIONS_FILE,
    LOCK_FILE,
    RECORD_FILE,
    RESOLVED_CONFIG_FILE,
    RESULTS_FILE,
    TEST_PREDICTIONS_FILE,
    WEIGHTS_FILES,
)
from .schema import SWEEP

# Files that mean "a run finished here": its results, or a saved model.
FINISHED_MARKERS = (RESULTS_FILE, *WEIGHTS_FILES)
# What a run writes into its folder: the suite's files, and what the Trainer saves (the model and its
# configuration, every kind of tokenizer file the supported architectures save, the Trainer's state). A fresh run
# refuses a folder that holds any of them; --overwrite_run deletes nothing else. (README.md is the suite's model
# card; a user's own README is never deleted or written over.) tests/test_output_dir.py checks that a real run
# writes nothing outside these.
RUN_FILES = (
    *FINISHED_MARKERS, RESOLVED_CONFIG_FILE, TEST_PREDICTIONS_FILE, EVAL_PREDICTIONS_FILE, CARD_FILE, "config.json",
    "generation_config.json",
    "training_args.bin", "trainer_state.json", "tokenizer*.json", "special_tokens_map.json", "added_tokens.json",
    "vocab.*", "merges.txt", "*.model", "chat_template.*",
)
RUN_FOLDERS = ("checkpoint-*", "seed_[0-9]*", "wandb", "runs", ADAPTER_DIR)


def would_write(name: str) -> bool:
    """Whether a run may write an entry of this name into its folder (a file or a folder of RUN_FILES, RUN_FOLDERS)."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in (*RUN_FILES, *RUN_FOLDERS))


def _is_run_folder_name(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in RUN_FOLDERS)


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
    path = real_path(output_dir)
    created = not path.exists()
    sources = _read_sources(reads)
    for what, source in sources.items():
        if source == path:
            raise CliError(f"--output_dir {path} is the folder {what} is read from; choose another --output_dir")
    if is_within(path, real_path(cache_dir())):
        raise CliError(f"--output_dir {path} lies in the suite's cache ({cache_dir()}), where the packaged models and "
                       f"CoLA's download are kept; choose another --output_dir")
    if path.is_dir():
        _check_claim(path, resuming=resuming, overwrite=overwrite, sweep=sweep, fresh_check=is_main)
    ensure_writable(path)
    if not is_main:
        yield
        return
    with _locked(path):
        before = _read_record(path) if resuming or overwrite else None
        if overwrite:
            remove_run_files(path, keep=sources)
        record = _start_record(path, before if resuming else None, resuming=resuming)
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


def _read_sources(reads: dict[str, str | None] | None) -> dict[str, Path]:
    """The folders the run reads from that exist, as real paths (a Hub id names no folder here)."""
    return {what: real_path(source) for what, source in (reads or {}).items()
            if source and Path(source).expanduser().is_dir()}


def _check_claim(path: Path, *, resuming: bool, overwrite: bool, sweep: bool, fresh_check: bool = True) -> None:
    """Refuse a claim that would mix two runs in one folder, write over what the folder holds, or continue a run
    that has already finished. `fresh_check`: whether to look for what the run would write over (the main process
    only: by the time another process of the same run looks, the main one may have written run_config.json)."""
    links = sorted(n for n in (p.name for p in path.iterdir()) if (would_write(n) or n in (LOCK_FILE, RECORD_FILE))
                   and (path / n).is_symlink())
    if links:
        raise CliError(f"{path / links[0]} is a symbolic link where the run writes; the suite never writes through a "
                       f"link it did not make: remove the link, or choose another --output_dir")
    held = existing_run(path)
    if held and not resuming and not overwrite:
        raise CliError(f"{path} already holds {held}; choose a fresh --output_dir, continue it with "
                       f"--resume_from_checkpoint last, or replace it with --overwrite_run")
    if _users_card(path, CARD_FILE):
        raise CliError(f"{path / CARD_FILE} is not a model card this suite wrote, and the run writes its card there; "
                       f"choose another --output_dir (or move that file)")
    if fresh_check and not resuming and not overwrite:
        clash = sorted(n for n in _entries(path) if would_write(n))
        if clash:
            raise CliError(f"{path} holds {clash[0]}, which the run would write over; choose a fresh --output_dir (or "
                           f"move it away)")
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
    """Whether the run in `path` is a sweep of seeds: its results.json's kind says so, or (before it is written) its
    run_config.json names seeds."""
    try:
        return read_results(path / RESULTS_FILE)["kind"] == SWEEP
    except (OSError, ValueError):  # not there yet, or not this suite's (SchemaError is a ValueError)
        pass
    try:
        return bool(json.loads((path / RESOLVED_CONFIG_FILE).read_text(encoding="utf-8")).get("seeds"))
    except (OSError, ValueError, AttributeError):
        return False


def _entries(path: Path) -> set[str]:
    """The folder's entries, less the suite's own bookkeeping (the lock, the record)."""
    return {p.name for p in path.iterdir()} - {LOCK_FILE, RECORD_FILE}


def _read_record(path: Path) -> dict | None:
    """The folder's record (None if it has none), checked entry by entry: it is a file anyone can edit."""
    record_path = path / RECORD_FILE
    if not record_path.exists() and not record_path.is_symlink():
        return None
    damaged = (f"{record_path} is not a record this suite could have written ({{why}}); it deletes nothing it cannot "
               f"tell is the run's: move the run's files away, or choose another --output_dir")
    if record_path.is_symlink() or not record_path.is_file():
        raise CliError(damaged.format(why="a link or not a regular file"))
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CliError(damaged.format(why=f"not JSON: {on_one_line(error, 80)}")) from None
    if not (isinstance(record, dict) and isinstance(record.get("before"), list) and isinstance(record.get("added"), list)):
        raise CliError(damaged.format(why="not an object with 'before' and 'added' lists"))
    for entry in (*record["before"], *record["added"]):
        if not _plain_name(entry):
            raise CliError(damaged.format(why=f"the entry {json.dumps(entry)} is not a name directly in the folder"))
    return record


def _plain_name(entry) -> bool:
    """A name of an entry directly inside a folder: not a path, not the folder itself, not the suite's bookkeeping."""
    return (isinstance(entry, str) and entry not in ("", ".", "..", LOCK_FILE, RECORD_FILE) and "/" not in entry
            and "\0" not in entry)


def _users_card(path: Path, name: str) -> bool:
    """Whether `name` in the folder is a README.md the suite did not write: never written over, never deleted."""
    return name == CARD_FILE and (path / name).is_file() and not is_suite_card(path / name)


def _start_record(path: Path, earlier: dict | None, *, resuming: bool) -> dict:
    """The record of the run that claims the folder now: a resumed run goes on with the record of the run it
    continues; a new run's 'before' is what the folder holds now (after --overwrite_run removed the old run)."""
    if resuming and earlier:
        record = {"before": earlier["before"], "added": earlier["added"]}
    elif resuming:  # a run an older suite began, without a record: what looks like a run's is the run's
        record = {"before": sorted(n for n in _entries(path) if not would_write(n)), "added": []}
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


def _write_record(path: Path, record: dict) -> None:
    write_atomic(path / RECORD_FILE, json.dumps(record, indent=1) + "\n")  # replaces a link, never writes through it


@contextlib.contextmanager
def _locked(path: Path):
    lock_path = path / LOCK_FILE
    try:  # O_NOFOLLOW: a link planted under the lock's name is not followed (and truncated) to its target
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as error:
        raise CliError(f"cannot create the lock {lock_path} ({error.strerror}); remove what is there, or choose "
                       f"another --output_dir") from None
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


def remove_run_files(path: Path, *, keep: dict[str, Path] | None = None) -> list[str]:
    """Delete what the run in `path` wrote, by its record (see the module's docstring); leave anything else.
    `keep`: folders the new run reads from (by what they hold), which nothing deleted may contain.
    Everything is checked before the first deletion: a refusal deletes nothing. Returns the names deleted."""
    path = real_path(path)
    record = _read_record(path) if path.is_dir() else None
    if record is None:
        if not path.is_dir() or existing_run(path) is None:
            return []
        raise CliError(f"{path} holds a run without the suite's record of what it wrote ({RECORD_FILE}; an older "
                       f"version of the suite made it, or it is not a run): --overwrite_run deletes nothing it cannot "
                       f"tell is the run's; move its files away or choose another --output_dir")
    before, added = set(record["before"]), set(record["added"])
    entries = _entries(path)
    if record.get("complete"):
        ours = added & entries
    else:  # killed before its record was complete: what looks like a run's and was not there before
        ours = (added & entries) | {n for n in entries - before if would_write(n)}
    ours = {n for n in ours if not _users_card(path, n)}
    for name in sorted(ours):
        target = path / name
        looks_like_it = would_write(name) and not target.is_symlink() and (
            target.is_dir() if _is_run_folder_name(name) else target.is_file())
        if not looks_like_it:
            raise CliError(f"{target} is listed in {RECORD_FILE} as written by the run, but is not what a run writes "
                           f"(a link, or not a {'folder' if _is_run_folder_name(name) else 'file'} of a run's name); "
                           f"nothing was deleted: move it away, then --overwrite_run")
    for what, source in (keep or {}).items():
        inside = source.relative_to(path).parts[0] if path in source.parents else None
        if inside in ours:
            raise CliError(f"--overwrite_run would delete {path / inside}, which holds {what} this run reads; "
                           f"nothing was deleted: choose another --output_dir")
    strays = sorted(n for n in entries - ours if would_write(n) and not _users_card(path, n))
    if strays:  # the new run would write over it, or (a checkpoint) resume from it beside its own
        raise CliError(f"{path / strays[0]} was not written by the run in {path}; move it away, then --overwrite_run")
    removed = []
    for name in sorted(ours):
        target = path / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
        removed.append(name)
    return removed
