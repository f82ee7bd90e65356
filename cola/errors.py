"""The user's mistakes, and the one place that turns them into `error: ...` on stderr and an exit status.

Library code raises `ValueError` (or lets a library's own error through); the code that knows which option or
file the user gave words it as a `CliError`. Every command (train.py, `cola.predict`,
`cola.experiments.compare`, `cola.experiments.bench`) wraps its `main` in `reports_errors`, so a bad input is
one line and exit status 2, never a traceback.
"""

from __future__ import annotations

import functools
import sys


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (library errors often run to a paragraph), or its type."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class CliError(Exception):
    """A problem with the user's input (arguments, recipe, data, model): reported without a traceback."""

    def __init__(self, message: str, *, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


def reports_errors(main):
    """Decorate a command's `main(argv) -> int`: a `CliError` becomes `error: <message>` and its exit status."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except CliError as error:
            print(f"error: {error}", file=sys.stderr)
            return error.exit_code

    return wrapper
