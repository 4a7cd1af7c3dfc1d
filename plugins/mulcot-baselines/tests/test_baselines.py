"""The baselines: the contract check of the test kit, and what each one learns on small hand-made sets."""

from __future__ import annotations

import pytest

from mulcot_bench.plugin import LABELS, FitContext, Registry, Sample, Splits, check_model


def _ctx() -> FitContext:
    return FitContext(seed=7, dataset="toy", level="aspect")


@pytest.mark.parametrize("name", ["majority", "text-tfidf-lr"])
def test_meets_the_contract(mulcot_registry: Registry, mulcot_data: Splits, name: str) -> None:
    check_model(name, registry=mulcot_registry, data=mulcot_data)


def test_majority_predicts_the_most_frequent_label_with_its_share(mulcot_registry: Registry) -> None:
    model = mulcot_registry.model("majority").build()
    train = [Sample(str(i), "x", label) for i, label in enumerate(["negative"] * 3 + ["neutral"] * 3 + ["positive"])]
    report = model.fit(train, [], _ctx())
    assert report["label"] == "neutral"  # a 3-3 tie goes to the earlier label in LABELS order
    (pred,) = model.predict([Sample("t", "anything", "positive")])
    assert pred.label == "neutral" and pred.rationale is None
    assert pred.probs == {"positive": 1 / 7, "neutral": 3 / 7, "negative": 3 / 7}


def test_tfidf_learns_words_and_gives_probabilities(mulcot_registry: Registry) -> None:
    model = mulcot_registry.model("text-tfidf-lr").build()
    words = {"positive": "great lovely", "neutral": "posted update", "negative": "awful broken"}
    train = [Sample(f"{lab}{i}", f"{words[lab]} day {i}", lab, target="Acme") for lab in LABELS for i in range(6)]
    model.fit(train, train[:3], _ctx())
    preds = model.predict([Sample(f"t-{lab}", f"so {words[lab]}", lab, target="Acme") for lab in LABELS])
    assert [p.label for p in preds] == list(LABELS)
    assert all(abs(sum(p.probs.values()) - 1) < 1e-9 and max(p.probs, key=p.probs.get) == p.label for p in preds)


@pytest.mark.parametrize("name", ["majority", "text-tfidf-lr"])
def test_predict_before_fit_is_a_clear_error(mulcot_registry: Registry, name: str) -> None:
    with pytest.raises(RuntimeError, match=f"{name} .*used before fit"):
        mulcot_registry.model(name).build().predict([Sample("a", "b", "neutral")])
