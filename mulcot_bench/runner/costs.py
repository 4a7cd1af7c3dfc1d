"""What each entry cost, measured where its outputs are computed (see :mod:`mulcot_bench.efficiency`).

Prediction figures are measured when a model is asked for outputs (the timed calls at its own batch size, then
the latency probe at batch size 1) and cached with the outputs, keyed by the trained model, split and variant, so
an entry served from the cache keeps the figures, run id and machine of the run that computed it. Training
figures (peak memory of ``fit``) are cached with the trained model; its wall time is the stage report's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mulcot_bench.cache import Cache, key
from mulcot_bench.console import logs
from mulcot_bench.efficiency.machine import machine
from mulcot_bench.efficiency.measure import CallTimer, memory_of, record, unmeasured
from mulcot_bench.efficiency.memory import PeakMemory
from mulcot_bench.efficiency.params import counts, disk_bytes, understated
from mulcot_bench.efficiency.probe import ENV, latency, probe_items
from mulcot_bench.efficiency.schema import Efficiency, Memory, Training
from mulcot_bench.errors import describe
from mulcot_bench.faults import guarded
from mulcot_bench.parallel.world import current
from mulcot_bench.runner.stages import call_batch
from mulcot_bench.types import Sample

#: :class:`mulcot_bench.runner.pipeline.DatasetPipeline` and ``ModelRun`` (not imported: the pipeline imports this)
DatasetPipeline = Any
ModelRun = Any

NS = "efficiency"  # cache namespace of prediction figures: key(artifact, split namespace, variant)
FIT_NS = "efficiency-fit"  # of training figures: the artifact key
UNMEASURED = "not measured: every output came from a cache written before costs were recorded"


def fit_tracker() -> PeakMemory:
    """The peak-memory phase around a ``fit``."""
    return PeakMemory()


def store_fit(cache: Cache, art: str, peak: PeakMemory, run_id: str) -> None:
    """Cache a fit's peak memory (rank 0 only: its figures are the ones a scored run shows)."""
    if current().main:
        cache.put(FIT_NS, art, {"memory": memory_of(peak).model_dump(mode="json"), "run_id": run_id,
                                "machine_id": machine()["id"]})  # fmt: skip


def prediction_costs(
    pipeline: DatasetPipeline, name: str, art: str, ns: str, variant: str | None, timer: CallTimer,
    samples: Sequence[Sample],
) -> dict[str, Any]:  # fmt: skip
    """The prediction record of a model's outputs on a split: measured now when it was asked for some (and cached),
    else the cached one, else one that says it was not measured."""
    cache, ek = pipeline.cache, key(art, ns, variant)
    if timer.items == 0:
        found = cache.get(NS, ek)
        return found if found is not None else unmeasured(pipeline.run_id, UNMEASURED).model_dump(mode="json")
    model = pipeline.fitted(name)
    notes: list[str] = []
    lat = None
    items = probe_items()
    if not items:
        notes.append(f"latency not measured: the probe is off ({ENV}=0)")
    elif not pipeline.handle(name).card.runtime.get("latency_probe", True):
        notes.append("latency not measured: the model's card turns the probe off (runtime latency_probe=false)")
    elif current().main:
        try:
            lat = latency(model.predict, samples, items, run=lambda thunk: guarded(name, "the latency probe", thunk))
        except Exception as exc:  # noqa: BLE001 - a cost not measured, never a failed model
            notes.append(f"latency not measured: the probe raised {describe(exc, 200)}")
    if current().size > 1:
        notes.append(f"prediction timed on rank 0's shard of {current().size} ranks")
    report = cache.get("stage-report", art) or pipeline.stage_of(name).get("loaded") or {}
    rec = record(
        pipeline.run_id, timer, call_batch(model), lat, counts(model, report), pipeline.handle(name).card.rationale,
        notes, ranks=current().size,
    )  # fmt: skip
    out = rec.model_dump(mode="json")
    if current().main:
        cache.put(NS, ek, out)
    return out


def entry_costs(pipeline: DatasetPipeline, run: ModelRun) -> Efficiency | None:
    """A run's record completed for its entry: the card's declared count (a warning line when the card under-states
    the counted size), the saved weights' size, and the training figures of its trained model."""
    if run.efficiency is None:
        return None
    rec = Efficiency.model_validate(run.efficiency)
    card, name = run.spec.card, run.spec.name
    rec.parameters.declared = card.params
    rec.parameters.disk_bytes = disk_bytes(run.checkpoint)
    rec.parameters.warning = understated(card.params, rec.parameters.model_dump())
    if rec.parameters.warning and run.variant is None:
        logs.warn(f"[{pipeline.data.name}] model {name!r}: {rec.parameters.warning}")
    if pipeline.trains(name):
        fit = pipeline.cache.get(FIT_NS, run.identity) or {}
        wall = (pipeline.cache.get("stage-report", run.identity) or {}).get("wall_seconds")
        mem = Memory.model_validate(fit["memory"]) if fit.get("memory") else None
        rec.training = Training(wall_seconds=wall, memory=mem, run_id=fit.get("run_id"),
                                machine_id=fit.get("machine_id"))  # fmt: skip
        if mem is None:
            rec.notes.append("training memory not measured: trained by a run that did not record costs")
    elif name in pipeline.checkpoints:
        rec.notes.append("not trained here: loaded from a checkpoint")
    return rec
