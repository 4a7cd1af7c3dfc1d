"""The Python API: :func:`evaluate` runs models (registered names or in-memory objects) on datasets, in-process.

An in-memory model is registered, for the one call, into a fresh registry as its own plugin ``in-memory:NAME``
whose version is a fingerprint of the object (its class's code and its attributes), so the cache tells an
edited object from the old one; nothing global is changed. See ``docs/python.md``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from types import ModuleType
from typing import Any

from mulcot_bench.errors import PluginError, UserError
from mulcot_bench.plugin.hookspecs import hookimpl
from mulcot_bench.plugin.loading import Candidate, PluginInfo
from mulcot_bench.plugin.registry import Registry, build_registry
from mulcot_bench.plugin.specs import ModelSpec
from mulcot_bench.results import RunResults
from mulcot_bench.runner.options import RunOptions
from mulcot_bench.types import ModelCard

#: :class:`RunOptions` fields that :func:`evaluate` sets itself (its arguments), never passed as keywords
OWN = frozenset({"models", "datasets", "command"})
#: path-valued options a caller may give as strings
PATHS = frozenset({"data_root", "runs_dir", "reports_dir", "cache_dir"})
#: keywords of :func:`evaluate` besides the :class:`RunOptions` fields
EXTRA = ("synthetic_size", "synthetic_seed", "plugins_dirs", "model_args")


class UnknownOption(UserError, TypeError):
    """A keyword :func:`evaluate` does not take (a :class:`TypeError`, as Python's own, and a ``UserError``)."""


def evaluate(
    models: Sequence[str | Any],
    datasets: Sequence[str] | None = None,
    *,
    synthetic_size: tuple[int, int, int] | None = None,
    synthetic_seed: int = 13,
    plugins_dirs: Sequence[str | Path] | None = None,
    model_args: Sequence[str] = (),
    **run_options: Any,
) -> RunResults:
    """Run ``models`` on ``datasets`` (None: every dataset found) in this process; return the typed results.

    Each model is a registered name or an object with a ``card`` (:class:`ModelCard`) and ``predict(samples)``.
    ``synthetic_size`` is ``(train, dev, test)`` of the embedded ``synthetic`` set (``--synthetic-size``);
    ``model_args`` are ``"MODEL.KEY=VALUE"`` items (``-o``) for registered models; ``run_options`` are
    :class:`RunOptions` fields (``seed``, ``runs_dir``, ``report``, ...). The run folder is written under
    ``runs_dir`` (default: a new temporary folder); the leaderboard only with ``report=True``.
    """
    check_keywords(run_options)
    objects = {i: m for i, m in enumerate(models) if not isinstance(m, str)}
    registry = registry_with(objects, [Path(p) for p in plugins_dirs or []])
    names = [m if isinstance(m, str) else m.card.name for m in models]
    checkpoints = overrides(registry, model_args, {obj.card.name for obj in objects.values()})
    if checkpoints:
        run_options = {**run_options, "checkpoints": {**run_options.get("checkpoints", {}), **checkpoints}}
    options = run_options_for(names, datasets, run_options, synthetic_options(synthetic_size, synthetic_seed))
    from mulcot_bench.runner.orchestrate import run

    outcome = run(registry, options)
    for failure in outcome.results.failures:
        warnings.warn(f"mulcot_bench.evaluate: {failure.what} failed: {failure.reason}", stacklevel=2)
    return outcome.results.located(outcome.run_dir, outcome.report)


def check_keywords(run_options: dict[str, Any]) -> None:
    """Raise :class:`UnknownOption` naming the first keyword that is no :class:`RunOptions` field."""
    known = sorted({f.name for f in fields(RunOptions)} - OWN)
    for name in run_options:
        if name not in known:
            close = difflib.get_close_matches(name, [*known, *EXTRA], n=1)
            maybe = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownOption(f"evaluate() got an unknown keyword {name!r}{maybe} (run options: {', '.join(known)})")


def run_options_for(
    names: list[str], datasets: Sequence[str] | None, given: dict[str, Any], synthetic: dict[str, object]
) -> RunOptions:
    """The :class:`RunOptions` of one call: paths as ``Path``, a temporary runs folder, no leaderboard by default."""
    values = {k: Path(v) if k in PATHS and v is not None else v for k, v in given.items()}
    if "runs_dir" not in values:
        base = Path(tempfile.mkdtemp(prefix="mulcot-bench-"))
        values["runs_dir"] = base / "runs"
        values.setdefault("reports_dir", base / "reports")
    values.setdefault("report", False)
    values["checkpoints"] = {name: Path(folder) for name, folder in values.get("checkpoints", {}).items()}
    dataset_options = {name: dict(opts) for name, opts in values.pop("dataset_options", {}).items()}
    dataset_options["synthetic"] = {**synthetic, **dataset_options.get("synthetic", {})}
    command = f"mulcot_bench.evaluate(models={names!r}, datasets={list(datasets) if datasets else None!r})"
    return RunOptions(
        models=names, datasets=list(datasets) if datasets else None, dataset_options=dataset_options,
        command=command, **values,
    )  # fmt: skip


def overrides(registry: Registry, items: Sequence[str], in_memory: set[str]) -> dict[str, Path]:
    """Put ``-o`` items on the registered cards of this call's registry; returns their checkpoints."""
    from mulcot_bench.plugin.overrides import apply_model_args, parse_model_args

    items = [items] if isinstance(items, str) else list(items)
    for item in items:
        if item.partition(".")[0] in in_memory:
            raise UserError(f"model_args {item!r}: {item.partition('.')[0]!r} is an object: set it on its card")
    parsed = parse_model_args(list(items), registry)
    apply_model_args(registry, parsed)
    return parsed.checkpoints


def synthetic_options(size: tuple[int, int, int] | None, seed: int) -> dict[str, object]:
    """The ``synthetic`` loader's options (as ``--synthetic-size`` and ``--synthetic-seed`` give them)."""
    out: dict[str, object] = {"seed": seed}
    if size is None:
        return out
    if len(size) != 3 or not all(isinstance(n, int) and n >= 1 for n in size):
        raise UserError(f"synthetic_size {size!r} must be three positive integers (train, dev, test)")
    out.update(train=size[0], dev=size[1], test=size[2])
    return out


def registry_with(objects: dict[int, Any], plugins_dirs: list[Path]) -> Registry:
    """Every installed plugin, plus each in-memory model (by its place in ``models``) as its own plugin, in a
    registry for this call only."""
    cards = [check_object(obj, i) for i, obj in objects.items()]
    seen: set[str] = set()
    for card in cards:
        if card.name in seen:
            raise UserError(f"two model objects are named {card.name!r}; give each card its own name")
        seen.add(card.name)
    try:
        return build_registry(plugins_dirs, extra=[candidate(obj) for obj in objects.values()])
    except PluginError as exc:  # a name taken twice: a plugin's model and an object's card
        clash = next((c.name for c in cards if f"plugin 'in-memory:{c.name}'" in str(exc)), None)
        if clash is None:
            raise
        raise UserError(
            f"model name {clash!r} is already registered by a plugin ('mulcot-bench plugins' lists them); "
            "give your object's card another name"
        ) from exc


def check_object(obj: Any, index: int) -> ModelCard:
    """The card of ``models[index]``; a one-line :class:`UserError` when it does not follow the model contract."""
    what = f"models[{index}] (a {type(obj).__name__!r} object, not a registered name)"
    card = getattr(obj, "card", None)
    if not isinstance(card, ModelCard):
        got = "has no 'card'" if card is None else f"has a 'card' of type {type(card).__name__}"
        raise UserError(
            f"{what} {got}; a model needs card = ModelCard(...) and predict(samples) -> list[Prediction] "
            "(see docs/python.md), or pass a registered model's name"
        )
    if not callable(getattr(obj, "predict", None)):
        raise UserError(f"{what} has no predict(samples) method; a model needs predict(samples) -> list[Prediction]")
    return card


def candidate(obj: Any) -> Candidate:
    """An in-memory model as a plugin: its hook registers ``ModelSpec(obj.card, factory returning obj)``."""
    module = ModuleType(f"mulcot_bench_in_memory_{obj.card.name}")

    def factory(_card: Any) -> Any:
        return obj

    if callable(getattr(obj, "asked", None)):  # what it was asked, declared as a plugin's factory does
        factory.asked = obj.asked  # type: ignore[attr-defined]

    @hookimpl
    def register_models(register: Any) -> None:
        register(ModelSpec(obj.card, factory))

    module.register_models = register_models  # type: ignore[attr-defined]
    name = obj.card.name
    return Candidate(PluginInfo(f"in-memory:{name}", "in-memory object (mulcot_bench.evaluate)", None,
                                fingerprint(obj)), lambda: module)  # fmt: skip


def fingerprint(obj: Any) -> str:
    """A short hash of what makes an object answer as it does: its class's methods' code and its attributes."""
    h = hashlib.sha256(f"{type(obj).__module__}.{type(obj).__qualname__}".encode())
    for klass in type(obj).__mro__[:-1]:
        for attr, value in sorted(vars(klass).items()):
            h.update(attr.encode() + _bytes(value))
    for attr, value in sorted(getattr(obj, "__dict__", {}).items()):
        h.update(attr.encode() + _bytes(value))
    return "mem-" + h.hexdigest()[:16]


def _bytes(value: Any) -> bytes:
    """A value's code (a function: its bytecode, constants and names), its JSON, or at worst its ``repr`` (then
    the cache may miss, never mix)."""
    code = getattr(getattr(value, "__func__", value), "__code__", None)
    if code is not None:
        return _code_bytes(code)
    try:
        return json.dumps(value, sort_keys=True, default=repr).encode()
    except (TypeError, ValueError):  # keys that are not text, a cycle: its repr
        return repr(value).encode()


def _code_bytes(code: Any) -> bytes:
    """A code object's bytecode with its constants (nested code objects too) and the names it reads."""
    consts = b"".join(_code_bytes(c) if hasattr(c, "co_code") else repr(c).encode() for c in code.co_consts)
    return code.co_code + consts + repr((code.co_names, code.co_varnames)).encode()
