"""Old import paths of modules that moved, kept working for plugins written against earlier releases.

``import mulcot_bench.hookspecs`` still works: it returns the module now at ``mulcot_bench.plugin.hookspecs``
(the same object, so hook markers and classes are identical) and warns once, in one line, what to import
instead. New code imports the plugin API from :mod:`mulcot_bench.plugin`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

#: old module path -> new module path
MOVED: dict[str, str] = {
    "mulcot_bench.hookspecs": "mulcot_bench.plugin.hookspecs",
    "mulcot_bench.specs": "mulcot_bench.plugin.specs",
    "mulcot_bench.registry": "mulcot_bench.plugin.registry",
    "mulcot_bench.plugins": "mulcot_bench.plugin.loading",
    "mulcot_bench.isolation": "mulcot_bench.plugin.registry",
    "mulcot_bench.contract": "mulcot_bench.plugin.contract",
    "mulcot_bench.doctor": "mulcot_bench.plugin.doctor",
    "mulcot_bench.testing": "mulcot_bench.plugin.testing",
    "mulcot_bench.scaffold": "mulcot_bench.plugin.scaffold",
    "mulcot_bench.stats": "mulcot_bench.scoring.stats",
    "mulcot_bench.compare": "mulcot_bench.scoring.compare",
    "mulcot_bench.pipeline": "mulcot_bench.runner.pipeline",
    "mulcot_bench.stages": "mulcot_bench.runner.stages",
    "mulcot_bench.provenance": "mulcot_bench.runner.provenance",
    "mulcot_bench.builtin.synthetic": "mulcot_bench.data.synthetic",
    "mulcot_bench.builtin.loaders": "mulcot_bench.data.loaders",
}
#: old module paths with no one-to-one successor: importing them is one clear ImportError saying what to use
REMOVED: dict[str, str] = {
    "mulcot_bench.persample": "per-sample scores now come from each metric's per_sample method "
    "(mulcot_bench.plugin.SampleScores), walked by mulcot_bench.scoring.scorer.Scorer.sample_scores",
    "mulcot_bench.report.demo": "the demo run data moved to the test suite (tests/demo_runs.py)",
}
#: where a plugin author should import from instead (the facade where the names are on it)
ADVICE: dict[str, str] = {
    "mulcot_bench.hookspecs": "mulcot_bench.plugin",
    "mulcot_bench.specs": "mulcot_bench.plugin",
    "mulcot_bench.testing": "mulcot_bench.plugin.testing (fixtures; pytest -p mulcot_bench.testing keeps working)",
    "mulcot_bench.contract": "mulcot_bench.plugin (check_model)",
}


class _Alias(importlib.abc.Loader):
    """Loads an old path as the module at its new path (no second copy of the module)."""

    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        return None


class MovedFinder(importlib.abc.MetaPathFinder):
    """Finds the old module paths of :data:`MOVED`."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in REMOVED:
            raise ImportError(f"{fullname} was removed: {REMOVED[fullname]}", name=fullname)
        new = MOVED.get(fullname)
        if new is None:
            return None
        warnings.warn(
            f"{fullname} moved to {new}; import from {ADVICE.get(fullname, new)} instead",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.machinery.ModuleSpec(fullname, _Alias(new))


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedFinder())
