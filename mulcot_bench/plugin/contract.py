"""The model contract, checked on a few synthetic samples: what ``plugins doctor`` and the pytest kit run.

Checks: the model builds; ``fit`` (if any) returns a report; ``predict`` returns one :class:`Prediction`
per sample with a label in :data:`~mulcot_bench.labels.LABELS`, a valid five-field rationale where one is
written, and probabilities over the labels that sum to one; teachers ``explain`` and assistants ``sample``
the same way; two fresh instances give the same outputs under one seed; ``save``/``load`` round-trips;
settings are plain JSON, and changing any one of them changes the model's cache identity.
"""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from mulcot_bench.errors import describe
from mulcot_bench.labels import LABELS
from mulcot_bench.plugin.registry import Registry
from mulcot_bench.plugin.specs import ModelSpec
from mulcot_bench.rationale import parse
from mulcot_bench.types import FitContext, Prediction, Splits

TINY_SIZES = {"train": 24, "dev": 8, "test": 8}
EPOCH_KEYS = ("epochs", "max_epochs", "num_epochs")


@dataclass
class Check:
    """One check's outcome."""

    name: str
    ok: bool
    message: str = ""


@dataclass
class ContractReport:
    """Every check run on one model."""

    model: str
    plugin: str
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def lines(self) -> list[str]:
        """One line per failed check, naming the plugin, the model and the check."""
        return [
            f"plugin {self.plugin!r}, model {self.model!r}: check {c.name!r} failed: {c.message}" for c in self.failures
        ]


class ContractError(AssertionError):
    """Raised by :func:`check_model` when a check fails (and ``raise_on_failure`` is set)."""


class _Failed(Exception):
    """Stops the checks that depend on a failed one."""


def tiny_data(seed: int = 13, **sizes: int) -> Splits:
    """A tiny synthetic dataset (24/8/8 samples by default) generated in milliseconds."""
    from mulcot_bench.data.synthetic import generate

    return generate(seed=seed, **{**TINY_SIZES, **sizes})


def _registry_for(spec: ModelSpec) -> Registry:
    """A one-model registry for a spec that was never registered (plugin ``(unregistered)``)."""
    from mulcot_bench.plugin.loading import LoadedPlugins, PluginInfo, manager

    reg = Registry(LoadedPlugins(manager(), [PluginInfo("(unregistered)", "check_model")]))
    reg.models[spec.name] = spec
    reg.owner[("models", spec.name)] = "(unregistered)"
    return reg


def identity(registry: Registry, spec: ModelSpec, data: Splits) -> str:
    """The model's cache identity exactly as a run computes it, with ``spec`` in place of the registered one."""
    return replace(registry, models={**registry.models, spec.name: spec}).identity(spec.name)


