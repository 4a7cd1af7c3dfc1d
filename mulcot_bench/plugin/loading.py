"""Plugin loading: entry points, local plugin files and the built-in plugins, each isolated.

Every plugin, first-party or not, comes through the same path: a module with ``@hookimpl``
functions, found through the ``mulcot_bench`` entry-point group or as a ``*.py`` file in a plugin
folder. One that fails to import is recorded and skipped (``strict`` makes that fatal). :func:`load`
is the one loop that builds a plugin manager, for ``run``, ``plugins doctor`` and the pytest kit alike;
it also finds hooks that match no spec (``register_model`` for ``register_models``).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pluggy

from mulcot_bench.errors import PluginError, describe
from mulcot_bench.plugin import hookspecs

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


SPEC_NAMES: tuple[str, ...] = ("register_models", "register_datasets", "register_metrics")
_IMPL_MARK = f"{hookspecs.PROJECT}_impl"


@dataclass(frozen=True)
class Problem:
    """One failed check of a plugin: which plugin, which check, what is wrong."""

    plugin: str
    check: str
    message: str

    def __str__(self) -> str:
        return f"plugin {self.plugin!r}: check {self.check!r} failed: {self.message}"


def manager() -> pluggy.PluginManager:
    """A plugin manager that knows the hook specs."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def hook_problems(module: object, name: str) -> list[Problem]:
    """``@hookimpl`` functions that match no spec (e.g. ``register_model``) and spec names left unmarked."""
    problems = []
    for attr in sorted(dir(module)):
        fn = getattr(module, attr, None)
        if not callable(fn):
            continue
        marked = getattr(fn, _IMPL_MARK, None) is not None
        if marked and attr not in SPEC_NAMES:
            close = difflib.get_close_matches(attr, SPEC_NAMES, n=1)
            maybe = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(
                Problem(name, "hooks", f"hook {attr!r} matches no hook spec{maybe} (known: {', '.join(SPEC_NAMES)})")
            )
        elif attr in SPEC_NAMES and not marked and inspect.isfunction(fn):
            problems.append(Problem(name, "hooks", f"function {attr!r} is not marked @hookimpl, so it is never called"))
    return problems


def pending_problems(pm: pluggy.PluginManager) -> list[Problem]:
    """Hook implementations the manager holds with no spec (what ``check_pending`` rejects), per plugin."""
    out = []
    for hook_name, caller in sorted(vars(pm.hook).items()):
        if isinstance(caller, pluggy.HookCaller) and not caller.has_spec():
            for impl in caller.get_hookimpls():
                out.append(Problem(impl.plugin_name, "hooks", f"hook {hook_name!r} matches no hook spec"))
    return out


def load(
    chosen: list[Candidate], strict: bool = False, check_hooks: bool = False, honour_block: bool = True
) -> tuple[LoadedPlugins, list[Problem]]:
    """Register each chosen plugin, each in isolation from the others (blocked names skipped if ``honour_block``).

    A plugin that fails to import is recorded on its :class:`PluginInfo` and as a ``load`` problem;
    ``strict`` raises at once instead. ``check_hooks`` also reports hooks that match no spec.
    """
    pm = manager()
    blocked = blocked_names() if honour_block else set()
    infos: list[PluginInfo] = []
    problems: list[Problem] = []
    for cand in chosen:
        info = cand.info
        if info.name in blocked:
            pm.set_blocked(info.name)
            continue
        infos.append(info)
        try:
            module = cand.load()
            pm.register(module, name=info.name)
        except Exception as exc:  # a broken plugin must not break the others
            info.error = describe(exc)
            if strict:
                raise PluginError(f"plugin {info.name!r} ({info.source}) failed to load: {info.error}") from exc
            problems.append(Problem(info.name, "load", info.error))
            continue
        if check_hooks:
            found = hook_problems(module, info.name)
            problems += found or [p for p in pending_problems(pm) if p.plugin == info.name]
    return LoadedPlugins(pm, infos), problems


def find(plugin: str | ModuleType) -> Candidate:
    """A plugin by entry-point name, by module path (installed or not), by ``*.py`` path, or a module object."""
    if isinstance(plugin, ModuleType):
        return Candidate(
            PluginInfo(plugin.__name__, f"module {plugin.__name__}", *_dist_of(plugin.__name__)), lambda: plugin
        )
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if plugin in (ep.name, ep.value):
            return entry_point_candidate(ep)
    if plugin.endswith(".py"):
        return file_candidate(Path(plugin))
    return Candidate(PluginInfo(plugin, f"module {plugin}", *_dist_of(plugin)), lambda: importlib.import_module(plugin))


def _dist_of(module: str) -> tuple[str | None, str | None]:
    """The distribution (and its version) that installs a module, when it is installed."""
    names = importlib.metadata.packages_distributions().get(module.split(".")[0], [])
    if not names:
        return None, None
    return names[0], importlib.metadata.version(names[0])
