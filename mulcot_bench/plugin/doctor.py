"""``plugins doctor``: load every plugin on its own, check its hooks and the contract of each model it registers.

Slow models: a model whose settings declare training epochs (``epochs``, ``max_epochs``, ``num_epochs``)
trains by gradient descent and can take tens of seconds even on the tiny set, twice (the determinism
check trains two instances). ``--skip-slow`` skips those; every other model is checked in well under a second.
"""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mulcot_bench.errors import describe
from mulcot_bench.plugin.contract import ContractReport, check_model, declared_epochs, tiny_data
from mulcot_bench.plugin.loading import Candidate, Problem, blocked_names, builtin_candidates, candidates
from mulcot_bench.plugin.registry import Registry, build_registry, isolated
from mulcot_bench.plugin.specs import ModelSpec
from mulcot_bench.types import FitContext, Splits


@dataclass
class Diagnosis:
    """What the doctor found about one plugin."""

    name: str
    source: str
    version: str
    problems: list[Problem] = field(default_factory=list)
    reports: list[ContractReport] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    blocked: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.ok for r in self.reports)

    def failed_checks(self) -> list[str]:
        checks = [p.check for p in self.problems] + [c.name for r in self.reports for c in r.failures]
        return list(dict.fromkeys(checks))


def slow_reason(spec: ModelSpec) -> str | None:
    """Why a model counts as slow (its settings declare training epochs), or None."""
    found = declared_epochs(spec)
    return f"settings declare {found[0]}={found[1]}" if found else None


def versions() -> str:
    """mulcot-bench, pluggy and Python versions on one line."""
    from mulcot_bench import __version__

    pluggy = importlib.metadata.version("pluggy")
    return f"mulcot-bench {__version__}, pluggy {pluggy}, Python {platform.python_version()}"


_UNAVAILABLE = "raised ModelUnavailable: "


def _diagnose_one(cand: Candidate, models: set[str] | None, skip_slow: bool) -> Diagnosis:
    info = cand.info
    diag = Diagnosis(info.name, info.source, f"{info.distribution or '-'} {info.version or ''}".strip())
    builtins = [c for c in builtin_candidates() if c.info.name != info.name]
    registry, problems = isolated([*builtins, cand], strict=False)
    diag.problems = [p for p in problems if p.plugin == info.name]
    data = tiny_data()
    assistants: dict[str, Any] = {}
    for name in info.registered.get("models", []):
        if models is not None and name not in models:
            continue
        spec = registry.models[name]
        reason = slow_reason(spec)
        if skip_slow and reason:
            diag.skipped[name] = f"--skip-slow: {reason}"
            continue
        assistant = _assistant_for(spec, registry, data, assistants)
        report = check_model(spec, registry=registry, data=data, assistant=assistant, raise_on_failure=False)
        build = next((c for c in report.failures if c.name == "build"), None)
        if build is not None and build.message.startswith(_UNAVAILABLE):  # no endpoint/weights here: not a bug
            diag.skipped[name] = f"unavailable here: {build.message.removeprefix(_UNAVAILABLE)}"
            continue
        diag.reports.append(report)
    return diag


def _assistant_for(spec: ModelSpec, registry: Registry, data: Splits, fitted: dict[str, Any]) -> Any:
    """The assistant a student's card names, built and fitted on the tiny set as a run would hand it over
    (once per plugin); None when the card names none, the plugin does not register it, or it fails (the
    student's own check then says what it lacks)."""
    name = spec.card.assistant
    if spec.card.role != "student" or not name or name not in registry.models:
        return None
    if name not in fitted:
        try:
            model = registry.models[name].build(registry)
            if hasattr(model, "fit"):
                model.fit(data.train, data.dev, FitContext(seed=0, dataset=data.name, level=data.level))
            fitted[name] = model
        except Exception:  # noqa: BLE001 - the assistant's own check reports its failure
            fitted[name] = None
    return fitted[name]


def diagnose(plugins_dirs: list[Path] | None = None, models: Iterable[str] | None = None,
             skip_slow: bool = False) -> tuple[list[Diagnosis], list[Problem]]:
    """Every plugin, each loaded on its own; plus problems of loading them together (duplicate names)."""
    wanted = set(models) if models else None
    blocked = blocked_names()
    out = []
    for cand in candidates(plugins_dirs):
        if cand.info.name in blocked:
            out.append(Diagnosis(cand.info.name, cand.info.source, "", blocked=True))
            continue
        out.append(_diagnose_one(cand, wanted, skip_slow))
    together: list[Problem] = []
    try:
        build_registry(plugins_dirs)
    except Exception as exc:  # duplicate names across plugins surface only when loaded together
        together.append(Problem("(all plugins)", "together", describe(exc)))
    return out, together


def doctor_lines(diagnoses: list[Diagnosis], together: list[Problem]) -> tuple[list[str], bool]:
    """Report lines and whether everything passed."""
    lines = [versions()]
    for d in diagnoses:
        state = "blocked" if d.blocked else ("ok" if d.ok else "FAILED")
        lines.append(f"{d.name}  [{d.version or '-'}]  {d.source}  {state}")
        lines += [f"    FAILED {p}" for p in d.problems]
        for r in d.reports:
            lines.append(f"    model {r.model}: {'ok' if r.ok else 'FAILED'} ({r.seconds:.2f} s)")
            lines += [f"        FAILED {line}" for line in r.lines()]
        lines += [f"    model {name}: skipped ({why})" for name, why in d.skipped.items()]
    lines += [f"FAILED {p}" for p in together]
    failed = [d for d in diagnoses if not d.ok]
    if failed or together:
        names = ", ".join(f"{d.name} ({', '.join(d.failed_checks())})" for d in failed)
        lines.append(f"doctor: {len(failed)} plugin(s) failed: {names}".rstrip(": ") if failed else "doctor: failed")
        return lines, False
    lines.append(f"doctor: {len(diagnoses)} plugins ok")
    return lines, True
