"""Which datasets and models a run takes, loading a dataset, and the record of one that could not run."""

from __future__ import annotations

import inspect
from collections import Counter
from pathlib import Path

from mulcot_bench.plugin.registry import Registry
from mulcot_bench.plugin.specs import DatasetSpec, resolve
from mulcot_bench.results import DatasetRecord
from mulcot_bench.types import ModelCard, Splits


def select_datasets(registry: Registry, names: list[str] | None) -> list[DatasetSpec]:
    """The named datasets (unknown names raise), or every registered one."""
    if names is None:
        return list(registry.datasets.values())
    return [registry.dataset(n) for n in names]


def select_models(registry: Registry, names: list[str] | None) -> list[str]:
    """The named models (unknown names raise), or every registered model that is not opt-in."""
    if names is None:
        return [n for n, spec in registry.models.items() if spec.card.default]
    for n in names:
        registry.model(n)
    return list(names)


#: the ``RunResults.skipped`` key counting (dataset, model) pairs left out by a card's ``datasets`` scope
OUT_OF_SCOPE = "models_out_of_their_dataset_scope"


def scoped(registry: Registry, models: list[str], dataset: str, named: bool) -> tuple[list[str], list[str]]:
    """(the models that run on ``dataset``, those left out there): without ``-m`` (``named`` False) a model whose
    card scopes it to other datasets (``ModelCard.datasets``) is left out; a named model runs everywhere."""
    if named:
        return list(models), []
    run, out = [], []
    for name in models:
        scope = registry.model(name).card.datasets
        (run if scope is None or dataset in scope else out).append(name)
    return run, out


def note_out_of_scope(record: DatasetRecord, left_out: list[str], registry: Registry) -> str:
    """Record on the dataset the one line a run prints for the models its selection left out there; the line."""
    scopes = sorted({", ".join(registry.model(n).card.datasets or ()) for n in left_out})
    note = (
        f"{len(left_out)} model(s) not run on {record.name}: {', '.join(left_out)} (their cards scope them to "
        f"{'; '.join(scopes)}); name them with -m to run them here"
    )
    record.notes.append(note)
    return note


#: the ``RunResults.skipped`` key counting (dataset, model) pairs left out because the model reads only images
NEEDS_IMAGES = "models_needing_images_on_text_only_copies"


def readable(registry: Registry, models: list[str], modality: str) -> tuple[list[str], list[str]]:
    """(the models that can run on a dataset of ``modality``, those that cannot): on a text-only copy a model
    whose card reads images and not text (``ModelCard.modalities``) is left out, named or not."""
    if modality != "text":
        return list(models), []
    run, out = [], []
    for name in models:
        modalities = registry.model(name).card.modalities
        (out if "image" in modalities and "text" not in modalities else run).append(name)
    return run, out


def text_half(card: ModelCard, modality: str) -> list[str] | None:
    """What a model read when less than its card says: ``["text"]`` for a model that reads images, run on a
    text-only copy (recorded on its entry and shown on its row); None when it saw all it reads."""
    return ["text"] if modality == "text" and "image" in card.modalities else None


def note_needing_images(record: DatasetRecord, left_out: list[str]) -> str:
    """Record on the dataset the one line a run prints for the image-only models a text-only copy leaves out."""
    note = (
        f"{len(left_out)} model(s) not run on {record.name}: {', '.join(left_out)} (they read only images and this "
        "copy has none); put the images under the dataset folder to run them"
    )
    record.notes.append(note)
    return note


def load_dataset(
    spec: DatasetSpec, data_root: Path | None, options: dict[str, object]
) -> tuple[Splits | None, Path | None]:
    """Load a dataset when it is embedded or present under the data root; (None, None) when missing.

    Raises :class:`~mulcot_bench.data.images.MissingImagesError` when its images are missing and
    ``allow_missing_images`` is not set. That option is dropped for a loader that does not take it.
    """
    folder = spec.locate(data_root)
    if not spec.embedded and folder is None:
        return None, None
    loader = resolve(spec.loader)
    params = inspect.signature(loader).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if "allow_missing_images" in options and not takes_any and "allow_missing_images" not in params:
        options = {k: v for k, v in options.items() if k != "allow_missing_images"}
    data = loader(folder, spec.name, **options)
    return data, folder


def label_counts(data: Splits) -> dict[str, dict[str, int]]:
    """Per split, how many samples carry each label."""
    return {split: dict(Counter(s.label for s in data.split(split))) for split in ("train", "dev", "test")}


def unavailable(spec: DatasetSpec, status: str, message: str, path: Path | None = None) -> DatasetRecord:
    """The record of a dataset that could not run, with what to do about it."""
    notes = [message] if status != "missing" else []
    return DatasetRecord(
        name=spec.name,
        title=spec.title,
        level=spec.level,
        status=status,
        path=str(path) if path else None,
        how_to_get=message,
        headline=list(spec.headline),
        notes=notes,
    )
