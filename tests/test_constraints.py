"""The lock file ``constraints.txt``: every declared dependency has a pin its range allows, and the CI check
(``.ci/constraints.py``) names each difference between a venv and the file."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path
from types import ModuleType

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY_PREFIX = "mulcot-"  # the core and the plugins: installed editable, never pinned


def _check_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_constraints", ROOT / ".ci" / "constraints.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pins() -> dict[str, Version]:
    """``name -> pinned version`` from ``constraints.txt`` (every line a ``name==version``, or a comment)."""
    out = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", f"{line!r} is not a pin"
            out[canonicalize_name(req.name)] = Version(spec.version)
    return out


def declared() -> list[tuple[str, Requirement]]:
    """(pyproject, requirement) for every dependency and optional dependency of the core and the plugins."""
    out = []
    for path in [ROOT / "pyproject.toml", *sorted(ROOT.glob("plugins/*/pyproject.toml"))]:
        project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
        extras = project.get("optional-dependencies", {}).values()
        for text in [*project.get("dependencies", []), *(r for group in extras for r in group)]:
            out.append((str(path.relative_to(ROOT)), Requirement(text)))
    return out


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    locked = pins()
    third_party = [(where, r) for where, r in declared() if not r.name.startswith(FIRST_PARTY_PREFIX)]
    assert len(third_party) > 30
    unpinned = [f"{where}: {r}" for where, r in third_party if canonicalize_name(r.name) not in locked]
    assert not unpinned, f"not in constraints.txt (regenerate it: docs/install.md): {unpinned}"
    outside = [f"{where}: {r} (pinned {locked[canonicalize_name(r.name)]})" for where, r in third_party
               if not r.specifier.contains(locked[canonicalize_name(r.name)], prereleases=True)]  # fmt: skip
    assert not outside, f"pins outside the declared range: {outside}"


def test_the_code_s_plotting_and_scipy_imports_are_declared() -> None:
    core = {canonicalize_name(r.name) for where, r in declared() if where == "pyproject.toml"}
    assert {"matplotlib", "scipy", "pandas"} <= core


def test_torch_is_pinned_without_its_local_label_and_first_party_packages_are_not_pinned() -> None:
    locked = pins()
    assert locked["torch"] == Version("2.13.0")
    assert not [name for name in locked if name.startswith(FIRST_PARTY_PREFIX)]


def test_the_ci_check_names_every_difference() -> None:
    script = _check_script()
    lock = script.parse(["# header", "torch==2.13.0", "sacrebleu==2.6.0", "nltk==3.10.4", "Jinja2==3.1.6"])
    venv = script.parse(["torch==2.13.0+cpu", "sacrebleu==2.5.1", "jinja2==3.1.6", "tqdm==4.70.1"])
    assert script.differences(lock, venv) == [
        "nltk: pinned 3.10.4, not installed",
        "sacrebleu: pinned 2.6.0, installed 2.5.1",
        "tqdm: installed 4.70.1, not pinned",
    ]
    assert script.differences(lock, lock) == []
    assert script.pinned("torch==2.13.0+cpu") == "torch==2.13.0" and script.pinned("a==1+b") == "a==1+b"
