"""Small functions: no function of the core or of a first-party plugin's package is over ``MAX_LINES`` lines.

A function's length is ``end_lineno - lineno + 1`` of its ``def`` (decorators not counted, docstring and nested
functions included), read from the source with ``ast``. Plugin tests are not checked.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 80


def sources() -> list[Path]:
    """The core's modules and those of every first-party plugin package (``plugins/*/mulcot_*``), tests left out."""
    packages = [ROOT / "mulcot_bench", *sorted(p for p in ROOT.glob("plugins/*/mulcot_*") if p.is_dir())]
    return [path for package in packages for path in sorted(package.rglob("*.py")) if not _is_test(path)]


def _is_test(path: Path) -> bool:
    parts = path.relative_to(ROOT).parts
    return "tests" in parts or parts[-1].startswith("test_") or parts[-1] == "conftest.py"


def long_functions(path: Path, limit: int = MAX_LINES, root: Path = ROOT) -> list[str]:
    """``path:line name (N lines)`` (path relative to ``root``) for each function of ``path`` over ``limit`` lines."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return [
        f"{path.relative_to(root)}:{node.lineno} {node.name} ({size} lines)"
        for node in sorted(functions, key=lambda n: n.lineno)
        if (size := node.end_lineno - node.lineno + 1) > limit
    ]


def test_sources_are_found() -> None:
    found = {p.relative_to(ROOT).parts[0] for p in sources()}
    assert found == {"mulcot_bench", "plugins"}


def test_no_function_is_over_the_limit() -> None:
    offenders = [line for path in sources() for line in long_functions(path)]
    assert not offenders, f"functions over {MAX_LINES} lines (split them):\n" + "\n".join(offenders)


def test_a_long_function_is_named_with_its_place_and_length(tmp_path: Path) -> None:
    body = "\n".join(f"        x{i} = {i}" for i in range(4))
    module = tmp_path / "m.py"
    module.write_text(f"def short():\n    pass\n\n\nclass C:\n    async def long(self):\n{body}\n")
    assert long_functions(module, limit=4, root=tmp_path) == ["m.py:6 long (5 lines)"]
    assert long_functions(module, limit=5, root=tmp_path) == []
