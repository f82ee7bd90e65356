"""The commands the READMEs show must parse with the real parser (they cannot drift from it)."""

import re
import shlex

import pytest

from cola.config import parse_args
from conftest import REPO

DOCS = [REPO / "README.md", REPO / "recipes" / "README.md", REPO / "train.py"]
COMMAND = re.compile(r"(?:accelerate launch(?: --\S+(?: \S+)?)*|python) train\.py([^`|#\n]*)")


def commands():
    found = []
    for doc in DOCS:
        for match in COMMAND.finditer(doc.read_text()):
            found.append(pytest.param(match.group(1).strip(), id=f"{doc.name}:{match.group(1).strip()[:40]}"))
    return found


def test_the_docs_show_commands():
    assert len(commands()) >= 10


@pytest.mark.parametrize("args", commands())
def test_documented_command_parses(args):
    argv = shlex.split(args)
    if argv == ["--help"]:
        return
    parse_args(argv)
