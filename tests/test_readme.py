"""The commands the READMEs and docs show must parse with the real parsers (they cannot drift from them)."""

import re
import shlex

import pytest
from conftest import COMMAND, DOCS, REPO

from cola.experiments import bench, compare, search
from cola.predict import build_parser as predict_parser
from cola.recipes import parse_args

SCRIPTS = sorted((REPO / "docs").rglob("*.sh"))  # shell variables in their train.py lines: only tool commands parse
# (?<!") skips the prog="..." strings in the parsers themselves.
def parse_search(argv):
    """The search's own options, then the rest as train.py options (every trial's fixed settings)."""
    _, passthrough = search.build_parser().parse_known_args(argv)
    parse_args(passthrough)


EXPERIMENTS = REPO / "cola" / "experiments"
TOOLS = {
    "cola.predict": (lambda argv: predict_parser().parse_args(argv), [REPO / "cola" / "predict.py"]),
    "cola.experiments.compare": (lambda argv: compare.build_parser().parse_args(argv), [EXPERIMENTS / "compare.py"]),
    "cola.experiments.bench": (lambda argv: bench.build_parser().parse_args(argv), [EXPERIMENTS / "bench.py"]),
    "cola.experiments.search": (parse_search, [EXPERIMENTS / "search.py"]),
}


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


@pytest.mark.parametrize("module", TOOLS)
def test_documented_tool_commands_parse(module):
    parse, sources = TOOLS[module]
    pattern = re.compile(rf"(?<!\")python -m {re.escape(module)}( [^`|#\n]*)")
    found = [m.group(1) for doc in DOCS + SCRIPTS + sources for m in pattern.finditer(doc.read_text())]
    assert len(found) >= 2
    for args in found:
        parse(shlex.split(args))


def test_no_doc_names_a_module_that_moved():
    moved = re.compile(r"python -m cola\.(compare|bench|seeds|search)\b|cola[./]cola_tsv\W+decode_lines|cola\.model\.PACKAGED")
    files = DOCS + SCRIPTS + [REPO / "requirements.txt", REPO / "pyproject.toml"]
    stale = [f"{doc.relative_to(REPO)}: {m.group(0)}" for doc in files for m in moved.finditer(doc.read_text())]
    assert stale == []


def test_the_bad_input_table_names_tests_that_exist():
    named = re.findall(r"`(?:tests/)?(test_\w+\.py)(?:::(\w+))?`", (REPO / "docs" / "contributing.md").read_text())
    assert len(named) >= 10
    for file, test in named:
        path = REPO / "tests" / file
        assert path.is_file(), file
        assert not test or f"def {test}(" in path.read_text(), f"{file}::{test}"


def _report_bullets() -> list[tuple[str, str]]:
    """The README's list of reports: (linked doc, the bullet's text) for each `- [Title](docs/...)` bullet."""
    readme = (REPO / "README.md").read_text()
    return re.findall(r"^- \[[^\]]+\]\((docs/[^)#]+)(?:#[^)]*)?\)(.*?)(?=^\S|^\s*$)", readme, re.M | re.S)


def test_the_readme_quotes_each_reports_figures_as_the_report_states_them():
    """A figure the README quotes from a report (an MCC, a time ratio) is written there as in the report: one
    source, so the two cannot drift apart (0.63x against the report's 0.64x, once)."""
    bullets = _report_bullets()
    assert len(bullets) >= 6
    for doc, text in bullets:
        path = REPO / doc
        source = (path / "README.md" if path.is_dir() else path).read_text()
        figures = re.findall(r"(?<![\w.])\d+\.\d+x?(?![\w.])", text)
        assert [f for f in figures if f not in source] == [], doc


def test_the_readme_stays_short_and_links_what_it_moved_out():
    """A newcomer reads it to the end: what this is, the set-up and first-run commands, the tests and what they need,
    the commands people use, and links; the rest lives in docs/, and every link in the docs lands somewhere."""
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    assert "COLA_DATA_DIR" in readme and "python -m pytest -q" in readme
    broken = []
    for doc in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]:
        for url in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
            path, _, fragment = url.partition("#")
            if url.startswith(("http://", "https://")):
                continue
            target = (doc.parent / path).resolve() if path else doc
            if not target.exists():
                broken.append(f"{doc.relative_to(REPO)}: {url}")
            elif fragment and target.suffix == ".md" and fragment not in _anchors(target):
                broken.append(f"{doc.relative_to(REPO)}: {url} (no such heading)")
    assert broken == []


def _anchors(path) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings."""
    headings = [line.lstrip("#").strip() for line in path.read_text().splitlines() if line.startswith("#")]
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}
