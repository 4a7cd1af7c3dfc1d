"""Plugin loading: entry points, local plugin files and the built-in plugins, each isolated.

Every plugin, first-party or not, comes through the same path: a module with ``@hookimpl``
functions, found through the ``mulcot_bench`` entry-point group or as a ``*.py`` file in a plugin
folder. One that fails to import is recorded and skipped (``strict`` makes that fatal).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pluggy

from mulcot_bench import hookspecs
from mulcot_bench.errors import PluginError

ENTRY_POINT_GROUP = "mulcot_bench"
PLUGINS_DIR_ENV = "MULCOT_BENCH_PLUGINS_DIR"
BLOCK_ENV = "MULCOT_BENCH_BLOCK_PLUGINS"
BUILTIN = ("mulcot_bench.builtin.datasets", "mulcot_bench.builtin.metrics")


@dataclass
class PluginInfo:
    """One plugin: where it came from, its version, and what it registered."""

    name: str
    source: str
    distribution: str | None = None
    version: str | None = None
    error: str | None = None
    registered: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class LoadedPlugins:
    """The plugin manager and what happened while loading."""

    manager: pluggy.PluginManager
    plugins: list[PluginInfo]

    @property
    def failures(self) -> list[PluginInfo]:
        return [p for p in self.plugins if p.error]

    def info(self, name: str) -> PluginInfo:
        return next(p for p in self.plugins if p.name == name)


def blocked_names() -> set[str]:
    """Plugin names listed (comma separated) in the block variable."""
    return {n.strip() for n in os.environ.get(BLOCK_ENV, "").split(",") if n.strip()}


def _plugin_dirs(extra: list[Path]) -> list[Path]:
    env = [Path(p) for p in os.environ.get(PLUGINS_DIR_ENV, "").split(os.pathsep) if p]
    return [*extra, *env]


def _load_file(path: Path) -> ModuleType:
    name = f"mulcot_bench_local_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def load_plugins(plugins_dirs: list[Path] | None = None, strict: bool = False) -> LoadedPlugins:
    """Load built-in plugins, entry points and local plugin files, each in isolation."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    blocked = blocked_names()
    infos: list[PluginInfo] = []

    def add(info: PluginInfo, load) -> None:  # noqa: ANN001 - a zero-argument loader
        if info.name in blocked:
            pm.set_blocked(info.name)
            return
        try:
            pm.register(load(), name=info.name)
        except Exception as exc:  # a broken plugin must not break the others
            info.error = _describe(exc)
            if strict:
                raise PluginError(f"plugin {info.name!r} ({info.source}) failed to load: {info.error}") from exc
        infos.append(info)

    from mulcot_bench import __version__

    for module in BUILTIN:
        add(
            PluginInfo(module.rsplit(".", 1)[-1], "built-in", "mulcot-bench", __version__),
            lambda m=module: importlib.import_module(m),
        )
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        add(
            PluginInfo(ep.name, f"entry point {ep.value}", dist.name if dist else None, dist.version if dist else None),
            ep.load,
        )
    for folder in _plugin_dirs(plugins_dirs or []):
        if not folder.is_dir():
            raise PluginError(f"plugin folder {folder} does not exist; pass an existing folder to --plugins-dir")
        for path in sorted(folder.glob("*.py")):
            add(PluginInfo(path.stem, f"file {path}"), lambda p=path: _load_file(p))
    return LoadedPlugins(pm, infos)
