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

Free text (a driver's message) ends a credential at white space: nothing else marks its end there. One value (a
word of the command line, the storage URL) is one thing, so there a credential runs on through spaces: a URL's
password to the last '@', a URL query's `password=` to the next '&' (`postgresql://u:hunter two2@db`,
`?password=hunter two2`). `scrub` hides the credentials of a known value wherever a free text quotes them.
"""

from __future__ import annotations

import re
import shlex
from urllib.parse import unquote, unquote_plus

MASK = "***"
_SCHEME_USER = r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*)"
_URL_PASSWORD = re.compile(_SCHEME_USER + r":(?P<password>[^\s]*)@")
_URL_PASSWORD_IN_VALUE = re.compile(_SCHEME_USER + r":(?P<password>.*)@", re.DOTALL)  # greedy: to the last '@'
_IS_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://")
_SECRET_KEYS = r"(?:ssl)?password|passwd|pwd|token|secret|api[_-]?key"
# key=value: the value quoted ('x y' or "x y") or up to the next '&', ';', whitespace or quote
_KEY = rf"(?P<head>(?<![A-Za-z0-9_])(?:{_SECRET_KEYS})\s*=\s*)"
_KEYWORD_PASSWORD = re.compile(_KEY + r"(?P<password>'[^']*'|\"[^\"]*\"|[^&;\s'\"]+)", re.IGNORECASE)
_QUERY_PASSWORD_IN_VALUE = re.compile(_KEY + r"(?P<password>[^&#]+)", re.IGNORECASE)  # a URL's query: to the next '&'


def _value_patterns(value: str) -> tuple[re.Pattern, re.Pattern]:
    """The URL-password and keyword patterns for one value: spaces inside a URL belong to it."""
    if _IS_URL.search(value):
        return _URL_PASSWORD_IN_VALUE, _QUERY_PASSWORD_IN_VALUE
    return _URL_PASSWORD, _KEYWORD_PASSWORD


def is_secret_option(name: str) -> bool:
    """Whether an option's value is a credential: `hub_token` (TrainingArguments), `token`, a `*_password`; with or
    without --."""
    return re.search(rf"(?:{_SECRET_KEYS})$", name.lstrip("-").replace("-", "_"), re.IGNORECASE) is not None


def hide_credentials(text: str) -> str:
    """`text` with every credential in it (see the module's docstring) replaced by ***."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}:{MASK}@", text)
    return _KEYWORD_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", text)


def hide_credentials_in_value(value: str) -> str:
    """One value (a command line's word, a storage URL) with its credentials replaced by ***, spaces and all."""
    url, keyword = _value_patterns(value)
    value = url.sub(lambda m: f"{m['head']}:{MASK}@", value)
    return keyword.sub(lambda m: f"{m['head']}{MASK}", value)


def credentials_in(value: str) -> list[str]:
    """The passwords and tokens one value (a storage URL, an option's value) carries, as written and
    percent-decoded (to scrub them from messages that quote them without the URL around them), longest first."""
    url, keyword = _value_patterns(value)
    found = [m["password"] for m in url.finditer(value)]
    found += [m["password"].strip("'\"") for m in keyword.finditer(value)]
    spellings = {v for secret in found for v in (secret, unquote(secret), unquote_plus(secret), secret.strip())}
    return sorted((v for v in spellings if v), key=len, reverse=True)


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
        words.append(hide_credentials_in_value(word))
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
