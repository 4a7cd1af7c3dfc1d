"""The distillation stages with fake models: correction, augmentation, caching identity, isolation."""

from __future__ import annotations

from pathlib import Path

import pytest

from mulcot_bench.cache import Cache
from mulcot_bench.data.synthetic import generate
from mulcot_bench.plugin.registry import build_registry
from mulcot_bench.results import Failure
from mulcot_bench.runner.orchestrate import run_dataset
from mulcot_bench.runner.pipeline import DatasetPipeline
from mulcot_bench.scoring.scorer import Scorer

FAKES = '''
from mulcot_bench.plugin.hookspecs import hookimpl
from mulcot_bench.rationale import FIELDS, render_chain
from mulcot_bench.plugin.specs import ModelSpec
from mulcot_bench.types import ModelCard, Prediction

CALLS = {"predict": 0, "fit": 0}


def chain(label):
    return render_chain({f: "x" for f in FIELDS[:-1]} | {"Prediction": label})


class Wrongish:
    """A teacher that says 'neutral' for everything."""
    def __init__(self, card):
        self.card = card
    def predict(self, samples):
        return [Prediction("neutral", chain("neutral")) for _ in samples]
    def explain(self, samples, gold):
        return [Prediction(g, chain(g)) for g in gold]


class Memorise:
    """Trainable: remembers training labels by content; counts its calls."""
    def __init__(self, card):
        self.card = card
    def fit(self, train, dev, ctx):
        CALLS["fit"] += 1
        self.table = {s.content_hash: s.label for s in train}
        self.with_assistant = ctx.assistant is not None
        return {"n_train": len(train), "params": 7}
    def predict(self, samples):
        CALLS["predict"] += 1
        if self.card.settings.get("explode"):
            raise RuntimeError("exploded on purpose")
        return [Prediction(self.table.get(s.content_hash, "neutral"), chain("positive")) for s in samples]
    def sample(self, samples, temperature, seed):
        return [Prediction(None, chain("positive")) for s in samples]


@hookimpl
def register_models(register):
    register(ModelSpec(ModelCard("fake-teacher", "teacher", "all neutral"), Wrongish))
    register(ModelSpec(ModelCard("fake-assistant", "assistant", "memorises", settings={"k": 1}), Memorise))
    register(ModelSpec(ModelCard("fake-student", "student", "memorises", settings={"k": 1}), Memorise))
    register(ModelSpec(ModelCard("fake-student-2", "student", "memorises", settings={"k": 2}), Memorise))
    register(ModelSpec(ModelCard("fake-broken", "baseline", "raises", settings={"explode": True}), Memorise))
    register(ModelSpec(ModelCard("fake-labels", "baseline", "labels only", rationale=False), Memorise))
'''


@pytest.fixture()
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "fakes.py").write_text(FAKES)
    monkeypatch.setenv("MULCOT_BENCH_BLOCK_PLUGINS", "tiny,baselines")
    registry = build_registry([folder])
    data = generate(seed=3, train=30, dev=10, test=12)
    names = ["fake-teacher", "fake-assistant", "fake-student", "fake-student-2", "fake-broken"]
    return registry, data, Cache(tmp_path / "cache"), names


def _calls() -> dict[str, int]:
    import sys

    return sys.modules["mulcot_bench_local_fakes"].CALLS


def test_teacher_correction_and_augmentation_counts(setup) -> None:  # noqa: ANN001
    registry, data, cache, names = setup
    pipe = DatasetPipeline(registry, data, cache, 42, names)
    kept = pipe.teacher_set()
    n_neutral = sum(s.label == "neutral" for s in data.train)
    stage = pipe._stage["fake-teacher"]
    assert stage == {**stage, "kept_as_predicted": n_neutral, "corrected": 30 - n_neutral, "rejected": 0}
    assert len(kept) == 30
    extra = pipe.train_set("fake-student")[30:]
    # the fake assistant's sampled chains always predict "positive": only those of positive items are kept
    assert len(extra) == sum(s.label == "positive" for s in data.train)
    assert pipe._stage["fake-assistant"]["augmentation"]["augmented"] == len(extra)


