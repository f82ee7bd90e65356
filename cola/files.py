"""Text in, files out: UTF-8 lines read with a one-line error, and the one writer every file the suite writes
goes through.

`write_atomic` writes a file whole or not at all (a temporary file in the same folder, renamed over the target),
so a crash, a kill or a full disk never leaves a half-written results.json, run_config.json, model card or
report for another tool to read. The file gets the permissions a plain `open()` would give it (0644 under the
usual umask 022), not `mkstemp`'s private 0600: on a shared machine other users and a web server can read it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import CliError

DATA_DIR_ENV = "COLA_DATA_DIR"  # where CoLA's raw TSVs are when --data_dir does not say


def cache_dir() -> Path:
    """Where the suite keeps what it fetches or assembles once (CoLA's archive, packaged models' folders)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cola-suite"


def real_path(spelled: str | Path) -> Path:
    """The path as the system will reach it once it exists: `~` expanded, symbolic links followed and `..` taken
    after them (`X/missing/..` is X, whether or not `missing` exists yet), no trailing slash. Every check of a folder
    the suite writes into is made on this, never on the spelling: two spellings of one folder are one folder."""
    return Path(os.path.realpath(os.path.expanduser(str(spelled))))


def is_within(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or lies inside it (both real paths)."""
    return path == folder or folder in path.parents


def decode_lines(raw: bytes, source: str) -> list[str]:
    """UTF-8 bytes -> lines (a byte-order mark, CRLF line ends and a final newline allowed); a byte that is not
    UTF-8 is a one-line error naming `source` and the line."""
    lines = raw.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # what follows the final newline
    decoded = []
    for lineno, line in enumerate(lines, start=1):
        try:
            decoded.append(line.decode("utf-8").removesuffix("\r"))
        except UnicodeDecodeError as error:
            bad = f"byte {line[error.start]:#04x} at offset {error.start}"
            raise CliError(f"{source}:{lineno}: not UTF-8 text ({bad}); save the file as UTF-8") from None
    return decoded


def read_data_file(path: Path) -> bytes:
    """A data file's bytes (`check_data_file` first), or a one-line error naming why it cannot be read."""
    check_data_file(path)
    try:
        return path.read_bytes()
    except OSError as error:
        raise CliError(f"{path}: cannot read it ({error.strerror})") from None


def check_data_file(path: Path) -> None:
    """A one-line error for a data file that is missing, a directory, or not a regular file (a FIFO or a device
    would block the run, or be read once and be empty the second time)."""
    if path.is_dir():
        raise CliError(f"{path}: a directory, not a file")
    if not path.exists():
        raise CliError(f"{path}: no such file")
    if not path.is_file():
        raise CliError(f"{path}: not a regular file (a FIFO, a socket or a device); save the data to a file")


def write_atomic(path: str | Path, content: str | bytes | Callable[[Path], None]) -> Path:
    """Write `content` to `path` atomically: text (UTF-8), bytes, or a function that writes a file at the path it
    is given (matplotlib's `savefig`, pandas' `to_csv`). Returns `path`."""
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            if not callable(content):
                f.write(content.encode("utf-8") if isinstance(content, str) else content)
        if callable(content):
            content(tmp)
        readable(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def readable(path: Path) -> None:
    """Give a file the permissions a plain `open()` would (0644 under the usual umask 022), not a private 0600."""
    os.chmod(path, 0o666 & ~_umask())


def _umask() -> int:
    # The process's umask can only be read by setting it; set it straight back (the suite starts no threads that
    # create files meanwhile).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
