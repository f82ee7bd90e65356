"""The one exception type the CLI turns into a one-line message and exit status 2."""


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (library errors often run to a paragraph), or its type."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class CliError(Exception):
    """A problem with the user's input (arguments, recipe, data, model): reported without a traceback."""

    exit_code = 2
