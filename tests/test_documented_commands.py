"""Every train.py command the README and the docs show runs as written, after the README's set-up (`export
COLA_DATA_DIR=...`, offline), in the order each page shows them, from a fresh folder holding the repository's
recipes: shortened by flags appended at the end (`--max_steps 1` and small splits), nothing else changed. A
launcher's part (`accelerate launch`, `torchrun`) is left to tests/test_distributed.py; here its train.py options
run in one process.

Three kinds of command cannot train here, and must say why in one line (exit 2): those that need the Hugging Face
Hub (bert-base-uncased, a Hub dataset), and those that read the user's own files (`--train_file train.csv`)."""

import json
import shlex
import shutil
from pathlib import Path

import pytest
from conftest import COMMAND, DOCS, REPO

import train

pytestmark = pytest.mark.slow

SHORT = ["--max_steps", "1", "--max_train_samples", "32", "--max_eval_samples", "32", "--per_device_train_batch_size",
         "16", "--disable_tqdm", "true"]
HUB_RECIPES = ("full.json", "full_cw.json", "freeze6.json", "freeze6_cw.json")  # bert-base-uncased, as the notebook


def _commands() -> dict[str, list[str]]:
    """Each page's train.py commands (their options), in the order the page shows them."""
    pages = {}
    for doc in DOCS:
        found = [match.group(1).strip() for match in COMMAND.finditer(doc.read_text())]
        if found:
            pages[str(doc.relative_to(REPO))] = found
    return pages


PAGES = _commands()


def _expected(argv: list[str], folder) -> str:
    """'runs', 'hub' (needs the Hugging Face Hub) or 'files' (reads files the user makes)."""
    recipe = argv[argv.index("--recipe") + 1] if "--recipe" in argv else None
    model = argv[argv.index("--model_name_or_path") + 1] if "--model_name_or_path" in argv else None
    if "--dataset_name" in argv or (model is None and (recipe is None or recipe.endswith(HUB_RECIPES))):
        return "hub"
    files = [argv[i + 1] for i, word in enumerate(argv) if word in ("--train_file", "--validation_file")]
    if any(not (folder / name).exists() for name in files):
        return "files"
    return "runs"


def test_the_pages_show_the_commands_people_run():
    assert sum(map(len, PAGES.values())) >= 50 and "README.md" in PAGES


@pytest.mark.parametrize("page", list(PAGES))
def test_every_documented_command_runs_as_written(page, tmp_path, monkeypatch, data_dir, capsys):
    checkout = tmp_path / "checkout"  # a checkout with ../shared beside it, as the README's set-up has it
    shutil.copytree(REPO / "recipes", checkout / "recipes")
    shutil.copytree(REPO / "docs" / "search", checkout / "docs" / "search", ignore=shutil.ignore_patterns("trial_*"))
    (tmp_path / "shared" / "cola").mkdir(parents=True)
    (tmp_path / "shared" / "cola" / "raw").symlink_to(Path(data_dir).resolve(), target_is_directory=True)
    monkeypatch.chdir(checkout)
    monkeypatch.setenv("COLA_DATA_DIR", "../shared/cola/raw")  # the README's set-up line
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    failures = []
    for args in PAGES[page]:
        argv = shlex.split(args)
        if argv == ["--help"]:
            continue
        # a cluster's shared folder (/shared/runs/...): here, inside the test's own folder
        argv = [str(tmp_path / word.lstrip("/")) if word.startswith("/shared/") else word for word in argv]
        expected = _expected(argv, checkout)
        if "--resume_from_checkpoint" in argv and "--seeds" not in argv:
            _interrupt(checkout / _output_dir(argv))  # "continue an interrupted run": interrupt the run it names
        code = train.main(argv + SHORT)
        err = capsys.readouterr().err.strip().splitlines()
        last = err[-1] if err else ""
        ok = {"runs": code == 0,
              "hub": code == 2 and last.startswith("error: ") and ("packaged model" in last or "Hub" in last),
              "files": code == 2 and last.startswith("error: ") and "no such file" in last}[expected]
        if not ok:
            failures.append(f"{args} (expected: {expected}) -> exit {code}: {last[:300]}")
    assert not failures, "\n".join(failures)


def _output_dir(argv: list[str]) -> str:
    if "--output_dir" in argv:
        return argv[argv.index("--output_dir") + 1]
    recipe = json.loads((REPO / argv[argv.index("--recipe") + 1]).read_text()) if "--recipe" in argv else {}
    return recipe.get("output_dir", "outputs/cola")


def _interrupt(folder) -> None:
    """A finished run as a kill after its last checkpoint leaves it: no results.json, no final model."""
    for name in ("results.json", "model.safetensors", "README.md"):
        (folder / name).unlink(missing_ok=True)

