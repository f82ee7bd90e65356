"""The user's mistakes, and the one place that turns them into `error: ...` on stderr and an exit status.

The rule: code that knows which option, file or folder the user gave raises `CliError`, with a message that
names it; that is most of the core (config through the parser, recipes, data sources, the model loader, the plan,
the output folder, checkpoints, the Trainer's start-up checks). Helpers that know no command line (layer groups,
parameter groups, the loss, the search space's arithmetic) raise `ValueError` or their own exception, and the
caller that knows the option words it as a `CliError`. Every command (train.py, `cola.predict` and the tools in
`cola.experiments`) wraps its `main` in `reports_errors`, so a bad input is one line and exit status 2, never a
traceback.
"""

from __future__ import annotations

import functools
import sys


def on_one_line(error: BaseException, limit: int = 400) -> str:
    """An exception's message on one line (a library's may run to a paragraph, and cutting it at its first line
    can drop what to act on, as in "... but found" + the values on the next lines), or its type."""
    text = " ".join(str(error).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or type(error).__name__


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
