"""Secrets never printed or written: a password in a URL, and the value of a `--*_token` option.

Commands quote the command line they were started with (a model card, a search report, a compare report), and
error messages quote URLs; all of them go through here first. A database URL keeps its user and host, so a
reader still sees where a study lives: `postgresql://ana:***@db.lab/cola`.
"""

from __future__ import annotations

import re
import shlex

MASK = "***"
# scheme://user:password@host... : the password is whatever lies between the user's ':' and the last '@' before
# the host (a password may itself hold ':' or an unencoded '@'), on one whitespace-free token.
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*):(?P<password>[^\s]*)@")


def is_secret_option(name: str) -> bool:
    """Whether an option's value is a credential: `hub_token` (TrainingArguments), `token`; with or without --."""
    return name.lstrip("-").replace("-", "_").endswith("token")


def hide_url_passwords(text: str) -> str:
    """`text` with the password of every URL in it replaced by ***."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}:{MASK}@", text)


def url_password(url: str) -> str | None:
    """The password a URL carries, if any (to scrub it from messages that quote it without the URL around it)."""
    match = _URL_PASSWORD.search(url)
    return match["password"] if match and match["password"] else None


def redact_argv(argv) -> list[str]:
    """A command line's words with secrets hidden: `--hub_token X` / `--hub_token=X` and URL passwords."""
    words, hide_next = [], False
    for word in map(str, argv):
        if hide_next:
            words.append(MASK)
            hide_next = False
            continue
        name, eq, _ = word.partition("=")
        if name.startswith("--") and is_secret_option(name):
            words.append(f"{name}={MASK}" if eq else name)
            hide_next = not eq
            continue
        words.append(hide_url_passwords(word))
    return words


def command_line(prog: str, argv) -> str:
    """How a report quotes the command that made it: shell-quoted, secrets hidden."""
    return " ".join([prog, *(word if word == MASK else shlex.quote(word) for word in redact_argv(argv))]).rstrip()


def scrub(text: str, *secrets: str | None) -> str:
    """`text` with URL passwords and each given secret string hidden (a library's message may quote a password
    on its own, outside any URL)."""
    text = hide_url_passwords(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text
