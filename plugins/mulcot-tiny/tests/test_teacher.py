"""The synthetic teacher: accuracy band, determinism, batch independence, chains and the correction step."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from mulcot_tiny.teacher import SyntheticTeacher

from mulcot_bench.data.synthetic import generate
from mulcot_bench.labels import LABELS
from mulcot_bench.rationale import FIELDS, parse
from mulcot_bench.types import ModelCard, Prediction, Sample


def _teacher(**settings: Any) -> SyntheticTeacher:
    return SyntheticTeacher(ModelCard(name="synthetic-teacher", role="teacher", description="test", settings=settings))


@pytest.fixture(scope="module")
def test_split() -> list[Sample]:
    return generate(train=0, dev=0, test=200).test


@pytest.fixture(scope="module")
def predictions(test_split: list[Sample]) -> list[Prediction]:
    return _teacher().predict(test_split)


def _accuracy(preds: list[Prediction], samples: list[Sample]) -> float:
    return sum(p.label == s.label for p, s in zip(preds, samples, strict=True)) / len(samples)


def _tokens(text: str) -> set[str]:
    return set(text.lower().replace('"', " ").replace(",", " ").replace(".", " ").split())


def test_supports_only_synthetic() -> None:
    teacher = _teacher()
    assert teacher.supports("synthetic")
    assert not teacher.supports("twitter2015")


def test_settings_defaults_and_validation() -> None:
    teacher = _teacher()
    assert (teacher.image_noise, teacher.text_noise, teacher.seed) == (0.12, 0.05, 0)
    with pytest.raises(ValueError, match="image_noise"):
        _teacher(image_noise=1.5)


def test_accuracy_band(predictions: list[Prediction], test_split: list[Sample]) -> None:
    assert len(predictions) == len(test_split)
    assert 0.75 <= _accuracy(predictions, test_split) <= 0.97


def test_noise_controls_accuracy(test_split: list[Sample]) -> None:
    assert _accuracy(_teacher(image_noise=0.0, text_noise=0.0).predict(test_split), test_split) == 1.0
    assert _accuracy(_teacher(image_noise=1.0).predict(test_split), test_split) < 0.6


def test_chains_are_valid_and_match_labels(predictions: list[Prediction], test_split: list[Sample]) -> None:
    for pred, sample in zip(predictions, test_split, strict=True):
        chain = parse(pred.rationale or "")
        assert chain.valid and chain.prediction == pred.label, pred.rationale
        assert pred.label in LABELS and pred.probs is None
        assert sample.target in chain.fields["Final_conclusion"]


def test_chains_paraphrase_the_reference(predictions: list[Prediction], test_split: list[Sample]) -> None:
    pairs = [(p.rationale or "", s.rationale or "") for p, s in zip(predictions, test_split, strict=True)]
    assert all(ours != ref for ours, ref in pairs)
    overlaps = []
    for ours, ref in pairs:
        a, b = _tokens(ours), _tokens(ref)
        overlaps.append(len(a & b) / len(a | b))
    mean = sum(overlaps) / len(overlaps)
    assert 0.35 < mean < 0.9, mean
    variants = {parse(p.rationale or "").fields["Image_analysis"].split()[0] for p in predictions}
    assert len(variants) >= 2


def test_deterministic_and_batch_independent(predictions: list[Prediction], test_split: list[Sample]) -> None:
    teacher = _teacher()
    reversed_preds = teacher.predict(list(reversed(test_split)))[::-1]
    singles = [teacher.predict([s])[0] for s in test_split[:20]]
    assert [p.to_json() for p in reversed_preds] == [p.to_json() for p in predictions]
    assert [p.to_json() for p in singles] == [p.to_json() for p in predictions[:20]]
    assert teacher.predict([]) == []


def test_seed_changes_outputs(predictions: list[Prediction], test_split: list[Sample]) -> None:
    other = _teacher(seed=1).predict(test_split)
    assert [p.to_json() for p in other] != [p.to_json() for p in predictions]


def test_explain_reaches_the_gold_label(test_split: list[Sample]) -> None:
    teacher = _teacher()
    gold = [s.label for s in test_split]
    for pred, label in zip(teacher.explain(test_split, gold), gold, strict=True):
        chain = parse(pred.rationale or "")
        assert chain.valid and chain.prediction == label == pred.label
        assert set(chain.fields) == set(FIELDS)


def test_explain_follows_any_gold_label(test_split: list[Sample]) -> None:
    """Even a gold label the attributes do not give is reached with a valid chain."""
    shifted = [LABELS[(LABELS.index(s.label) + 1) % 3] for s in test_split[:30]]
    for pred, label in zip(_teacher().explain(test_split[:30], shifted), shifted, strict=True):
        chain = parse(pred.rationale or "")
        assert chain.valid and chain.prediction == label == pred.label


def test_explain_checks_its_inputs(test_split: list[Sample]) -> None:
    teacher = _teacher()
    with pytest.raises(ValueError, match="gold labels"):
        teacher.explain(test_split[:2], ["positive"])
    with pytest.raises(ValueError, match="not one of"):
        teacher.explain(test_split[:1], ["happy"])


def test_samples_without_attributes_are_refused(test_split: list[Sample]) -> None:
    bare = replace(test_split[0], id="other-17", meta={})
    with pytest.raises(ValueError, match=r"other-17.*synthetic"):
        _teacher().predict([bare])
    with pytest.raises(ValueError, match="synthetic"):
        _teacher().explain([bare], ["neutral"])
