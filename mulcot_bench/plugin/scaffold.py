"""``mulcot-bench plugins new``: write a working plugin package from the Jinja2 templates in ``templates/``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from mulcot_bench.errors import UserError
from mulcot_bench.types import ROLES

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Names:
    """Every name derived from the model name."""

    model: str
    role: str

    @property
    def distribution(self) -> str:
        return self.model if self.model.startswith("mulcot-") else f"mulcot-{self.model}"

    @property
    def package(self) -> str:
        return self.distribution.replace("-", "_")

    @property
    def cls(self) -> str:
        return "".join(part.capitalize() for part in self.model.split("-"))

    def context(self) -> dict[str, str]:
        return {
            "name": self.model,
            "role": self.role,
            "distribution": self.distribution,
            "package": self.package,
            "cls": self.cls,
            "ident": self.model.replace("-", "_"),
        }


def _layout(n: Names) -> dict[str, str]:
    """Output path (relative to the package folder) -> template name."""
    return {
        "pyproject.toml": "pyproject.toml.j2",
        "README.md": "README.md.j2",
        f"{n.package}/__init__.py": "__init__.py.j2",
        f"{n.package}/plugin.py": "plugin.py.j2",
        f"{n.package}/rules.py": "rules.py.j2",
        f"{n.package}/model.py": f"model_{n.role}.py.j2",
        f"tests/test_{n.package}.py": "test_plugin.py.j2",
    }


def scaffold(name: str, role: str, parent: Path) -> Path:
    """Write the package for model ``name`` with ``role`` into ``parent/<distribution>``; return that folder."""
    import jinja2

    if not _NAME.match(name):
        raise UserError(f"plugin name {name!r} must be lower-case words joined by '-', e.g. 'keyword-baseline'")
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    names = Names(name, role)
    folder = parent / names.distribution
    if folder.exists() and any(folder.iterdir()):
        raise UserError(f"{folder} already exists and is not empty; choose another --dir or remove it")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(files("mulcot_bench.plugin") / "templates")),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    for rel, template in _layout(names).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(env.get_template(template).render(**names.context()))
    return folder
