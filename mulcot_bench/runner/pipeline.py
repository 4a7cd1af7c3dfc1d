"""The distillation pipeline on one dataset: teacher -> assistant -> student, next to baselines.

Models are built, trained and loaded lazily: a model is touched only when some output it owes is
missing from the cache, so a repeated run trains and predicts nothing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mulcot_bench.cache import Cache, key
from mulcot_bench.console import logs
from mulcot_bench.efficiency.measure import CallTimer
from mulcot_bench.errors import ModelUnavailable, UserError
from mulcot_bench.parallel.collect import any_rank
from mulcot_bench.parallel.world import current
from mulcot_bench.plugin.registry import Registry
from mulcot_bench.plugin.specs import ModelSpec, resolve
from mulcot_bench.runner import costs
from mulcot_bench.runner.checkpoints import fingerprint, trainable
from mulcot_bench.runner.progress import duration, fit_progress, heartbeat
from mulcot_bench.runner.spread import rank0_trains, trains_alone
from mulcot_bench.runner.stages import augment, cached_calls, teacher_rationales
from mulcot_bench.types import FitContext, ModelCard, Prediction, Sample, Splits

AUGMENT_TEMPERATURE = 0.7
VARIANTS = ("text-only", "image-only")


def blank(samples: list[Sample], variant: str | None) -> list[Sample]:
    """The samples with their image ("text-only") or their text ("image-only") removed; as is for None."""
    if variant is None:
        return samples
    if variant == "text-only":
        return [replace(s, image=None, image_ref=None) for s in samples]
    if variant == "image-only":
        return [replace(s, text="") for s in samples]
    raise UserError(f"unknown ablation {variant!r}; use one of {', '.join(VARIANTS)}")


def data_fingerprint(samples: list[Sample]) -> str:
    """Fingerprint of training data: content, label and the training rationale of every item."""
    h = hashlib.sha256()
    for s in samples:
        h.update(f"{s.content_hash}\0{s.label}\0{s.rationale or ''}\n".encode())
    return h.hexdigest()


def serves(teacher: Any, data: Splits) -> bool:
    """A teacher's ``supports(name, data)`` (or ``supports(name)``); a teacher without it serves everything."""
    import inspect

    supports = getattr(teacher, "supports", None)
    if supports is None:
        return True
    takes_data = len(inspect.signature(supports).parameters) >= 2
    return bool(supports(data.name, data) if takes_data else supports(data.name))


def item_key(spec: ModelSpec) -> Callable[[Sample], str | None]:
    """What a model's answers are cached by besides the sample's content: its id where the factory says
    ``by_item_id`` (a file of predictions, ``score``: two items with the same content may get different answers),
    else nothing (a model answers what it sees, so a repeated content is asked once)."""
    return (lambda s: s.id) if getattr(resolve(spec.factory), "by_item_id", False) else (lambda s: None)


def log(message: str) -> None:
    """One line on stderr and in the run's log (see :mod:`mulcot_bench.console.logs`)."""
    logs.log(message)


def assistant_of(registry: Registry, card: ModelCard, selected: list[str]) -> str | None:
    """The assistant the learner of ``card`` trains from: the one its card names, else the first selected
    assistant, else the first default one (None: no assistant installed)."""
    if card.assistant:
        return card.assistant
    assistants = [spec for spec in registry.models.values() if spec.card.role == "assistant"]
    chosen = [s.name for s in assistants if s.name in selected] or [s.name for s in assistants if s.card.default]
    return chosen[0] if chosen else None


@dataclass
class ModelHandle:
    """A model resolved once in the registry: its spec, the model once built, and its artifact key once known."""

    spec: ModelSpec
    artifact: str | None = None  # the cache key of the trained model (:meth:`DatasetPipeline.artifact`)
    fitted: bool = False  # trained or loaded: ready to predict
    _model: Any = None
    _built: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def card(self) -> ModelCard:
        return self.spec.card

    def build(self, registry: Registry) -> Any:
        """The model, built on first use (``registry``: the run's, for a model that looks others up)."""
        if not self._built:
            self._model = self.spec.build(registry)
            self._built = True
        return self._model


