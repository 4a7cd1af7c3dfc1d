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
from collections.abc import Callable
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


def plugin_dirs(extra: list[Path]) -> list[Path]:
    """The plugin folders: those given, then those in the environment variable."""
    env = [Path(p) for p in os.environ.get(PLUGINS_DIR_ENV, "").split(os.pathsep) if p]
    return [*extra, *env]


def load_file(path: Path) -> ModuleType:
    """Import a local plugin file as a module."""
    name = f"mulcot_bench_local_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@dataclass
class Candidate:
    """A plugin that can be loaded: what it is and a zero-argument loader."""

    info: PluginInfo
    load: Callable[[], object]


def builtin_candidates() -> list[Candidate]:
    """The built-in dataset and metric plugins."""
    from mulcot_bench import __version__

    return [
        Candidate(
            PluginInfo(m.rsplit(".", 1)[-1], "built-in", "mulcot-bench", __version__),
            lambda m=m: importlib.import_module(m),
        )
        for m in BUILTIN
    ]


def entry_point_candidate(ep: importlib.metadata.EntryPoint) -> Candidate:
    dist = getattr(ep, "dist", None)
    info = PluginInfo(ep.name, f"entry point {ep.value}", dist.name if dist else None, dist.version if dist else None)
    return Candidate(info, ep.load)


def file_candidate(path: Path) -> Candidate:
    return Candidate(PluginInfo(path.stem, f"file {path}"), lambda: load_file(path))


def candidates(plugins_dirs: list[Path] | None = None) -> list[Candidate]:
    """Every plugin there is to load, in load order: built-ins, entry points, local files (blocked ones too)."""
    found = builtin_candidates()
    eps = sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    found += [entry_point_candidate(ep) for ep in eps]
    for folder in plugin_dirs(plugins_dirs or []):
        if not folder.is_dir():
            raise PluginError(f"plugin folder {folder} does not exist; pass an existing folder to --plugins-dir")
        found += [file_candidate(p) for p in sorted(folder.glob("*.py"))]
    return found


def load_plugins(plugins_dirs: list[Path] | None = None, strict: bool = False) -> LoadedPlugins:
    """Load built-in plugins, entry points and local plugin files, each in isolation."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    blocked = blocked_names()
    infos: list[PluginInfo] = []
    for cand in candidates(plugins_dirs):
        info = cand.info
        if info.name in blocked:
            pm.set_blocked(info.name)
            continue
        try:
            pm.register(cand.load(), name=info.name)
        except Exception as exc:  # a broken plugin must not break the others
            info.error = describe(exc)
            if strict:
                raise PluginError(f"plugin {info.name!r} ({info.source}) failed to load: {info.error}") from exc
        infos.append(info)
    return LoadedPlugins(pm, infos)
