"""Loading every selected dataset before anything runs: checked against its manifest, or refused, or skipped.

A dataset named with ``-d`` that cannot run (missing, images missing without ``--allow-missing-images``, a
known release that loaded short of its manifest without ``--allow-partial``, a text-only copy under
``--require-images``) stops the run with one line
before the run folder is written; without ``-d`` (``--all``) it is listed and the others run. Every
degradation of the data that does run (rows skipped or repaired, samples run text-only, a partial release
allowed) is printed once on stderr and kept in the dataset record's notes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from mulcot_bench.console.logs import warn
from mulcot_bench.data.images import MULTIMODAL, TEXT_ONLY, MissingImagesError
from mulcot_bench.data.manifest import load_manifest, manifest_names
from mulcot_bench.data.verify import partial_differences
from mulcot_bench.data.views import apply_views, as_loaded, choose_protocol
from mulcot_bench.errors import UserError
from mulcot_bench.plugin.registry import Registry
from mulcot_bench.plugin.specs import DatasetSpec
from mulcot_bench.results import DatasetRecord
from mulcot_bench.runner.options import RunOptions
from mulcot_bench.runner.pipeline import log, serves
from mulcot_bench.runner.selection import label_counts, load_dataset, unavailable
from mulcot_bench.runner.stages import check_chain_filter
from mulcot_bench.types import Splits


@dataclass
class Taken:
    """One selected dataset: its record, and its data when it runs (None when it was skipped)."""

    record: DatasetRecord
    data: Splits | None = None


#: whether some teacher serves a dataset's train split (see :func:`train_served`)
TrainServed = Callable[[Splits], bool]


def train_served(registry: Registry, teacher: str | None) -> TrainServed:
    """Whether a teacher serves a dataset's train split: ``--teacher`` (asked), else any default teacher whose
    ``supports`` holds for the train split alone (a teacher that replays the release's chains then serves only
    a split where the release has chains)."""
    names = [teacher] if teacher else [n for n, s in registry.models.items() if s.card.role == "teacher"
                                       and s.card.default]  # fmt: skip

    def served(data: Splits) -> bool:
        train_only = Splits(data.name, data.level, data.train, [], [])
        return any(serves(registry.model(name).build(), train_only) for name in names if name in registry.models)

    return served


def take_in(
    specs: list[DatasetSpec], data_root: Path, options: RunOptions, served: TrainServed | None = None
) -> list[Taken]:
    """Load and check every dataset; raise :class:`UserError` for a named one that cannot run. ``served`` tells
    ``--protocol auto`` whether a teacher serves a dataset's train split (None: assume one does)."""
    named = options.datasets is not None
    out = [_take(spec, data_root, options, named, served) for spec in specs]
    for taken in out:
        if taken.data is not None:
            for line in getattr(taken.data, "warnings", []):
                warn(f"[{taken.record.name}] {line}")
    return out


def _take(spec: DatasetSpec, data_root: Path, options: RunOptions, named: bool, served: TrainServed | None) -> Taken:
    try:
        data, folder = load_dataset(spec, data_root, options.dataset_options.get(spec.name, {}))
    except MissingImagesError as exc:
        if named:
            raise
        return _skip(spec, "missing-images", str(exc), named, spec.locate(data_root))
    if data is None:
        message = f"{spec.name}: missing under {data_root}: {spec.how_to_get}"
        if named:
            raise UserError(message)
        log(f"[{spec.name}] missing under {data_root}: {spec.how_to_get}")
        return Taken(unavailable(spec, "missing", spec.how_to_get))
    modality = getattr(data, "modality", MULTIMODAL)
    if modality == TEXT_ONLY and options.require_images:
        what = (
            f"{spec.name}: the copy at {folder} has no images (a text-only copy) and --require-images is set; "
            f"put the images there (mulcot-bench datasets import {spec.name} PATH) or drop --require-images"
        )
        return _skip(spec, "text-only", what, named, folder)
    partial = _partial(spec, folder, data)
    if partial:
        first = f"{spec.name}: {partial[0]}" + (f" (and {len(partial) - 1} more splits)" if len(partial) > 1 else "")
        if not options.allow_partial:
            what = (
                f"{first}; the data is partial: run 'mulcot-bench datasets verify {spec.name}' and fetch or import "
                "it again, or pass --allow-partial to run on it as it is"
            )
            return _skip(spec, "partial", what, named, folder)
        lines = [f"partial data (--allow-partial): {p}" for p in partial]
        loaded = as_loaded(data)
        data = replace(loaded, notes=[*loaded.notes, *lines], warnings=[*loaded.warnings, *lines])
    protocol = choose_protocol(options.protocol, data, served is None or served(data))
    if protocol != options.protocol and protocol == "released-rationales":  # auto chose the released view
        line = (
            f"protocol {protocol} (--protocol auto): no teacher serves the train split, so the release's dev chains "
            "train the chain task; --protocol reference keeps the strict view"
        )
        log(f"pre-flight: [{spec.name}] {line}")
        loaded = as_loaded(data)
        data = replace(loaded, notes=[*loaded.notes, line])
    data = apply_views(data, protocol, options.limits, options.seed)
    record = DatasetRecord(
        name=spec.name,
        title=spec.title,
        level=spec.level,
        status="embedded" if spec.embedded else "present",
        path=str(folder) if folder else None,
        fingerprint=data.fingerprint,
        counts=data.counts(),
        label_counts=label_counts(data),
        headline=list(spec.headline),
        notes=list(getattr(data, "notes", [])),
        protocol=protocol,
        chain_filter=check_chain_filter(options.chain_filter),
        modality=modality,
    )
    return Taken(record, data)


def _partial(spec: DatasetSpec, folder: Path | None, data: Splits) -> list[str]:
    """How a dataset with a manifest loaded short of it (empty when it has none or is not a known release)."""
    if folder is None or spec.name not in manifest_names():
        return []
    return partial_differences(load_manifest(spec.name), folder, data)


def _skip(spec: DatasetSpec, status: str, message: str, named: bool, folder: Path | None) -> Taken:
    """A dataset that cannot run: an error when it was named with ``-d``, else logged and recorded."""
    if named:
        raise UserError(message)
    log(f"[{spec.name}] {message}")
    return Taken(unavailable(spec, status, message, folder))
