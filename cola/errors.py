"""The one exception type the CLI turns into a one-line message and exit status 2."""


class CliError(Exception):
    """A problem with the user's input (arguments, recipe, data, model): reported without a traceback."""

    exit_code = 2
