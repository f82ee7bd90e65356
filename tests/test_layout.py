"""The package's shape: imports run one way (train.py -> experiments -> core -> errors), with no cycles, and the
tests stand alone (the package is installed, so no test edits the import path; no test imports another test file)."""

import ast

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


# The house's walls (../shared/house): imports that must never exist, directly or through another module.
PARTS = {
    "Groups": {"cola.param_groups"}, "Freezing": {"cola.freezing", "cola.unfreezing", "cola.frozen_cache"},
    "Data": {"cola.data"}, "Sources": {"cola.cola_tsv", "cola.user_data"}, "Config": {"cola.config", "cola.precision"},
    "Trainer": {"cola.trainer"}, "Recipes": {"cola.recipes"}, "Model": {"cola.model", "cola.predict"},
    "Reports": {"cola.results", "cola.model_card", "cola.tracking"}, "Metrics": {"cola.metrics"},
    "Experiments": {"cola.experiments.bench", "cola.experiments.profile_step"}, "Entry": ENTRY,
    "RunFolder": {"cola.output_dir"}, "Loader": {"cola.model"},
}
NEVER = [("Groups", "Trainer"), ("Freezing", "Trainer"), ("Data", "Trainer"), ("Sources", "Trainer"), ("Data", "Model"),
         ("Config", "Metrics"), ("Config", "Trainer"), ("Data", "Entry"), ("Trainer", "Recipes"), ("Model", "Freezing"),
         ("Reports", "Loader"), ("Experiments", "Trainer"), ("Model", "Sources"), ("RunFolder", "Loader")]


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_house_walls_hold():
    """Bench and profile build runs through cola.run, the Trainer is handed its resolved config, the loader knows
    no layer groups, the card and the folder lock need no model code, predict reads lines without the CoLA reader."""
    edges = graph()
    direct = {("Experiments", "Trainer")}  # through cola.run, as train.py; the rest: through any chain of imports
    broken = []
    for source, target in NEVER:
        for module in PARTS[source]:
            found = edges[module] if (source, target) in direct else reachable(edges, module)
            broken += [f"{module} -> {t}" for t in sorted(found & PARTS[target])]
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
