"""The commands the READMEs show must parse with the real parser (they cannot drift from it)."""

import re
import shlex

import pytest

from cola.config import parse_args
from conftest import REPO

DOCS = [REPO / "README.md", REPO / "recipes" / "README.md", REPO / "train.py"]
COMMAND = re.compile(r"(?:accelerate launch(?: --\S+(?: \S+)?)*|torchrun(?: --\S+(?: \S+)?)*|python) train\.py([^`|#\n]*)")
PREDICT = re.compile(r"(?<!\")python -m cola\.predict( [^`|#\n]*)")  # not the prog="..." string
COMPARE = re.compile(r"(?<!\")python -m cola\.compare( [^`|#\n]*)")


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


def test_documented_predict_commands_parse():
    from cola.predict import build_parser

    found = [m.group(1) for doc in DOCS + [REPO / "cola" / "predict.py"] for m in PREDICT.finditer(doc.read_text())]
    assert len(found) >= 3
    for args in found:
        build_parser().parse_args(shlex.split(args))


def test_documented_compare_commands_parse():
    from cola.compare import build_parser

    docs = DOCS + [REPO / "cola" / "compare.py", REPO / "docs" / "grid" / "run_grid.sh", REPO / "docs" / "best_offline" / "search.sh"]
    found = [m.group(1) for doc in docs for m in COMPARE.finditer(doc.read_text())]
    assert len(found) >= 3
    for args in found:
        build_parser().parse_args(shlex.split(args))