def changed(value: Any) -> Any:
    """A different value of the same JSON kind."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "-changed"
    if isinstance(value, list | tuple):
        return [*value, "changed"]
    if isinstance(value, dict):
        return {**value, "changed": True}
    return "changed"


# individual checks --------------------------------------------------------------------------------------------
def outputs_problem(out: Any, n: int, call: str) -> str | None:
    if not isinstance(out, list):
        return f"{call} returned {type(out).__name__}, expected a list of Prediction"
    if len(out) != n:
        return f"{call} returned {len(out)} outputs for {n} samples (one Prediction per sample, in order)"
    bad = [i for i, p in enumerate(out) if not isinstance(p, Prediction)]
    if bad:
        return f"{call} output {bad[0]} is a {type(out[bad[0]]).__name__}, expected mulcot_bench.types.Prediction"
    return None


def label_problem(preds: Sequence[Prediction], call: str) -> str | None:
    """Labels must be one of LABELS, or None (an unparseable answer, counted as invalid by the metrics)."""
    for i, p in enumerate(preds):
        if p.label is not None and p.label not in LABELS:
            return f"{call} output {i} has label {p.label!r}, not one of {', '.join(LABELS)} (or None if unparseable)"
    return None


def rationale_problem(preds: Sequence[Prediction], call: str, required: bool, strict: bool) -> str | None:
    """Rationales are strings; ``strict``: five fields in order, and the Prediction field names the label."""
    written = [(i, p) for i, p in enumerate(preds) if p.rationale is not None]
    if required and not written:
        return f"the card declares rationale=True but {call} wrote no rationale (set rationale=False if it writes none)"
    for i, p in written:
        if not isinstance(p.rationale, str):
            return f"{call} output {i} rationale is a {type(p.rationale).__name__}, expected a str"
        chain = parse(p.rationale)
        if strict and not chain.valid:
            return (f"{call} output {i} rationale is not the five-field format (fields found: "
                    f"{', '.join(chain.order) or 'none'}); write it with mulcot_bench.plugin.render_chain")
        if strict and p.label is not None and chain.prediction != p.label:
            return f"{call} output {i} rationale predicts {chain.prediction!r} but its label is {p.label!r}"
    return None


def declared_epochs(spec: ModelSpec) -> tuple[str, float] | None:
    """The first training-epochs setting the card declares with a positive value, as (key, value), or None."""
    for k in EPOCH_KEYS:
        value = spec.card.settings.get(k)
        if isinstance(value, int | float) and value > 0:
            return k, value
    return None


def learns_chains(spec: ModelSpec) -> bool:
    """Whether the model learns to write chains by gradient descent (its settings declare training epochs)."""
    return declared_epochs(spec) is not None


def probs_problem(preds: Sequence[Prediction], call: str) -> str | None:
    for i, p in enumerate(preds):
        if p.probs is None:
            continue
        if not isinstance(p.probs, dict) or not set(p.probs) <= set(LABELS):
            return f"{call} output {i} probs must be a dict keyed by labels {', '.join(LABELS)}; got {p.probs!r}"
        values = list(p.probs.values())
        if any(not isinstance(v, int | float) or not 0.0 <= v <= 1.0 or math.isnan(v) for v in values):
            return f"{call} output {i} probs must be floats in [0, 1]; got {p.probs!r}"
        if abs(sum(values) - 1.0) > 1e-3:
            return f"{call} output {i} probs sum to {sum(values):.4f}, not 1"
    return None


def same(a: Sequence[Prediction], b: Sequence[Prediction]) -> str | None:
    """None when two runs agree (labels and rationales exactly, probabilities within 1e-6)."""
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if (x.label, x.rationale) != (y.label, y.rationale):
            return f"output {i} differs: {x.label!r} vs {y.label!r}"
        px, py = x.probs or {}, y.probs or {}
        if set(px) != set(py) or any(abs(px[k] - py[k]) > 1e-6 for k in px):
            return f"output {i} probabilities differ: {px} vs {py}"
    return None


# the runner ---------------------------------------------------------------------------------------------------
@dataclass
class _Run:
    spec: ModelSpec
    data: Splits
    seed: int
    assistant: Any
    report: ContractReport
    require_rationale: bool
    strict_rationale: bool
    registry: Registry | None = None  # handed to the model as a run hands its own (``use_registry``)

    def check(self, name: str, fn: Callable[[], str | None]) -> None:
        try:
            problem = fn()
        except _Failed:
            raise
        except Exception as exc:
            problem = f"raised {describe(exc)}".splitlines()[0][:400]
        self.report.checks.append(Check(name, problem is None, problem or ""))
        if problem is not None:
            raise _Failed(name)

    def fit(self, model: Any) -> str | None:
        """Train ``model`` on the tiny train split when it is trainable; a problem message or None."""
        if hasattr(model, "fit"):
            ctx = FitContext(seed=self.seed, dataset=self.data.name, level=self.data.level, assistant=self.assistant)
            got = model.fit(list(self.data.train), list(self.data.dev), ctx)
            if got is not None and not isinstance(got, dict):
                return f"fit returned {type(got).__name__}; return a dict stage report (or None)"
        return None

    def fresh(self) -> Any:
        """A new instance, trained."""
        model = self.spec.build(self.registry)
        problem = self.fit(model)
        if problem:
            raise TypeError(problem)
        return model

    def outputs(self, call: str, fn: Callable[[], Any]) -> list[Prediction]:
        """Run ``call`` and check its outputs: count and types, labels, rationales, probabilities."""
        prefix = "" if call == "predict" else f"{call}-"
        holder: list[Any] = []
        self.check(f"{prefix}outputs", lambda: outputs_problem(_keep(holder, fn()), len(self.data.test), call))
        preds = cast(list[Prediction], holder[0])
        self.check(f"{prefix}labels", lambda: label_problem(preds, call))
        required = self.require_rationale and self.spec.card.rationale and call == "predict"
        self.check(f"{prefix}rationale", lambda: rationale_problem(preds, call, required, self.strict_rationale))
        self.check(f"{prefix}probs", lambda: probs_problem(preds, call))
        return preds


def _keep(holder: list[Any], value: Any) -> Any:
    holder.append(value)
    return value


def _settings_problem(spec: ModelSpec) -> str | None:
    try:
        json.dumps(spec.card.settings, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return f"settings must be plain JSON (numbers, strings, booleans, lists, dicts) to key the cache: {exc}"
    return None


def _identity_problem(registry: Registry, spec: ModelSpec, data: Splits) -> str | None:
    base = identity(registry, spec, data)
    if identity(registry, spec, data) != base:
        return "the cache identity differs between two computations"
    for name, value in spec.card.settings.items():
        card = replace(spec.card, settings={**spec.card.settings, name: changed(value)})
        if identity(registry, replace(spec, card=card), data) == base:
            return f"changing setting {name!r} does not change the cache identity"
    return None


def check_model(
    spec_or_name: ModelSpec | str,
    registry: Registry | None = None,
    data: Splits | None = None,
    seed: int = 0,
    assistant: Any = None,
    rationale: bool = True,
    strict: bool | None = None,
    raise_on_failure: bool = True,
) -> ContractReport:
    """Check one model against the contract on a tiny synthetic dataset; raise :class:`ContractError` on failure.

    ``spec_or_name``: a :class:`ModelSpec` or a name in ``registry`` (default: every installed plugin).
    ``assistant``: handed to ``fit`` as ``ctx.assistant`` (students). ``rationale=False`` skips the
    requirement that a card declaring ``rationale=True`` writes chains. ``strict`` (default: unless the
    settings declare training epochs) requires every chain to be five-field and to name the label; a model
    that learns to write chains is instead scored on that by the format and consistency metrics.
    """
    if isinstance(spec_or_name, str):
        if registry is None:
            from mulcot_bench.plugin.registry import build_registry

            registry = build_registry()
        spec = registry.model(spec_or_name)
    else:
        spec = spec_or_name
        registry = registry if registry is not None and spec.name in registry.models else _registry_for(spec)
    data = data or tiny_data()
    report = ContractReport(spec.name, registry.owner.get(("models", spec.name), "(unregistered)"))
    strict = not learns_chains(spec) if strict is None else strict
    run = _Run(spec, data, seed, assistant, report, rationale, strict, registry)
    start = time.perf_counter()
    with contextlib.suppress(_Failed):
        _run_checks(run, registry)
    report.seconds = round(time.perf_counter() - start, 3)
    if raise_on_failure and not report.ok:
        raise ContractError("\n".join(report.lines()))
    return report


def _run_checks(run: _Run, registry: Registry) -> None:
    spec, data, test = run.spec, run.data, list(run.data.test)
    run.check("settings", lambda: _settings_problem(spec))
    run.check("identity", lambda: _identity_problem(registry, spec, data))
    holder: list[Any] = []
    run.check("build", lambda: None if _keep(holder, spec.build(registry)) is not None else "the factory returned None")
    model = holder[0]
    if hasattr(model, "fit"):
        run.check("fit", lambda: run.fit(model))
    run.check("card", lambda: None if getattr(model, "card", None) == spec.card else "model.card is not the card")
    first = run.outputs("predict", lambda: model.predict(test))
    role = spec.card.role
    if role == "teacher":
        run.check("supports", lambda: _supports_problem(model, data.name))
        gold = [s.label for s in test]
        explained = run.outputs("explain", lambda: model.explain(test, gold))
        run.check("explain-gold", lambda: _gold_problem(explained, gold))
    if role == "assistant":
        once = run.outputs("sample", lambda: model.sample(test, temperature=0.7, seed=run.seed))
        run.check("sample-seed", lambda: same(once, model.sample(test, temperature=0.7, seed=run.seed)))
    second: list[Any] = []
    run.check("determinism", lambda: same(first, _keep(second, run.fresh()).predict(test)))
    if hasattr(model, "save") and hasattr(model, "load"):
        run.check("save-load", lambda: _round_trip(run, model, first))


def _supports_problem(model: Any, dataset: str) -> str | None:
    supports = getattr(model, "supports", None)
    if supports is None:
        return None
    got = supports(dataset)
    return None if isinstance(got, bool) else f"supports({dataset!r}) returned {got!r}, expected a bool"


def _gold_problem(explained: Sequence[Prediction], gold: Sequence[str]) -> str | None:
    if not hasattr(explained, "__len__"):
        return "explain returned no list"
    wrong = [i for i, (p, g) in enumerate(zip(explained, gold, strict=True)) if p.label != g]
    if len(wrong) == len(gold):
        return "explain never reached the gold label it was given"
    return None


def _round_trip(run: _Run, model: Any, first: list[Prediction]) -> str | None:
    with tempfile.TemporaryDirectory() as folder:
        model.save(Path(folder))
        again = run.spec.build(run.registry)
        again.load(Path(folder))
        problem = same(first, again.predict(list(run.data.test)))
    return f"after save/load: {problem}" if problem else None

