"""Registry entries: light descriptions of models, datasets and metrics, built only when used.

A factory is a callable or a ``"package.module:attribute"`` string imported on first use, so
listing what is registered never imports torch or any other heavy library.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mulcot_bench.types import Level, ModelCard


def resolve(ref: str | Callable[..., Any]) -> Callable[..., Any]:
    """Import a ``"module:attr"`` reference, or return a callable as it is."""
    if callable(ref):
        return ref
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its card and how to build it (``factory(card) -> Model``)."""

    card: ModelCard
    factory: str | Callable[..., Any]

    @property
    def name(self) -> str:
        return self.card.name

    def build(self, registry: Any = None) -> Any:
        """A new model, ``factory(card)``; with ``registry`` (the run's), a model that defines ``use_registry``
        is handed it, so it looks other models up where the run does (its plugins and ``-o`` settings)."""
        model = resolve(self.factory)(self.card)
        use = getattr(model, "use_registry", None) if registry is not None else None
        if callable(use):
            use(registry)
        return model


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset.

    ``loader(root: Path | None, **options) -> Splits``; ``root`` is the dataset's folder under the
    data root, or None for embedded datasets. ``folder`` is that folder's name under the data root
    (None: embedded, always available). ``how_to_get`` tells a user what to do when it is missing.
    """

    name: str
    title: str
    level: Level
    loader: str | Callable[..., Any]
    folder: str | None = None
    required_files: tuple[str, ...] = ()
    how_to_get: str = ""
    citation: str = ""
    headline: tuple[str, str] = ("accuracy", "macro_f1")
    alternative_files: tuple[tuple[str, ...], ...] = ()  # other file sets that also make the dataset present

    def locate(self, data_root: Path | None) -> Path | None:
        """The dataset's folder if it is present (every required file exists), else None."""
        if self.folder is None:
            return None
        if data_root is None:
            return None
        path = data_root / self.folder
        for files in (self.required_files, *self.alternative_files):
            if path.is_dir() and all((path / f).is_file() for f in files):
                return path
        return None

    @property
    def embedded(self) -> bool:
        return self.folder is None


@dataclass(frozen=True)
class MetricSpec:
    """A registered metric: ``factory() -> Metric`` scores one model's predictions on one split.

    ``kind`` says what it reads: ``"label"`` (gold vs predicted labels) or ``"rationale"``
    (generated vs reference chains). ``outputs`` maps each value it returns to its exact display name;
    ``summary`` names those shown in the leaderboard's main table (the rest are under "all scores").
    ``uses_reference``: it scores against reference chains (skipped where a dataset has none);
    ``loads_model``: it runs a neural model (``compare --no-model-metrics`` leaves it out);
    ``percent``: its values are already on a 0-100 scale (BLEU), not fractions.
    ``lower_is_better``: the outputs where a lower value is the better one (the leaderboard marks the lowest).
    """

    id: str
    kind: Literal["label", "rationale"]
    outputs: dict[str, str]
    factory: str | Callable[..., Any]
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    summary: tuple[str, ...] | None = None  # outputs in the leaderboard's main table (None: all)
    uses_reference: bool = False
    loads_model: bool = False
    percent: bool = False
    lower_is_better: tuple[str, ...] = ()

    def build(self) -> Any:
        return resolve(self.factory)(**self.options)