@dataclass
class ModelRun:
    """One model's outputs on the test split, with its stage report."""

    spec: ModelSpec
    identity: str
    predictions: list[Prediction]
    stage: dict[str, Any]
    cached: bool
    assistant: str | None = None
    params: int | None = None
    variant: str | None = None
    checkpoint: str | None = None  # the folder the trained model was saved to, or was loaded from
    efficiency: dict[str, Any] | None = None  # what predicting cost (:mod:`mulcot_bench.runner.costs`), as JSON


@dataclass
class DatasetPipeline:
    """Runs the selected models of a registry on one loaded dataset.

    ``checkpoints`` maps a model to a folder its ``save()`` wrote: that model is loaded from it and never trained.
    """

    registry: Registry
    data: Splits
    cache: Cache
    seed: int
    model_names: list[str]
    teacher_name: str | None = None
    checkpoints: dict[str, Path] = field(default_factory=dict)
    chain_filter: str = "five-fields"  # which training chains stages 1 and 2b keep (stages.CHAIN_FILTERS)
    train_chains: str = "teacher"  # "dataset": stage 1 takes the chains the dataset carries as they are
    teacher_row: bool = True  # False: the teacher serves the training set and references, with no row of its own
    augment_for: list[str] = field(default_factory=list)  # learners in other jobs: stage 2b runs here for them
    run_id: str = ""  # the run that measures costs here (recorded with them)
    failures: list[tuple[str, str]] = field(default_factory=list)
    _handles: dict[str, ModelHandle] = field(default_factory=dict)
    _stage: dict[str, dict[str, Any]] = field(default_factory=dict)
    _teacher_set: list[Sample] | None = None
    _teacher_failed: str | None = None
    _augmented: dict[str, list[Sample]] = field(default_factory=dict)
    _chosen_teacher: list[str | None] = field(default_factory=list)

    # models and identities --------------------------------------------------------------------------------
    def handle(self, name: str) -> ModelHandle:
        """The model ``name`` as resolved in the registry, once per pipeline (an unknown name raises there)."""
        found = self._handles.get(name)
        if found is None:
            found = self._handles[name] = ModelHandle(self.registry.model(name))
        return found

    def identity(self, name: str) -> str:
        """A model's identity (:meth:`Registry.identity`): name, plugin, plugin version, role, every setting."""
        return self.registry.identity(name)

    def build(self, name: str) -> Any:
        """The model built (once per pipeline), handed the run's registry where it asks for one."""
        return self.handle(name).build(self.registry)

    # roles -------------------------------------------------------------------------------------------------
    def assistant_for(self, name: str) -> str | None:
        """The assistant a student (or a rationale-trained baseline) learns from."""
        card = self.handle(name).card
        if card.assistant and card.assistant not in self.registry.models:
            raise ModelUnavailable(
                f"model {name!r} names assistant {card.assistant!r}, which no installed plugin registers; "
                "install the plugin that registers it"
            )
        return assistant_of(self.registry, card, self.model_names)

    def teacher(self) -> str | None:
        """The teacher that serves this dataset (``--teacher`` or the first registered one that does)."""
        if self.teacher_name:
            return self.teacher_name
        if not self._chosen_teacher:  # chosen once: building a teacher to ask may be costly
            serving = (
                name
                for name, spec in self.registry.models.items()
                if spec.card.role == "teacher"
                and spec.card.default
                and serves(self.build(name), self.data)
            )
            self._chosen_teacher.append(next(serving, None))
        return self._chosen_teacher[0]

    # stage 1 -----------------------------------------------------------------------------------------------
    def teacher_set(self) -> list[Sample]:
        """Training items with the teacher's (corrected) chains, or the dataset's reference chains."""
        if self._teacher_set is not None:
            return self._teacher_set
        if self._teacher_failed is not None:  # asked once: a failed teacher is not asked again for every student
            raise ModelUnavailable(f"needs the training chains of teacher {self._teacher_failed!r}, which failed")
        name = None if self.train_chains == "dataset" else self.teacher()
        if name is None:
            self._teacher_set = list(self.data.train)
            have = sum(s.rationale is not None for s in self.data.train)
            why = "the dataset's own chains asked for" if self.train_chains == "dataset" else "no teacher serves"
            self._stage["teacher"] = {
                "teacher": None,
                "train_chains": self.train_chains,
                "with_chain": have,
                "note": f"{why} {self.data.name}; {have}/{len(self.data.train)} train items carry reference "
                "rationales (used as they are; the others train the label task only)",
            }
            return self._teacher_set
        start = time.perf_counter()
        try:
            kept, counts = teacher_rationales(
                self.cache, self.identity(name), lambda: self.build(name), name, self.data.train,
                keep=self.chain_filter,
            )
        except Exception:
            self._teacher_failed = name
            raise
        counts["wall_seconds"] = round(time.perf_counter() - start, 3)
        counts["chain_filter"] = self.chain_filter
        log(
            f"[{self.data.name}] teacher {name}: {counts['kept_as_predicted']} kept, {counts['corrected']} corrected, "
            f"{counts['label_only']} label-only, {counts['rejected']} rejected"
        )
        self._stage.setdefault(name, {}).update(counts)
        self._teacher_set = kept
        return kept

    # references of the test split ---------------------------------------------------------------------------
    def add_references(self) -> dict[str, Any]:
        """Teacher chains as the test split's reasoning references where the dataset has none of its own.

        When a selected model writes chains and some test item has no reference, the teacher serving the dataset
        runs stage 1 on those items: it predicts, and where it was wrong explains the gold label. Which of its chains
        are kept follows ``chain_filter``, as for the training chains. Its chains become those items' references;
        released references always win. Returns where the references come from, for
        the dataset's record.
        """
        test = self.data.test
        released = sum(bool(s.rationale) for s in test)
        info: dict[str, Any] = {"split": "test", "items": len(test), "released": released, "teacher_written": 0}
        missing = [s for s in test if not s.rationale]
        writers = [n for n in self.order() if self.handle(n).card.rationale]
        name = self.teacher() if missing and writers else None
        if name is None or self._teacher_failed is not None:
            info["source"] = "released" if released else "none"
            return info
        try:
            kept, counts = teacher_rationales(
                self.cache, self.identity(name), lambda: self.build(name), name, missing, keep=self.chain_filter
            )
        except Exception:
            self._teacher_failed = name
            raise
        chains = {s.id: s.rationale for s in kept if s.rationale}
        self.data = replace(self.data, test=[s if s.rationale else s.with_rationale(chains.get(s.id)) for s in test])
        info.update(
            source="released+teacher" if released else "teacher",
            teacher=name,
            teacher_identity=self.identity(name),
            teacher_written=len(chains),
            counts=counts,
        )
        self._stage.setdefault(name, {})["references"] = (
            f"wrote {len(chains)} of the {len(test)} test references it is scored against"
        )
        log(f"[{self.data.name}] teacher {name} wrote {len(chains)} test references ({len(missing)} items had none)")
        return info

    # stage 2 -----------------------------------------------------------------------------------------------
    def train_set(self, name: str) -> list[Sample]:
        """What a trainable model learns from: assistants the teacher set; rationale models also the augmented set."""
        card = self.handle(name).card
        base = self.teacher_set()
        if card.role == "assistant" or not card.rationale:
            return base
        assistant = self.assistant_for(name)
        if assistant is None:
            return base
        if assistant not in self._augmented:  # once per assistant, however many models ask
            extra, counts = augment(
                self.cache,
                self.artifact(assistant),
                lambda: self.fitted(assistant),
                assistant,
                base,
                AUGMENT_TEMPERATURE,
                self.seed,
                keep=self.chain_filter,
            )
            counts["chain_filter"] = self.chain_filter
            self._stage.setdefault(assistant, {})["augmentation"] = counts
            self._augmented[assistant] = base + extra
        return self._augmented[assistant]

    def trainable(self, name: str) -> bool:
        """Whether a model has ``fit``, read from its class where the factory is one (nothing built or loaded)."""
        model = self.handle(name)
        return trainable(model.spec, lambda: self.build(name))  # a factory that is no class: built once

    def trains(self, name: str) -> bool:
        """Whether this pipeline trains the model (its seed matters): trainable, not a teacher, no checkpoint."""
        card = self.handle(name).card
        return card.role != "teacher" and name not in self.checkpoints and self.trainable(name)

    def artifact(self, name: str) -> str:
        """The cache key of a trained model: identity, seed, training data and (for students) the assistant."""
        model = self.handle(name)
        if model.artifact is not None:
            return model.artifact
        if name in self.checkpoints:  # loaded, not trained: the checkpoint's content is the key
            path, digest = self.checkpoints[name], fingerprint(self.checkpoints[name], self.cache)
            art = key(self.identity(name), "checkpoint", digest)
            self._stage[name] = {"checkpoint": str(path), "checkpoint_sha256": digest}
        elif model.card.role == "teacher" or not self.trainable(name):  # nothing trained: no data in key
            art = self.identity(name)
        else:
            upstream = None
            if model.card.role == "student":
                assistant = self.assistant_for(name)
                upstream = self.artifact(assistant) if assistant else None
            art = key(
                self.identity(name),
                self.seed,
                data_fingerprint(self.train_set(name)),
                data_fingerprint(self.data.dev),
                upstream,
            )
        model.artifact = art
        return art

    def fitted(self, name: str) -> Any:
        """The model ready to predict: built, and trained or loaded from the artifact cache."""
        handle = self.handle(name)
        model = handle.build(self.registry)
        if handle.fitted:
            return model
        if name in self.checkpoints:
            log(f"[{self.data.name}] loading {name} from {self.checkpoints[name]} (not trained)")
            model.load(self.checkpoints[name])
            report = getattr(model, "report", None)  # what the model says about the loaded weights, if anything
            if isinstance(report, dict) and report:
                self._stage.setdefault(name, {})["loaded"] = json.loads(json.dumps(report, default=str))
        elif hasattr(model, "fit"):
            art = self.artifact(name)
            folder = self.cache.artifact(art)
            if current().size > 1 and any_rank(folder is None, f"finding the trained {name}"):
                folder = None  # a rank that lacks it trains, so all do: the trainer's DDP steps are collective
            if folder is not None and hasattr(model, "load"):
                model.load(folder)
            else:
                assistant = self.assistant_for(name) if handle.card.role == "student" else None
                helper = self.fitted(assistant) if assistant else None  # on every rank, before one trains alone
                train = lambda: self._train(handle, art, helper)  # noqa: E731
                if trains_alone(model):
                    rank0_trains(train, lambda: self.cache.artifact(art), model, name)
                else:
                    train()
        handle.fitted = True
        return model

    def _train(self, handle: ModelHandle, art: str, assistant: Any) -> None:
        """Fit the model (resuming from its partial checkpoints), store its report and its artifact."""
        name, model = handle.name, handle.build(self.registry)
        partial = self.cache.folder / "partial" / art  # checkpoints: a crashed fit resumes from here
        ctx = FitContext(
            seed=self.seed,
            dataset=self.data.name,
            level=self.data.level,
            assistant=assistant,
            workdir=partial,
            progress=fit_progress(self.data.name, name),
        )
        train = self.train_set(name)
        log(f"[{self.data.name}] training {name} ({handle.card.role}) on {len(train)} items")
        start = time.perf_counter()
        with heartbeat(f"[{self.data.name}] {name}"), costs.fit_tracker() as peak:
            report = dict(model.fit(train, list(self.data.dev), ctx) or {})
        report.setdefault("wall_seconds", round(time.perf_counter() - start, 3))
        costs.store_fit(self.cache, art, peak, self.run_id)
        log(f"[{self.data.name}] {name} trained in {duration(time.perf_counter() - start)}")
        if current().main:  # rank 0's report (its wall time) is the one scored runs show
            self.cache.put("stage-report", art, report)
        if hasattr(model, "save"):
            self.cache.store_artifact(art, model.save)
        shutil.rmtree(partial, ignore_errors=True)

    # evaluation --------------------------------------------------------------------------------------------
    def evaluate(self, name: str, split: str = "test", variant: str | None = None) -> ModelRun:
        """Predict the split (from the cache where possible); the stage report is added by :meth:`stage_report`.

        ``variant`` "text-only" blanks every image, "image-only" every text (the target stays): a modality
        ablation of the same trained model. Blanked samples have their own content hashes, so their own cache
        entries.
        """
        spec = self.handle(name).spec
        art = self.artifact(name)
        samples = blank(self.data.split(split), variant)
        timer = CallTimer()  # the calls' wall time and peak memory (training is outside them: ``prepare``)
        preds, stats = cached_calls(
            self.cache,
            f"predict-{split}",
            art,
            samples,
            timer.wrap(lambda b: self.fitted(name).predict(b)),
            name,
            extra_key=item_key(spec),
            progress=f"[{self.data.name}] {name} predict" + (f" ({variant})" if variant else ""),
            prepare=lambda: self.fitted(name),  # training is not under the per-call timeout
        )
        learns_from = spec.card.role == "student" or (spec.card.role == "baseline" and spec.card.rationale)
        learns_from = learns_from and name not in self.checkpoints
        return ModelRun(
            spec,
            art,
            preds,
            {},
            cached=stats.computed == 0,
            assistant=self.assistant_for(name) if learns_from else None,
            variant=variant,
            checkpoint=self.checkpoint_of(name),
            efficiency=costs.prediction_costs(self, name, art, f"predict-{split}", variant, timer, samples),
        )

    def checkpoint_of(self, name: str) -> str | None:
        """Where the model's weights are: the checkpoint it was loaded from, or the cache folder it was saved to."""
        if name in self.checkpoints:
            return str(self.checkpoints[name])
        if not self.trains(name):
            return None
        folder = self.cache.artifact(self.artifact(name))
        return str(folder) if folder is not None else None

    def stage_of(self, name: str) -> dict[str, Any]:
        """What the stages recorded of a model so far (a copy)."""
        return dict(self._stage.get(name, {}))

    def stage_report(self, run: ModelRun) -> None:
        """Fill a run's stage report and parameter count once every stage has run."""
        stage = dict(self._stage.get(run.spec.name, {}))
        if run.spec.card.role != "teacher":
            stage.update(self.cache.get("stage-report", run.identity) or {})
        run.stage = stage
        run.params = stage.get("params", run.spec.card.params)

    def learns_from_chains(self, name: str) -> bool:
        """Whether a model trains on reasoning chains: assistants, students, rationale-trained baselines."""
        card = self.handle(name).card
        if name in self.checkpoints:  # loaded, not trained
            return False
        if card.role in ("assistant", "student"):
            return True
        return card.role == "baseline" and card.rationale and self.trainable(name)

    def mark_teacher_failed(self, name: str) -> None:
        """The teacher could not run (its failure is recorded already): stage 1 is not attempted."""
        self._teacher_failed = name

    def failed_teacher(self) -> str | None:
        """The teacher whose stage 1 failed in this pipeline, if any."""
        return self._teacher_failed

    def needs_teacher_set(self) -> bool:
        """Whether stage 1 runs: a teacher has a row of its own, or a selected model learns from its chains.

        A zero-shot or rule baseline alone runs no teacher stage (:meth:`order` gives the teacher a row exactly
        when one of those holds, unless ``teacher_row`` is False; without a teacher, a learner asks for the
        training set lazily)."""
        names = self.order()
        if any(self.handle(n).card.role == "teacher" for n in names):
            return True
        return not self.teacher_row and self.teacher() is not None and any(self.learns_from_chains(n) for n in names)

    def order(self) -> list[str]:
        """Teacher first, then assistants, students and baselines: each stage feeds the next.

        The teacher gets a row of its own when it was selected (``-m``, ``--teacher``, ``--all``) or a selected
        model learns from its chains; otherwise (or with ``teacher_row`` False: a launcher's job whose dataset
        has its teacher row in another job) it only serves the training set.
        """
        rank = {"teacher": 0, "assistant": 1, "student": 2, "baseline": 3}
        names = list(self.model_names)
        teacher = self.teacher()
        wanted = self.teacher_row and (self.teacher_name is not None or any(self.learns_from_chains(n) for n in names))
        if teacher and teacher not in names and wanted:
            names.insert(0, teacher)
        names = [n for n in names if self.handle(n).card.role != "teacher" or (n == teacher and self.teacher_row)]
        return sorted(names, key=lambda n: rank[self.handle(n).card.role])
