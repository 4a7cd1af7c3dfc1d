"""``mulcot-bench plugins ...``: list plugins (no subcommand), scaffold a new one, check them all."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mulcot_bench.cli.options import fmt_params, json_option, load_registry, plugins_dir_option, strict_option
from mulcot_bench.types import ROLES

if TYPE_CHECKING:
    from mulcot_bench.plugin.registry import Registry


@click.group("plugins", invoke_without_command=True)
@plugins_dir_option
@strict_option
@json_option
@click.pass_context
def plugins_group(ctx: click.Context, plugins_dirs: tuple[Path, ...], strict: bool, as_json: bool) -> None:
    """List the plugins, their versions, and what each registers (no subcommand); scaffold or check plugins."""
    if ctx.invoked_subcommand is None:
        list_plugins(plugins_dirs, strict, as_json)


def list_plugins(plugins_dirs: tuple[Path, ...], strict: bool, as_json: bool = False) -> None:
    """Each plugin, its distribution version and source, and what it registers."""
    registry = load_registry(plugins_dirs, strict)
    if as_json:
        click.echo(json.dumps(plugins_json(registry), indent=2))
        return
    for info in registry.loaded.plugins:
        version = f"{info.distribution or '-'} {info.version or ''}".strip()
        status = f"FAILED: {info.error}" if info.error else ""
        click.echo(f"{info.name}  [{version}]  {info.source}  {status}".rstrip())
        for kind, names in info.registered.items():
            for name in names:
                extra = ""
                if kind == "models":
                    card = registry.models[name].card
                    opt_in = "" if card.default else ", opt-in: not in --all"
                    if card.default and card.datasets is not None:
                        opt_in = f", --all runs it on {', '.join(card.datasets)} only"
                    extra = f"  ({card.role}{', ' + fmt_params(card.params) if card.params else ''}{opt_in})"
                click.echo(f"    {kind[:-1]}: {name}{extra}")


def plugins_json(registry: Registry) -> list[dict[str, Any]]:
    """Each plugin as JSON: source, distribution, version, error, what it registers, and its models' cards."""
    out = []
    for info in registry.loaded.plugins:
        models = {
            name: {
                "role": registry.models[name].card.role,
                "params": registry.models[name].card.params,
                "opt_in": not registry.models[name].card.default,
                "datasets": registry.models[name].card.datasets,
                "description": registry.models[name].card.description,
            }
            for name in info.registered.get("models", [])
        }
        out.append({**vars(info), "models": models})
    return out


@plugins_group.command("show")
@click.argument("model")
@plugins_dir_option
@strict_option
@json_option
def show_cmd(model: str, plugins_dirs: tuple[Path, ...], strict: bool, as_json: bool) -> None:
    """A model's card: role, plugin, and every setting with its value (what ``-o MODEL.KEY=VALUE`` can set)."""
    registry = load_registry(plugins_dirs, strict)
    card = registry.model(model).card
    info = {
        "model": card.name,
        "plugin": registry.plugin_of("models", model),
        "role": card.role,
        "description": card.description,
        "params": card.params,
        "modalities": list(card.modalities),
        "rationale": card.rationale,
        "assistant": card.assistant,
        "opt_in": not card.default,
        "datasets": list(card.datasets) if card.datasets is not None else "all",
        "settings": card.settings,
        "runtime": card.runtime,
    }
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    for name, value in info.items():
        if name == "params":
            click.echo(f"params: {declared_params(card.params)}")
        elif name not in ("settings", "runtime"):
            click.echo(f"{name}: {value}")
    click.echo("settings (-o MODEL.KEY=VALUE; also MODEL.checkpoint=PATH):")
    for name, value in sorted(card.settings.items()):
        click.echo(f"    {name} = {json.dumps(value, default=str)}")
    if card.runtime:
        click.echo("runtime options (-o MODEL.KEY=VALUE; how it runs, not what it answers: not in the cache identity):")
        for name, value in sorted(card.runtime.items()):
            click.echo(f"    {name} = {json.dumps(value, default=str)}")


def declared_params(params: int | None) -> str:
    """The card's declared parameter count, and what a run does with it."""
    from mulcot_bench.efficiency.params import TOLERANCE

    check = (
        f"a run counts the model's own and warns when the count exceeds this by more than {TOLERANCE:.0%} "
        "(results.json: efficiency.parameters)"
    )
    if params is None:
        return f"not declared by the card ({check.split(' and ')[0]})"
    return f"{params:,} ({fmt_params(params)}), declared by the card; {check}"


@plugins_group.command("new")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the model does in the pipeline.")
@click.option("--dir", "parent", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Folder to create the package folder in.")
def new_cmd(name: str, role: str, parent: Path) -> None:
    """Write a working plugin package for model NAME: pyproject, module, README and a passing test."""
    from mulcot_bench.plugin.scaffold import scaffold

    folder = scaffold(name, role, parent)
    click.echo(f"wrote {folder}")
    click.echo(f"next: pip install -e {folder} && (cd {folder} && pytest) && mulcot-bench run -d synthetic -m {name}")


@plugins_group.command("doctor")
@click.option("-m", "--model", "models", multiple=True, help="Check only this model's contract (repeatable).")
@click.option("--skip-slow", is_flag=True, help="Skip models whose settings declare training epochs.")
@plugins_dir_option
def doctor_cmd(models: tuple[str, ...], skip_slow: bool, plugins_dirs: tuple[Path, ...]) -> None:
    """Load each plugin on its own, check its hooks and its models' contract; exit 1 if anything fails."""
    from mulcot_bench.plugin.doctor import diagnose, doctor_lines

    parent = click.get_current_context().parent
    dirs = [*(parent.params.get("plugins_dirs", ()) if parent else ()), *plugins_dirs]
    if models:
        _known_models(dirs, models)
    diagnoses, together = diagnose(dirs, models or None, skip_slow)
    lines, ok = doctor_lines(diagnoses, together)
    for line in lines:
        click.echo(line)
    if not ok:
        sys.exit(1)


def _known_models(dirs: list[Path], models: tuple[str, ...]) -> None:
    """Raise a did-you-mean error for a model name no plugin registers."""
    from mulcot_bench.errors import PluginError
    from mulcot_bench.plugin.registry import build_registry

    try:
        registry = build_registry(dirs)
    except PluginError:  # the doctor itself reports plugins that cannot be loaded together
        return
    for name in models:
        registry.model(name)
