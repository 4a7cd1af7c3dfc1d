"""The registry: every model, dataset and metric the loaded plugins registered, by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mulcot_bench.errors import PluginError, unknown
from mulcot_bench.plugins import LoadedPlugins, load_plugins
from mulcot_bench.specs import DatasetSpec, MetricSpec, ModelSpec

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
            info.error = f"register_{kind} raised {type(exc).__name__}: {exc}"
            if strict:
                raise PluginError(f"plugin {plugin!r} failed in register_{kind}: {exc}") from exc


def build_registry(plugins_dirs: list[Path] | None = None, strict: bool = False) -> Registry:
    """Load the plugins and collect everything they register."""
    registry = Registry(load_plugins(plugins_dirs, strict=strict))
    for kind in KINDS:
        collect(registry, kind, strict)
    return registry
