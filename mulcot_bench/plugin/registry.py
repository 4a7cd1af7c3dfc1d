"""The registry: every model, dataset and metric the loaded plugins registered, by name.

:func:`build_registry` loads every plugin (what ``run`` uses); :func:`isolated` loads only the chosen ones
(what ``plugins doctor`` and the pytest kit use). Both go through :func:`mulcot_bench.plugin.loading.load`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from mulcot_bench.cache import key
from mulcot_bench.errors import PluginError, describe, unknown
from mulcot_bench.plugin.loading import (
    Candidate,
    LoadedPlugins,
    PluginInfo,
    Problem,
    builtin_candidates,
    candidates,
    find,
    load,
)
from mulcot_bench.plugin.specs import DatasetSpec, MetricSpec, ModelSpec

KINDS = {"models": ModelSpec, "datasets": DatasetSpec, "metrics": MetricSpec}


@dataclass
class Registry:
    """Names to specs, with the plugin that registered each."""

    loaded: LoadedPlugins
    models: dict[str, ModelSpec] = field(default_factory=dict)
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    metrics: dict[str, MetricSpec] = field(default_factory=dict)
    owner: dict[tuple[str, str], str] = field(default_factory=dict)

    def model(self, name: str) -> ModelSpec:
        if name not in self.models:
            raise unknown("model", name, self.models, "Run 'mulcot-bench plugins' to see what is registered.")
        return self.models[name]

    def dataset(self, name: str) -> DatasetSpec:
        if name not in self.datasets:
            raise unknown("dataset", name, self.datasets, "Run 'mulcot-bench datasets' to see what is registered.")
        return self.datasets[name]

    def plugin_version(self, kind: str, name: str) -> str | None:
        return self.loaded.info(self.owner[(kind, name)]).version

    def plugin_of(self, kind: str, name: str) -> str:
        return self.owner[(kind, name)]

    def identity(self, name: str) -> str:
        """A model's cache identity: its name, plugin, plugin version, role and every declared setting."""
        spec = self.model(name)
        fallback = spec.card.settings.get("fallback")  # a teacher that serves what this one lacks
        return key(
            name,
            self.plugin_of("models", name),
            self.plugin_version("models", name),
            spec.card.role,
            spec.card.settings,
            self.identity(fallback) if isinstance(fallback, str) and fallback in self.models else None,
        )


def collect(registry: Registry, kind: str, strict: bool) -> None:
    table: dict[str, Any] = getattr(registry, kind)
    expected = KINDS[kind]
    hook = getattr(registry.loaded.manager.hook, f"register_{kind}")
    for impl in hook.get_hookimpls():  # registration order = load order
        plugin = impl.plugin_name
        info = registry.loaded.info(plugin)

        def register(spec: Any, _plugin: str = plugin, _info=info) -> None:  # noqa: ANN001
            if not isinstance(spec, expected):
                raise PluginError(
                    f"plugin {_plugin!r} registered {spec!r} in register_{kind}; expected a {expected.__name__}"
                )
            key = spec.id if kind == "metrics" else spec.name
            if key in table:
                first = registry.owner[(kind, key)]
                raise PluginError(
                    f"{kind[:-1]} name {key!r} is registered by both plugin {first!r} and plugin {_plugin!r}; "
                    f"block one with MULCOT_BENCH_BLOCK_PLUGINS={_plugin} or rename it"
                )
            table[key] = spec
            registry.owner[(kind, key)] = _plugin
            _info.registered.setdefault(kind, []).append(key)

        try:
            impl.function(register=register)
        except PluginError:
            raise
        except Exception as exc:  # isolate a plugin that raises while registering
            info.error = f"register_{kind} raised {describe(exc)}"
            if strict:
                raise PluginError(f"plugin {plugin!r} failed in register_{kind}: {exc}") from exc


def build_registry(
    plugins_dirs: list[Path] | None = None, strict: bool = False, extra: list[Candidate] | None = None
) -> Registry:
    """Load every plugin (and the ``extra`` ones, last) and collect everything they register."""
    registry = Registry(load([*candidates(plugins_dirs), *(extra or [])], strict=strict)[0])
    for kind in KINDS:
        collect(registry, kind, strict)
    return registry


def isolated(chosen: list[Candidate], strict: bool = True) -> tuple[Registry, list[Problem]]:
    """A registry holding only ``chosen`` plugins; problems are raised (``strict``) or returned."""
    loaded, problems = load(chosen, check_hooks=True, honour_block=False)
    registry = Registry(loaded)
    for kind in KINDS:
        try:
            collect(registry, kind, strict=False)
        except PluginError as exc:
            problems.append(Problem(_owner_in(str(exc), loaded.plugins), "register", str(exc)))
    for info in loaded.plugins:
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
