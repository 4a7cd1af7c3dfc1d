"""Load plugins one at a time into their own registry, and find hooks that match no spec.

Used by ``mulcot-bench plugins doctor`` and by the pytest kit (:mod:`mulcot_bench.testing`), so a
plugin author can test their plugin with nothing else loaded but the built-in datasets and metrics.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import inspect
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pluggy

from mulcot_bench import hookspecs
from mulcot_bench.errors import PluginError
from mulcot_bench.plugins import (
    ENTRY_POINT_GROUP,
    Candidate,
    LoadedPlugins,
    PluginInfo,
    builtin_candidates,
    describe,
    entry_point_candidate,
    file_candidate,
)
from mulcot_bench.registry import KINDS, Registry, collect

SPEC_NAMES: tuple[str, ...] = tuple(f"register_{kind}" for kind in KINDS)
_IMPL_MARK = f"{hookspecs.PROJECT}_impl"


@dataclass(frozen=True)
class Problem:
    """One failed check of a plugin: which plugin, which check, what is wrong."""

    plugin: str
    check: str
    message: str

    def __str__(self) -> str:
        return f"plugin {self.plugin!r}: check {self.check!r} failed: {self.message}"


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


def isolated(chosen: list[Candidate], strict: bool = True) -> tuple[Registry, list[Problem]]:
    """A registry holding only ``chosen`` plugins; problems are raised (``strict``) or returned."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    problems: list[Problem] = []
    infos: list[PluginInfo] = []
    for cand in chosen:
        try:
            module = cand.load()
            pm.register(module, name=cand.info.name)
        except Exception as exc:
            cand.info.error = describe(exc)
            problems.append(Problem(cand.info.name, "load", cand.info.error))
            infos.append(cand.info)
            continue
        infos.append(cand.info)
        found = hook_problems(module, cand.info.name)
        problems += found or [p for p in pending_problems(pm) if p.plugin == cand.info.name]
    registry = Registry(LoadedPlugins(pm, infos))
    for kind in KINDS:
        try:
            collect(registry, kind, strict=False)
        except PluginError as exc:
            problems.append(Problem(_owner_in(str(exc), infos), "register", str(exc)))
    for info in infos:
        if info.error and not any(p.plugin == info.name and p.check == "load" for p in problems):
            problems.append(Problem(info.name, "register", info.error))
    if strict and problems:
        raise PluginError("; ".join(str(p) for p in problems))
    return registry, problems


def _owner_in(message: str, infos: list[PluginInfo]) -> str:
    return next((i.name for i in reversed(infos) if repr(i.name) in message), infos[-1].name if infos else "?")


def plugin_registry(plugin: str | ModuleType, builtins: bool = True) -> Registry:
    """A registry with only ``plugin`` (and the built-in datasets and metrics); any problem raises."""
    chosen = [*builtin_candidates(), find(plugin)] if builtins else [find(plugin)]
    registry, _ = isolated(chosen, strict=True)
    return registry
