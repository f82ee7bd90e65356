"""The package's shape: imports run one way (train.py -> experiments -> core -> errors), with no cycles, and the
tests stand alone (the package is installed, so no test edits the import path; no test imports another test file)."""

import ast
import json
import os

from conftest import REPO

CORE_ROOT = REPO / "cola"


def module_name(path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path) -> set[str]:
    """Every cola module (or train) a file imports, at the top or inside a function."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from . import x` names a module
    known = {module_name(p) for p in sources()}
    return {m for m in found if m in known} - {name}


def sources():
    return [REPO / "train.py", *sorted(CORE_ROOT.rglob("*.py"))]


ENTRY = {"train", "cola.cli", "cola.__main__"}  # the command line: train.py is the run book of cola.cli's main


def layer(module: str) -> int:
    if module in ENTRY:
        return 3
    if module.startswith("cola.experiments"):
        return 2
    if module == "cola.errors":
        return 0
    return 1


def graph() -> dict[str, set[str]]:
    return {module_name(p): imported_modules(p) for p in sources() if "evaluate_modules" not in p.parts}


def test_imports_point_down_the_layers():
    edges = graph()
    assert {"train", "cola.recipes", "cola.trainer", "cola.experiments.seeds", "cola.experiments.bench"} <= edges.keys()
    upward = [f"{a} imports {b}" for a, targets in edges.items() for b in targets if layer(b) > layer(a)]
    assert upward == []
    assert edges["cola.errors"] == set()
    assert "cola.experiments.seeds" in edges["cola.cli"] and "cola.run" in edges["cola.experiments.bench"]
    assert edges["train"] == {"cola.cli"} and edges["cola.__main__"] == {"cola.cli"}  # two doors, one command
    assert "cola.run" in edges["cola.experiments.seeds"]  # a sweep runs the package's run, no script callback


# The intended structure, one committed description (docs/architecture.json): the parts, and the imports that
# must never exist between them.
HOUSE = json.loads((REPO / "docs" / "architecture.json").read_text())


def part_modules(part: str) -> set[str]:
    """The modules a part of the house is made of: its files, and every module under its folders."""
    found = set()
    for entry in HOUSE["parts"][part]["is"]:
        paths = sorted((REPO / entry).rglob("*.py")) if entry.endswith("/") else [REPO / entry]
        found |= {module_name(path) for path in paths}
    return found


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_module_belongs_to_one_part_of_the_house():
    owners = {}
    for part in HOUSE["parts"]:
        for module in part_modules(part):
            owners.setdefault(module, []).append(part)
    modules = {module_name(p) for p in sources() if "evaluate_modules" not in p.parts}
    assert {m for m in modules if m not in owners} == set()  # a new module is placed in the house
    assert {m: parts for m, parts in owners.items() if len(parts) > 1} == {}
    assert all(module in {module_name(p) for p in sources()} for module in owners)  # no part names a file that is gone


def test_the_house_walls_hold():
    """No part imports what the house forbids it (docs/architecture.json: `never`), directly or through a chain."""
    edges = graph()
    broken = []
    for rule in HOUSE["never"]:
        for module in part_modules(rule["from"]):
            found = edges.get(module, set()) if rule["how"] == "direct" else reachable(edges, module)
            broken += [f"{module} -> {t} ({rule['why']})" for t in sorted(found & part_modules(rule["to"]))]
    assert broken == []


def test_no_import_cycles():
    edges = graph()
    state, cycles = {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_tests_stand_alone():
    for path in sorted((REPO / "tests").glob("*.py")):
        tree = ast.parse(path.read_text())
        edits_path = [node for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "path"
                      and isinstance(node.value, ast.Name) and node.value.id == "sys"]
        assert edits_path == [], path.name
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not {m for m in imported if m.startswith("test_")}, path.name


def test_the_package_installs_no_top_level_train_module(tmp_path):
    """`pip install` puts the `cola` package on the path, not a module called `train` (which would shadow any other
    project's train.py); train.py is the script in the repository."""
    import subprocess
    import sys

    found = subprocess.run([sys.executable, "-c", "import importlib.util as u; print(u.find_spec('train') is None, "
                            "u.find_spec('cola') is not None)"], cwd=tmp_path, capture_output=True, text=True,
                           env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, check=True)
    assert found.stdout.split() == ["True", "True"]
