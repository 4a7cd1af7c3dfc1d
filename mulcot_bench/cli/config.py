"""``run --config FILE`` and ``eval --config FILE``: a TOML file of option values (data, never code).

A key is an option's long flag without its dashes (``dataset``, ``model``, ``model-arg``, ``synthetic-size``,
``bootstrap``, ``verbose``); ``eval`` takes its MODEL arguments as ``model`` too. A value has the option's type: a
string, a whole number, a number, true or false, or a list of them for a repeatable option (a single value is a
list of one). The values become the command's ``default_map``, so a flag given on the command line (or an
option's environment variable) overrides the file; a repeatable flag replaces the file's list. The file's path,
sha256 and parsed content are recorded in the run's ``provenance.config``.
"""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path
from typing import Any

import click

from mulcot_bench.errors import UserError
from mulcot_bench.results import ConfigRecord

#: the arguments a file may set, by parameter name -> key (``eval MODEL...``: the key of ``run -m``)
ARGUMENT_KEYS = {"models": "model"}


def config_keys(command: click.Command) -> dict[str, click.Parameter]:
    """Key -> parameter for what a config file may set on ``command``: every visible option by its long flag
    without dashes (``--config`` itself left out) and the arguments of :data:`ARGUMENT_KEYS`."""
    out: dict[str, click.Parameter] = {}
    for param in command.params:
        if isinstance(param, click.Argument) and param.name in ARGUMENT_KEYS:
            out[ARGUMENT_KEYS[param.name]] = param
        elif isinstance(param, click.Option) and not param.hidden and param.name != "config":
            out[max(param.opts, key=len).lstrip("-")] = param
    return out


def _expected(param: click.Parameter) -> tuple[tuple[type, ...], str]:
    """The TOML types one value of ``param`` may have, and how the error says it."""
    kind = param.type
    if isinstance(param, click.Option) and param.is_flag:
        return (bool,), "true or false"
    if isinstance(kind, click.types.IntParamType):
        return (int,), "a whole number"
    if isinstance(kind, click.types.FloatParamType):
        return (int, float), "a number"
    if isinstance(kind, click.Choice):
        return (str,), "one of " + ", ".join(repr(c) for c in kind.choices)
    if isinstance(kind, click.Path):
        return (str,), "a path (a string)"
    if getattr(param, "multiple", False) or param.nargs == -1:  # names (dataset, model, model-arg): strings only
        return (str,), "a string"
    return (str, int, float), "a string"  # a number is taken as its text (``jobs = 2``, ``model-timeout = 30``)


def _shown(value: Any) -> str:
    return "a table" if isinstance(value, dict) else "a list" if isinstance(value, list) else repr(value)


def _value(param: click.Parameter, key: str, value: Any, where: str) -> Any:
    """``value`` checked against ``param``'s type (one line naming the file and the key if wrong), as its default."""
    many = bool(getattr(param, "multiple", False)) or param.nargs == -1
    types, what = _expected(param)
    what += " or a list of them" if many else ""
    items = value if many and isinstance(value, list) else [value]
    out = []
    for item in items:
        if not isinstance(item, types) or (isinstance(item, bool) and bool not in types):
            raise UserError(f"{where}: {key}: expected {what} (got {_shown(item)})")
        item = str(item) if str in types and not isinstance(item, str) else item
        try:
            param.type.convert(item, param, None)
        except click.BadParameter as exc:
            raise UserError(f"{where}: {key}: {exc.message}") from None
        out.append(item)
    return out if many else out[0]


def _unknown(key: str, keys: dict[str, click.Parameter], command: click.Command, where: str) -> UserError:
    """An unknown key: one line with a did-you-mean (a parameter name such as ``datasets`` names its key)."""
    by_name = {p.name: k for k, p in keys.items()}
    guess = by_name.get(key) or by_name.get(key.replace("-", "_"))
    close = [guess] if guess else difflib.get_close_matches(key.replace("_", "-"), list(keys), n=1)
    maybe = f"; did you mean {close[0]!r}?" if close else ""
    return UserError(
        f"{where}: unknown key {key!r}{maybe} (a key is an option's long name without its dashes, as in "
        f"'mulcot-bench {command.name} --help')"
    )


def load_run_config(path: Path, command: click.Command) -> tuple[ConfigRecord, dict[str, Any]]:
    """The file at ``path`` checked against ``command``'s options: its provenance record and its default map
    (parameter name -> value)."""
    where = f"config {path}"
    if not path.is_file():
        raise UserError(f"{where}: no such file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{where}: not UTF-8 text (a TOML file is UTF-8)") from None
    from mulcot_bench.distill.config import parse_toml

    content = parse_toml(text, where)
    keys = config_keys(command)
    defaults: dict[str, Any] = {}
    for key, value in content.items():
        param = keys.get(key)
        if param is None or param.name is None:
            raise _unknown(key, keys, command, where)
        defaults[param.name] = _value(param, key, value, where)
    record = ConfigRecord(path=str(path.resolve()), sha256=hashlib.sha256(raw).hexdigest(), content=content)
    return record, defaults


def _load(ctx: click.Context, param: click.Parameter, value: Path | None) -> ConfigRecord | None:
    """Read ``--config`` before the other options (it is eager) and make its values their defaults."""
    if value is None:
        return None
    record, defaults = load_run_config(value, ctx.command)
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return record


config_option = click.option(
    "--config",
    type=click.Path(path_type=Path),
    is_eager=True,
    callback=_load,
    metavar="FILE.toml",
    help='Option values from a TOML file, by long name without dashes (dataset = ["synthetic"], seed = 1, '
    "model-arg = [...]); flags given here override it; recorded in provenance.config. See docs/running.md.",
)
