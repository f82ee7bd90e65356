"""Secrets never printed or written: a database password in any form the drivers take, and the value of a
`--*_token` option.

Commands quote the command line they were started with (a model card, a search report, a compare report), and
error messages quote storage URLs; all of them go through here first. A database URL keeps its user and host, so
a reader still sees where a study lives: `postgresql://ana:***@db.lab/cola`.

The credential forms hidden (SQLAlchemy's URLs, libpq's and PyMySQL's connection strings):
- `scheme://user:password@host/...`, the password being whatever lies between the user's ':' and the last '@'
  before the host (a password may itself hold ':' or an unencoded '@');
- a `password=`, `passwd=`, `pwd=`, `sslpassword=` (or `token=`, `secret=`, `api_key=`) parameter, in a URL's query
  string (`?password=x&...`) or a keyword DSN (`host=db password=x`, `password='x y'`), any case.
A password is also hidden where a library's message quotes it alone, and percent-decoded (`p%40ss` as `p@ss`).
"""

from __future__ import annotations

import re
import shlex
from urllib.parse import unquote

MASK = "***"
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*):(?P<password>[^\s]*)@")
_SECRET_KEYS = r"(?:ssl)?password|passwd|pwd|token|secret|api[_-]?key"
# key=value: the value quoted ('x y' or "x y") or up to the next '&', ';', whitespace or quote
_KEYWORD_PASSWORD = re.compile(rf"(?P<head>(?<![A-Za-z0-9_])(?:{_SECRET_KEYS})\s*=\s*)"
                               r"(?P<password>'[^']*'|\"[^\"]*\"|[^&;\s'\"]+)", re.IGNORECASE)


def is_secret_option(name: str) -> bool:
    """Whether an option's value is a credential: `hub_token` (TrainingArguments), `token`, a `*_password`; with or
    without --."""
    return re.search(rf"(?:{_SECRET_KEYS})$", name.lstrip("-").replace("-", "_"), re.IGNORECASE) is not None


def hide_credentials(text: str) -> str:
    """`text` with every credential in it (see the module's docstring) replaced by ***."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}:{MASK}@", text)
    return _KEYWORD_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", text)


def credentials_in(text: str) -> list[str]:
    """The passwords and tokens `text` carries, as written and percent-decoded (to scrub them from messages that
    quote them without the URL around them)."""
    found = [m["password"] for m in _URL_PASSWORD.finditer(text)]
    found += [m["password"].strip("'\"") for m in _KEYWORD_PASSWORD.finditer(text)]
    return sorted({v for value in found for v in (value, unquote(value)) if v}, key=len, reverse=True)


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
        words.append(hide_credentials(word))
    return words


def command_line(prog: str, argv) -> str:
    """How a report quotes the command that made it: shell-quoted, secrets hidden."""
    return " ".join([prog, *(word if word == MASK else shlex.quote(word) for word in redact_argv(argv))]).rstrip()


def scrub(text: str, *sources: str | None) -> str:
    """`text` with its credentials hidden, and each credential that `sources` (a storage URL, say) carry hidden
    where `text` quotes it on its own (a driver's message may quote the password outside any URL)."""
    text = hide_credentials(text)
    for source in sources:
        for secret in credentials_in(source or ""):
            text = text.replace(secret, MASK)
    return text