def test_teacher_row_only_when_asked_for_or_learnt_from(setup) -> None:  # noqa: ANN001
    """The teacher is evaluated when named, given as --teacher, or a selected model learns from its chains."""
    registry, data, cache, _ = setup

    def order(names: list[str], teacher: str | None = None) -> list[str]:
        return DatasetPipeline(registry, data, cache, 42, names, teacher).order()

    assert order(["fake-labels"]) == ["fake-labels"]
    assert order(["fake-labels"], "fake-teacher") == ["fake-teacher", "fake-labels"]
    assert order(["fake-labels", "fake-teacher"]) == ["fake-teacher", "fake-labels"]
    assert order(["fake-student"]) == ["fake-teacher", "fake-student"]
    assert order(["fake-assistant"]) == ["fake-teacher", "fake-assistant"]
    assert order(["fake-broken"]) == ["fake-teacher", "fake-broken"]  # a baseline trained on chains


def test_identity_separates_models_and_settings(setup) -> None:  # noqa: ANN001
    registry, data, cache, names = setup
    pipe = DatasetPipeline(registry, data, cache, 42, names)
    assert len({pipe.identity(n) for n in names}) == len(names)
    assert len({pipe.artifact(n) for n in names}) == len(names)
    other_seed = DatasetPipeline(registry, data, cache, 7, names)
    assert other_seed.artifact("fake-student") != pipe.artifact("fake-student")


def test_failure_is_isolated_and_cache_reused(setup) -> None:  # noqa: ANN001
    registry, data, cache, names = setup
    failures: list[Failure] = []
    entries = run_dataset(
        DatasetPipeline(registry, data, cache, 42, names),
        Scorer(registry, cache),
        cache.folder.parent / "run",
        failures,
    )
    assert [f.model for f in failures] == ["fake-broken"] and "exploded" in failures[0].reason
    assert {e.model for e in entries} == {"fake-teacher", "fake-assistant", "fake-student", "fake-student-2"}
    student = next(e for e in entries if e.model == "fake-student")
    assert student.assistant == "fake-assistant" and student.params == 7
    before = dict(_calls())
    again = run_dataset(
        DatasetPipeline(registry, data, cache, 42, names), Scorer(registry, cache), cache.folder.parent / "run2", []
    )
    after = _calls()
    # only the broken model (which cached nothing) is trained and tried again
    assert after["fit"] == before["fit"] + 1
    assert after["predict"] == before["predict"] + 1
    assert [e.scores for e in again] == [e.scores for e in entries]
    assert all(e.cached for e in again)


def _number(s) -> int:  # noqa: ANN001
    return int(s.id.split("-")[1])


class _Gappy:
    """A teacher that serves only even-numbered items (``train-0004-1``) and answers others with nothing."""

    def __init__(self, wrong: set[str]) -> None:
        self.wrong = wrong

    def _one(self, s, label):  # noqa: ANN001, ANN202
        from mulcot_bench.rationale import render_chain
        from mulcot_bench.types import Prediction

        if _number(s) % 2:
            return Prediction(label=None)
        lab = "negative" if s.id in self.wrong and label is None else (label or s.label)
        chain = render_chain({"Text_analysis": "t", "Image_analysis": "i", "Conflict_resolution": "c",
                        "Final_conclusion": "f", "Prediction": lab})
        if s.id in self.wrong and label is not None:
            chain = "not a chain"
        return Prediction(label=lab, rationale=chain)

    def predict(self, batch):  # noqa: ANN001, ANN201
        return [self._one(s, None) for s in batch]

    def explain(self, batch, golds):  # noqa: ANN001, ANN201
        assert all(_number(s) % 2 == 0 for s in batch), "an unserved item was asked to explain"
        return [self._one(s, g) for s, g in zip(batch, golds, strict=True)]


def test_unserved_items_stay_label_only_and_unjustified_ones_are_rejected(tmp_path: Path) -> None:
    from mulcot_bench.runner.stages import teacher_rationales

    data = generate(seed=3, train=40, dev=5, test=5)
    even = [s for s in data.train if _number(s) % 2 == 0]
    wrong = {s.id for s in even if s.label != "negative"}  # predicted negative, cannot explain the gold label
    kept, counts = teacher_rationales(Cache(tmp_path / "c"), "gappy", lambda: _Gappy(wrong), "gappy", data.train)
    odd = len(data.train) - len(even)
    assert counts["label_only"] == odd > 0
    assert counts["rejected"] == len(wrong) > 0
    assert counts["kept_as_predicted"] == len(even) - len(wrong)
    assert len(kept) == len(data.train) - len(wrong)
    assert sum(s.rationale is None for s in kept) == odd
