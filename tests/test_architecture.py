"""The room map of docs/architecture.md holds: arrows point one way (core <- rooms <- CLI/DAGs), no
room imports another except where the map allows it, no module imports itself back in a circle, and
every package ships.

Imports are read from the source (``ast``), including those inside functions: a lazy import is still a
dependency. Only the platform's own modules count; third-party imports are ignored.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = "watershed"
# The top layer may import any room: the `watershed` command's entry, the file spark-submit runs (the
# same command inside a Spark driver) and the DAGs.
TOP = {"watershed.cli", "spark_jobs.submit", "dags"}
# Rooms and the other rooms each may import (the core is always allowed).
ROOMS: dict[str, set[str]] = {
    "collectors": set(),
    "simulator": {"collectors"},  # the development write keys it posts with
    "spark_jobs": set(),
    "warehouse": set(),
    "quality": {"warehouse", "spark_jobs"},  # the live ad counters it reconciles with the marts
    # the exporter reads landing's checkpoint, the real-time job's status, the warehouse's freshness
    "monitoring": {"spark_jobs", "warehouse"},
    "extractors": set(),  # the ad platforms' clients; their fakes are in the simulator
}
PACKAGES = [CORE, *ROOMS]


def modules() -> dict[str, Path]:
    """Every module of the platform by dotted name (DAG files as ``dags.<file>``)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    for path in sorted((ROOT / "dags").glob("*.py")):
        found[f"dags.{path.stem}"] = path
    return found


def imports(path: Path, known: set[str], *, top_level_only: bool = False) -> Iterator[tuple[str, int]]:
    """(imported platform module, line) of each import in `path`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
            names = [name if name in known else node.module for name in names]
        else:
            continue
        for name in names:
            # the longest known module the name starts with
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                yield name, node.lineno


def layer(module: str) -> str:
    if module in TOP or module.split(".")[0] == "dags":
        return "top"
    return module.split(".")[0]


def allowed(importer: str, imported: str) -> bool:
    source, target = layer(importer), layer(imported)
    if source == "top" or source == target:
        return True
    if target == "top":
        return False
    if target == CORE:
        return True
    return source in ROOMS and target in ROOMS[source]


def test_no_module_imports_upward_or_across_rooms() -> None:
    found = modules()
    known = set(found)
    wrong = [
        f"{path.relative_to(ROOT)}:{line}: {module} ({layer(module)}) imports {target} ({layer(target)})"
        for module, path in found.items()
        for target, line in imports(path, known)
        if not allowed(module, target)
    ]
    assert wrong == []


def test_no_circular_imports_at_import_time() -> None:
    found = modules()
    known = set(found)
    graph = {m: {t for t, _ in imports(p, known, top_level_only=True) if t != m} for m, p in found.items()}
    # a package's __init__ importing its own submodules is how packages re-export; a cycle needs a way back
    cycles = [sorted(c) for c in strongly_connected(graph) if len(c) > 1]
    assert cycles == []


def test_rooms_depend_on_each_other_without_cycles() -> None:
    graph = {room: set(others) for room, others in ROOMS.items()}
    assert [c for c in strongly_connected(graph) if len(c) > 1] == []


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def test_the_checker_sees_an_upward_and_a_circular_import() -> None:
    # the rules above, on a made-up graph: the core importing a room, a room importing another
    assert not allowed("watershed.settings", "quality.runner")
    assert not allowed("spark_jobs.cli", "quality.runner")
    assert not allowed("quality.cli", "watershed.cli")
    assert allowed("quality.suites.marts", "warehouse.loader")
    assert allowed("dags.ecommerce_daily", "quality.tasks")
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}, {"d"}]


def test_every_package_is_shipped() -> None:
    """pyproject.toml lists its packages one by one (the dbt project and DAGs are mapped into the
    wheel as package data): a package missing from the list would be missing from `pip install .`."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    inits = [init for package in PACKAGES for init in (ROOT / package).rglob("__init__.py")]
    on_disk = {".".join(init.parent.relative_to(ROOT).parts) for init in inits}
    assert on_disk - listed == set()
    assert {p for p in listed - on_disk if not p.startswith("watershed.bundled.")} == set()


@pytest.mark.parametrize("room", ["extractors", "ml", "dashboards", "governance", "connect", "deploy"])
def test_the_rooms_for_the_second_wave_are_on_the_map(room: str) -> None:
    assert (ROOT / room / "README.md").is_file()
    assert f"`{room}/`" in (ROOT / "docs" / "architecture.md").read_text()


def test_every_constraint_pins_a_registry_version() -> None:
    """constraints.txt pins name==version only: a direct reference (``name @ file:///...`` left by
    ``pip freeze`` after a local wheel install) cannot be installed on any other machine."""
    lines = [line.strip() for line in (ROOT / "constraints.txt").read_text().splitlines()]
    pins = [line for line in lines if line and not line.startswith("#")]
    assert [p for p in pins if p.split(";")[0].strip().count("==") != 1 or "@" in p] == []
    assert len(pins) > 100
