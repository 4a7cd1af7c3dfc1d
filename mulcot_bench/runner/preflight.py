"""The lines a run prints before any work: what will run, what will not, and why.

Datasets were loaded and checked (:mod:`~mulcot_bench.runner.intake`) and the endpoint and weight checks of the
selected models ran (``probe(card)``, :func:`~mulcot_bench.runner.orchestrate.probe_models`) before these lines,
so a missing dataset or an unmet requirement is known before the teacher or any training starts.
"""

from __future__ import annotations

from mulcot_bench.console.logs import log, warn
from mulcot_bench.plugin.registry import Registry
from mulcot_bench.runner.intake import Taken


def _sizes(counts: dict[str, int]) -> str:
    return "/".join(str(counts.get(split, 0)) for split in ("train", "dev", "test"))


def preflight(registry: Registry, taken: list[Taken], models: list[str], unavailable: dict[str, str]) -> None:
    """Log the datasets that run (train/dev/test sizes) and those that do not, the models that run, the models
    left out by their checks (a warning each, with the reason) and the opt-in models not asked for."""
    runs = [t.record for t in taken if t.data is not None]
    out = [t.record for t in taken if t.data is None]
    shown = ", ".join(f"{r.name} ({_sizes(r.counts)})" for r in runs) or "none"
    log(f"pre-flight: {len(runs)} dataset(s) to run (train/dev/test): {shown}")
    if runs:  # the training data the chain models see (mulcot_bench.data.views; --protocol)
        log("pre-flight: data view: " + ", ".join(f"{r.name} {r.protocol}" for r in runs))
    if out:
        listed = ", ".join(f"{r.name} ({r.status})" for r in out)
        log(f"pre-flight: {len(out)} dataset(s) not run: {listed}; how to get them: mulcot-bench datasets")
    text_only = [r.name for r in runs if r.modality == "text"]
    if text_only:
        warn(
            f"pre-flight: {len(text_only)} text-only copy(ies) (no images): {', '.join(text_only)}; they run "
            "text-only and are ranked apart from multimodal copies; --require-images refuses them"
        )
    log(f"pre-flight: {len(models)} model(s) selected: {', '.join(models) or 'none'}")
    for name, why in unavailable.items():
        warn(f"pre-flight: {name} left out: {why}")
    opt_in = [n for n, s in registry.models.items() if not s.card.default and n not in models and n not in unavailable]
    if opt_in:
        log(f"pre-flight: opt-in models not selected (name them with -m): {', '.join(opt_in)}")
