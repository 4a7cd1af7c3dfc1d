"""Metrics through mulcot-bench agree with the libraries called directly."""

from __future__ import annotations

from pathlib import Path

import pytest

from mulcot_bench.cache import Cache
from mulcot_bench.metrics.classification import F1, Accuracy, invalid_count
from mulcot_bench.metrics.reasoning import BertScore, CorpusBleu, FormatRate
from mulcot_bench.rationale import FIELDS, render_chain
from mulcot_bench.types import Prediction, Sample

GOLD = ["positive", "neutral", "negative", "negative", "positive", "neutral"]
PRED = ["positive", "negative", None, "negative", "neutral", "neutral"]
REFS = [render_chain({f: f"reference {f} {i}" for f in FIELDS[:-1]} | {"Prediction": g}) for i, g in enumerate(GOLD)]
HYPS = ["the text is happy and so is the image", REFS[1], "", "a gloomy picture of rain", REFS[4][:40], "nothing"]


def _data() -> tuple[list[Sample], list[Prediction]]:
    gold = [
        Sample(id=str(i), text=f"t{i}", label=g, rationale=r) for i, (g, r) in enumerate(zip(GOLD, REFS, strict=True))
    ]
    preds = [Prediction(label=p, rationale=h) for p, h in zip(PRED, HYPS, strict=True)]
    return gold, preds


def test_classification_matches_sklearn() -> None:
    from sklearn.metrics import accuracy_score, f1_score

    gold, preds = _data()
    y, p = GOLD, [x or "invalid" for x in PRED]
    assert Accuracy().compute(gold, preds, None)["accuracy"] == pytest.approx(accuracy_score(y, p), abs=1e-12)
    labels = ["positive", "neutral", "negative"]
    for avg in ("macro", "weighted"):
        expected = f1_score(y, p, labels=labels, average=avg, zero_division=0)
        assert F1(avg).compute(gold, preds, None)[f"{avg}_f1"] == pytest.approx(expected, abs=1e-12)
    assert invalid_count(preds) == 1


def test_invalid_answer_counts_as_wrong() -> None:
    gold, preds = _data()
    assert Accuracy().compute(gold, preds, None)["accuracy"] == pytest.approx(3 / 6)


def test_corpus_bleu_matches_sacrebleu() -> None:
    import sacrebleu

    gold, preds = _data()
    expected = sacrebleu.corpus_bleu(HYPS, [REFS]).score
    assert CorpusBleu().compute(gold, preds, None)["bleu4"] == pytest.approx(expected, abs=1e-9)
    assert "nrefs:1" in CorpusBleu().signature() and "tok:13a" in CorpusBleu().signature()


def test_reasoning_metrics_are_none_without_rationales() -> None:
    gold, _ = _data()
    preds = [Prediction(label="positive") for _ in gold]
    assert CorpusBleu().compute(gold, preds, None) == {"bleu4": None}
    assert FormatRate().compute(gold, preds, None) == {"format_valid": None}
    assert BertScore().compute(gold, preds, None)["bertscore_f1"] is None


def test_format_rate() -> None:
    gold, preds = _data()
    assert FormatRate().compute(gold, preds, None)["format_valid"] == pytest.approx(1 / 6)


def test_bertscore_matches_direct_call_and_is_cached(tmp_path: Path) -> None:
    import bert_score

    from mulcot_bench.metrics.reasoning import minilm_path

    gold, preds = _data()
    cache = Cache(tmp_path)
    metric = BertScore()
    ours = metric.compute(gold, preds, cache)
    # bert-score scores an empty candidate 0 (its empty-string path fails under transformers 5, so skip it here)
    keep = [i for i, h in enumerate(HYPS) if h]
    p, r, f = bert_score.score([HYPS[i] for i in keep], [REFS[i] for i in keep], model_type=minilm_path(), num_layers=6)
    n = len(HYPS)
    assert ours["bertscore_f1"] == pytest.approx(float(f.sum()) / n, abs=1e-6)
    assert ours["bertscore_p"] == pytest.approx(float(p.sum()) / n, abs=1e-6)
    assert ours["bertscore_r"] == pytest.approx(float(r.sum()) / n, abs=1e-6)

    def no_model(*_args: object) -> None:
        raise AssertionError("a cached pair was scored again")

    metric._score = no_model  # type: ignore[method-assign]
    assert metric.compute(gold, preds, cache) == ours
    assert "rescaled=False" in metric.signature() and "layer=6" in metric.signature()


def test_bertscore_whitespace_only_hypothesis_scores_zero_without_the_model() -> None:
    metric = BertScore()
    calls: list[list[str]] = []

    def fake(_bert_score, hyps, refs):  # noqa: ANN001, ANN202
        calls.append(list(hyps))
        return [[0.5, 0.5, 0.5] for _ in hyps]

    metric._score_nonempty = fake  # type: ignore[method-assign]
    assert metric._score(["  \n", "a chain"], ["ref", "ref"]) == [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]]
    assert calls == [["a chain"]]
    assert metric._score([" "], ["ref"]) == [[0.0, 0.0, 0.0]] and len(calls) == 1


def test_priming_scores_several_models_in_one_call_with_the_same_values(tmp_path: Path) -> None:
    """``Scorer.prime`` fills the per-pair cache for every model at once: each model-loading metric is called
    once, sees each reference once, and every score equals scoring the models one by one."""
    from mulcot_bench.metrics.embedding import MiniLMCosine
    from mulcot_bench.plugin.registry import build_registry
    from mulcot_bench.scoring.scorer import Scorer

    gold, first = _data()
    second = [Prediction(label=p.label, rationale=(p.rationale or "") + " and more") for p in first]
    one_by_one = Scorer(build_registry(), Cache(tmp_path / "a"), resamples=0)
    expected = [one_by_one.score(gold, preds) for preds in (first, second)]

    seen: list[list[str]] = []
    real_embed = MiniLMCosine.embed

    def counting(self: MiniLMCosine, texts: list[str]) -> object:
        seen.append(list(texts))
        return real_embed(self, texts)

    MiniLMCosine.embed = counting  # type: ignore[method-assign]
    try:
        primed = Scorer(build_registry(), Cache(tmp_path / "b"), resamples=0)
        primed.prime(gold, [first, second])
        assert len(seen) == 1  # one call for both models
        assert sorted(seen[0]) == sorted(set(HYPS) | {h + " and more" for h in HYPS} | set(REFS))
        got = [primed.score(gold, preds) for preds in (first, second)]
        assert len(seen) == 1  # scoring afterwards embeds nothing
    finally:
        MiniLMCosine.embed = real_embed  # type: ignore[method-assign]
    for ours, theirs in zip(got, expected, strict=True):
        assert ours.keys() == theirs.keys()
        for k, v in theirs.items():
            assert ours[k] == (pytest.approx(v, abs=1e-6) if isinstance(v, float) else v), k
