"""The core's architecture: no import loop, no room importing a room above it, every module importable alone.

The import graph is read from the source with ``ast`` (every ``import``, also inside functions and under
``TYPE_CHECKING``, and the implicit import of each module's parent package), so a loop that only a lazy
import hides is still found.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mulcot_bench"
#: the rooms, lowest first: a module may import its own room and the rooms before it, never one after it
ROOMS = ("core", "console", "data", "prompts", "reported", "plugin", "scoring", "metrics", "builtin", "report",
         "export", "parallel", "runner", "distill", "cli")  # fmt: skip
#: the plugin facade re-exports the metric contract for metric plugins, loaded on first use (never at import)
ALLOWED_UP = {("mulcot_bench.plugin", "mulcot_bench.scoring.metric")}


def module_names() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """Module -> the core modules it imports (its parent package included)."""
    known = module_names()
    graph: dict[str, set[str]] = {m: set() for m in known}
    for name, path in known.items():
        is_pkg = path.name == "__init__.py"
        parent = name.rpartition(".")[0]
        if parent:
            graph[name].add(parent)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = name.split(".") if is_pkg else name.split(".")[:-1]
                    here = here[: len(here) - node.level + 1]
                    base = ".".join([*here, base] if base else here)
                targets = [f"{base}.{a.name}" for a in node.names]
            for target in targets:
                found = _resolve(target, known)
                if found and found != name:
                    graph[name].add(found)
    return graph


def room(module: str) -> str:
    parts = module.split(".")
    if module == "mulcot_bench.__main__":  # ``python -m mulcot_bench`` is the command line
        return "cli"
    return parts[1] if len(parts) > 1 and parts[1] in ROOMS else "core"


def test_no_import_loop() -> None:
    graph = import_graph()
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}  # a package's own
    try:  # __init__ importing its submodules is the package, not a loop
        list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import loop: {' -> '.join(exc.args[1])}")


def test_no_room_imports_a_room_above_it() -> None:
    upward = [
        f"{m} imports {d}"
        for m, deps in import_graph().items()
        for d in deps
        if ROOMS.index(room(d)) > ROOMS.index(room(m)) and (m, d) not in ALLOWED_UP
    ]
    assert upward == []


def test_top_level_stays_small() -> None:
    modules = [p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__")]
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert len(modules) <= 12, sorted(modules)
    assert {"cli", "plugin", "scoring", "data", "distill", "report", "runner"} <= packages


def test_every_module_imports_in_a_fresh_interpreter_in_dependency_order() -> None:
    graph = import_graph()
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    order = [m for m in TopologicalSorter(graph).static_order() if not m.endswith("__main__")]
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    done = subprocess.run([sys.executable, "-c", code, *order], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_importing_the_package_installs_no_import_hook() -> None:
    code = (
        "import sys\nbefore = list(sys.meta_path), list(sys.path_hooks)\nimport mulcot_bench, mulcot_bench.plugin\n"
        "assert (list(sys.meta_path), list(sys.path_hooks)) == before, (sys.meta_path, sys.path_hooks)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
