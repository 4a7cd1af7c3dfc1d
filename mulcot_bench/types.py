"""The data that flows through a run: samples, predictions, model and dataset cards.

Data flows one way: dataset -> samples -> model -> predictions -> metrics -> results -> report.
Nothing here imports torch or any other heavy library.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["teacher", "assistant", "student", "baseline"]
ROLES: tuple[str, ...] = ("teacher", "assistant", "student", "baseline")
Level = Literal["post", "aspect"]


@dataclass(frozen=True)
class Sample:
    """One item to classify: a post (and, at aspect level, one target in it).

    ``image`` holds the encoded image file (PNG or JPEG bytes) or None when the dataset has none.
    ``rationale`` is the reference reasoning chain, when the dataset has one.
    ``meta`` carries dataset-specific strings (the synthetic set stores its generating attributes there).
    """

    id: str
    text: str
    label: str
    target: str | None = None
    image: bytes | None = field(default=None, repr=False)
    image_ref: str | None = None
    rationale: str | None = None
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """Hash of what a model sees (text, target, image bytes); never the id or the label."""
        h = hashlib.sha256()
        for part in (self.text.encode(), (self.target or "").encode(), self.image or b""):
            h.update(len(part).to_bytes(8, "little"))
            h.update(part)
        return h.hexdigest()

    def with_rationale(self, rationale: str | None) -> Sample:
        """A copy of this sample with another (training) rationale."""
        return replace(self, rationale=rationale)


@dataclass
class Prediction:
    """What a model says about one sample.

    ``label`` is None when the answer could not be parsed (counted as invalid, never dropped).
    ``failed`` says why there is **no answer at all** (the request was given up: connection, 5xx, timeout after
    retries): such an item is never cached or journalled, it is asked again on the next run, and a model with
    failed items is a failed model (see :func:`mulcot_bench.runner.stages.cached_calls`).
    """

    label: str | None
    rationale: str | None = None
    probs: dict[str, float] | None = None
    raw: str | None = None
    failed: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"label": self.label, "rationale": self.rationale, "probs": self.probs, "raw": self.raw}
        if self.failed is not None:
            out["failed"] = self.failed
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Prediction:
        return cls(
            label=data.get("label"),
            rationale=data.get("rationale"),
            probs=data.get("probs"),
            raw=data.get("raw"),
            failed=data.get("failed"),
        )


@dataclass(frozen=True)
class ModelCard:
    """What the registry knows about a model without building it.

    ``settings`` are every option that changes the model's output; they are part of its cache identity.
    ``runtime`` are options that change how a model runs but never what it answers (concurrency, timeouts):
    settable with ``-o`` like settings, recorded with the results, outside the cache identity.
    ``assistant`` names the assistant a student distils from (None: the run's default assistant).
    ``default`` False makes a model opt-in: ``run --all`` leaves it out unless named with ``-m`` (models that
    need downloaded weights, a GPU or an endpoint). ``datasets`` scopes a default model: ``run`` without ``-m``
    runs it only on these datasets (None: on every one) and says where it left it out; a model named with ``-m``
    runs on every dataset of the run. Use it for models built for one dataset (the tiny models and ``synthetic``).
    """

    name: str
    role: Role
    description: str
    params: int | None = None
    modalities: tuple[str, ...] = ("text", "image")
    rationale: bool = True
    settings: dict[str, Any] = field(default_factory=dict)
    assistant: str | None = None
    default: bool = True
    runtime: dict[str, Any] = field(default_factory=dict)
    datasets: tuple[str, ...] | None = None


@dataclass
class FitContext:
    """What a trainable model gets besides its data: the seed, a progress hook, and its assistant.

    ``progress(desc, epochs)`` (None outside a run) returns what shows the fit's progress; call it through
    :func:`mulcot_bench.console.fit.fit_reporter` (``epoch``/``step``/``close``), or call ``update(1)`` per epoch.

    ``workdir`` is a folder for the fit's checkpoints and scratch files (the pipeline gives each artifact its
    own, under the cache, and removes it once the trained model is stored); a fit found there resumes.
    """

    seed: int
    dataset: str
    level: Level
    assistant: Model | None = None
    progress: Callable[[str, int], Any] | None = None
    report: dict[str, Any] = field(default_factory=dict)
    workdir: Path | None = None


@runtime_checkable
class Model(Protocol):
    """The one contract every model follows, whatever its role.

    ``predict`` returns exactly one :class:`Prediction` per sample, in order.
    Trainable models also define ``fit(train, dev, ctx)``; teachers define ``explain``;
    assistants define ``sample`` (rationale augmentation). See ``docs`` for the full contract.
    """

    card: ModelCard

    def predict(self, samples: Sequence[Sample]) -> list[Prediction]: ...


@dataclass
class Splits:
    """A loaded dataset: its splits and its content fingerprint."""

    name: str
    level: Level
    train: list[Sample]
    dev: list[Sample]
    test: list[Sample]

    def split(self, name: str) -> list[Sample]:
        return {"train": self.train, "dev": self.dev, "test": self.test}[name]

    @property
    def fingerprint(self) -> str:
        """sha256 over every sample's split, content, label and reference rationale."""
        h = hashlib.sha256()
        for split in ("train", "dev", "test"):
            for s in self.split(split):
                h.update(f"{split}\0{s.id}\0{s.content_hash}\0{s.label}\0{s.rationale or ''}\n".encode())
        return h.hexdigest()

    def counts(self) -> dict[str, int]:
        return {"train": len(self.train), "dev": len(self.dev), "test": len(self.test)}
