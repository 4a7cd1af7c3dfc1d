"""The core's architecture: no import loop, no room importing a room above it, every module importable alone;
and the first-party plugins import only the plugin facade (``mulcot_bench.plugin``, ``mulcot_bench.plugin.training``).

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
         "export", "parallel", "training", "runner", "distill", "cli")  # fmt: skip
#: the plugin facade re-exports the metric contract and macro-F1, and the package the Python API ``evaluate``,
#: each loaded on first use (never at import)
ALLOWED_UP = {
    ("mulcot_bench", "mulcot_bench.runner.api"),
    ("mulcot_bench.plugin", "mulcot_bench.scoring.metric"),
    ("mulcot_bench.plugin", "mulcot_bench.scoring.stats"),
}
#: the training sub-facade re-exports the training room and the collectives plugins use, loaded on first use
FACADE_UP = {"mulcot_bench.plugin.training": ("training", "parallel")}
#: what a first-party plugin module may import from the core
PLUGIN_API = ("mulcot_bench.plugin", "mulcot_bench.plugin.training")
PLUGINS = PACKAGE.parent / "plugins"


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
        if ROOMS.index(room(d)) > ROOMS.index(room(m))
        and (m, d) not in ALLOWED_UP
        and room(d) not in FACADE_UP.get(m, ())
    ]
    assert upward == []


def test_top_level_stays_small() -> None:
    modules = [p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__")]
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert len(modules) <= 12, sorted(modules)
    assert {"cli", "plugin", "scoring", "data", "distill", "training", "report", "runner"} <= packages


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


def core_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every import of ``mulcot_bench`` or below in ``source`` (inside functions too; a
    ``from mulcot_bench.plugin import x`` names ``mulcot_bench.plugin``, never ``x``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            if node.module == "mulcot_bench":  # ``from mulcot_bench import plugin`` is the module it names
                found += [(node.lineno, f"mulcot_bench.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name == "mulcot_bench" or name.startswith("mulcot_bench.")]


def facade_violations(source: str) -> list[str]:
    """Each import of the core other than the plugin facade and its training sub-facade, as ``line: module``."""
    return [f"{line}: {name}" for line, name in core_imports(source) if name not in PLUGIN_API]


def plugin_modules() -> list[Path]:
    """Every first-party plugin's source file outside its tests (packages and scripts)."""
    return sorted(p for p in PLUGINS.glob("*/**/*.py") if "tests" not in p.relative_to(PLUGINS).parts)


def test_the_facade_check_catches_internal_imports() -> None:
    source = (
        "import mulcot_bench.types\n"
        "from mulcot_bench.plugin import Sample\n"
        "from mulcot_bench.plugin.training import fit\n"
        "from mulcot_bench.plugin.registry import build_registry\n"
        "from mulcot_bench import labels\n"
        "def f():\n"
        "    from mulcot_bench.training.trainer import fit\n"
        "    import mulcot_bench\n"
    )
    assert facade_violations(source) == [
        "1: mulcot_bench.types",
        "4: mulcot_bench.plugin.registry",
        "5: mulcot_bench.labels",
        "7: mulcot_bench.training.trainer",
        "8: mulcot_bench",
    ]


def test_plugins_import_only_the_plugin_facade() -> None:
    modules = plugin_modules()
    assert len(modules) > 20, modules  # the walk finds the plugins
    bad = [
        f"{path.relative_to(PLUGINS)}:{where}"
        for path in modules
        for where in facade_violations(path.read_text(encoding="utf-8"))
    ]
    assert bad == [], "import these from mulcot_bench.plugin (or mulcot_bench.plugin.training):\n" + "\n".join(bad)
