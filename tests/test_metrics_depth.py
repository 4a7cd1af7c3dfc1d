"""Evaluation depth: the reference's reasoning metrics, chain checks and per-class scores vs the libraries."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from mulcot_bench.cache import Cache
from mulcot_bench.labels import LABELS
from mulcot_bench.metrics.bleu import SentenceBleu, sentence_scores
from mulcot_bench.metrics.chains import ChainConsistency, ChainGold, chain_label
from mulcot_bench.metrics.embedding import MiniLMCosine
from mulcot_bench.metrics.meteor import Meteor
from mulcot_bench.metrics.overlap import Distinct, RougeL, lcs_length, rouge_l_f, tokens
from mulcot_bench.metrics.perclass import PerClass, confusion
from mulcot_bench.metrics.reasoning import BertScore, CorpusBleu
from mulcot_bench.rationale import FIELDS, render_chain
from mulcot_bench.results import Entry
from mulcot_bench.types import Prediction, Sample

TEST_JSON = Path(__file__).resolve().parents[2] / "shared" / "data" / "twitter2015" / "teacher_cot" / "test.json"
MODEL_SUBSET = 48  # model-based metrics on real chains: a subset (CPU time on a 2-core machine)

# (hypothesis, reference): empty, shorter than 4 tokens, no 4-gram match, exact, ordinary
BLEU_CASES = [
    ("", "the cat sat on the mat"),
    ("the cat", "the cat sat on the mat"),
    ("the cat sat", "the cat sat"),
    ("cat the", "the cat sat on the mat"),
    ("the cat sat on a mat", "the cat sat on the mat"),
    ("the cat sat on the mat", "the cat sat on the mat"),
    ("a dog barked at the mailman today .", "the cat sat on the mat ."),
]


def _samples(refs: list[str], labels: list[str] | None = None) -> list[Sample]:
    labels = labels or ["neutral"] * len(refs)
    return [
        Sample(id=str(i), text="t", label=g, rationale=r) for i, (r, g) in enumerate(zip(refs, labels, strict=True))
    ]


def _chain(label: str, i: int = 0) -> str:
    return render_chain({f: f"analysis {f} number {i}" for f in FIELDS[:-1]} | {"Prediction": label})


# --- sentence BLEU (reference variant) ------------------------------------------------------------------


def test_sentence_bleu_matches_sacrebleu_sentence_bleu() -> None:
    import sacrebleu

    hyps, refs = [h for h, _ in BLEU_CASES], [r for _, r in BLEU_CASES]
    expected = [sacrebleu.sentence_bleu(h, [r], smooth_method="none").score for h, r in BLEU_CASES]
    ours, _ = sentence_scores(hyps, refs)
    assert ours == pytest.approx(expected, abs=1e-9)
    preds = [Prediction(label="neutral", rationale=h) for h in hyps]
    mean = SentenceBleu().compute(_samples(refs), preds, None)["bleu4_sentence"]
    assert mean == pytest.approx(sum(expected) / len(expected), abs=1e-6)


def test_sentence_bleu_hand_cases() -> None:
    import math

    scores, _ = sentence_scores([h for h, _ in BLEU_CASES], [r for _, r in BLEU_CASES])
    assert scores[0] == 0.0  # empty hypothesis
    assert scores[1] == pytest.approx(100 * math.exp(1 - 6 / 2))  # 2 tokens: effective order 2, brevity penalty
    assert scores[2] == pytest.approx(100.0)  # 3 tokens, all matching: effective order 3
    assert scores[3] == 0.0  # unigrams match, no bigram: no smoothing gives 0
    assert scores[5] == pytest.approx(100.0)
    assert 0.0 < scores[4] < 100.0
    signature = SentenceBleu().signature()
    assert "smooth:none" in signature and "tok:13a" in signature and "eff:yes" in signature


def test_sentence_bleu_is_none_without_rationales() -> None:
    assert SentenceBleu().compute(_samples(["x"]), [Prediction(label="neutral")], None) == {"bleu4_sentence": None}


# --- ROUGE-L and Distinct ------------------------------------------------------------------------------


def _lcs_dp(a: list[str], b: list[str]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


def test_lcs_matches_dynamic_programming() -> None:
    rng = random.Random(7)
    for _ in range(500):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 70))]
        b = [rng.choice("abcde") for _ in range(rng.randint(0, 70))]
        assert lcs_length(a, b) == _lcs_dp(a, b)


def test_rouge_l_f() -> None:
    hyps, refs = [h for h, _ in BLEU_CASES], [r for _, r in BLEU_CASES]
    expected = []
    for h, r in zip(hyps, refs, strict=True):
        th, tr = tokens(h), tokens(r)
        lcs = _lcs_dp(th, tr)
        expected.append(0.0 if lcs == 0 else 2 * lcs / (len(th) + len(tr)))  # F1 = 2PR/(P+R)
    assert [rouge_l_f(h, r) for h, r in zip(hyps, refs, strict=True)] == pytest.approx(expected, abs=1e-12)
    preds = [Prediction(label="neutral", rationale=h) for h in hyps]
    assert RougeL().compute(_samples(refs), preds, None)["rouge_l"] == pytest.approx(sum(expected) / len(expected))
    assert tokens("good, isn't it?") == ["good", ",", "isn't", "it", "?"]  # 13a keeps the apostrophe word


def test_distinct_scores_generated_rationales() -> None:
    preds = [Prediction(label="neutral", rationale="a b a"), Prediction(label="neutral", rationale="a b")]
    refs = ["completely different words here", "other words"]
    out = Distinct().compute(_samples(refs), preds, None)
    assert out["distinct_1"] == pytest.approx(2 / 5)  # a, b of a b a a b
    assert out["distinct_2"] == pytest.approx(2 / 3)  # (a b), (b a) of ab, ba, ab
    assert Distinct().compute(_samples(refs), [Prediction(label="neutral")] * 2, None)["distinct_1"] is None


# --- MiniLM cosine -------------------------------------------------------------------------------------


def test_minilm_cosine_matches_sentence_transformers_and_is_cached(tmp_path: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    from mulcot_bench.metrics.reasoning import minilm_path

    refs = ["The image shows a happy crowd.", "A gloomy rainy street.", "Neutral news about a match.", "x"]
    hyps = ["A cheerful crowd is shown.", "", "Neutral news about a match.", "A long text " * 100]
    st = SentenceTransformer(minilm_path(), device="cpu")
    eh = st.encode(hyps, normalize_embeddings=True, convert_to_tensor=True)
    er = st.encode(refs, normalize_embeddings=True, convert_to_tensor=True)
    expected = [float(x) for x in (eh * er).sum(1)]
    assert st.max_seq_length == 256
    cache = Cache(tmp_path)
    metric = MiniLMCosine()
    assert metric.pair_scores(hyps, refs, cache) == pytest.approx(expected, abs=1e-6)
    preds = [Prediction(label="neutral", rationale=h) for h in hyps]
    value = metric.compute(_samples(refs), preds, cache)["minilm_cosine"]
    assert value == pytest.approx(sum(expected) / len(expected), abs=1e-6)
    assert torch.isclose(torch.tensor(value), torch.tensor(sum(expected) / 4), atol=1e-6)

    fresh = MiniLMCosine()  # a re-run: every pair cached, so no model is loaded
    fresh._load = lambda: (_ for _ in ()).throw(AssertionError("model loaded for cached pairs"))  # type: ignore[method-assign]
    assert fresh.compute(_samples(refs), preds, cache)["minilm_cosine"] == value
    assert "pooling=mean" in metric.signature() and "normalize=l2" in metric.signature()


def test_bertscore_signature_states_settings() -> None:
    sig = BertScore().signature()
    assert "bert-score:" in sig and "model=all-MiniLM-L6-v2" in sig and "layer=6" in sig and "idf=False" in sig
    assert "rescaled=True" not in sig


# --- chain checks and per-class scores ------------------------------------------------------------------


def test_chain_checks() -> None:
    gold = _samples(["r"] * 5, ["positive", "neutral", "negative", "neutral", "positive"])
    preds = [
        Prediction(label="positive", rationale=_chain("positive")),  # consistent, agrees with gold
        Prediction(label="negative", rationale=_chain("neutral")),  # inconsistent, chain agrees with gold
        Prediction(label=None, rationale=_chain("negative")),  # unparseable answer: never consistent
        Prediction(label="neutral", rationale="### Prediction:\nneutral"),  # markdown heading counts
        Prediction(label="positive", rationale="no label at all"),  # chain names no label
    ]
    assert chain_label("### Prediction:\nneutral") == "neutral"
    assert ChainConsistency().compute(gold, preds, None)["chain_consistency"] == pytest.approx(2 / 5)
    assert ChainGold().compute(gold, preds, None)["chain_gold"] == pytest.approx(4 / 5)
    none = [Prediction(label="positive") for _ in gold]
    assert ChainConsistency().compute(gold, none, None) == {"chain_consistency": None}
    assert ChainGold().compute(gold, none, None) == {"chain_gold": None}


def test_per_class_and_confusion_match_sklearn() -> None:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    rng = random.Random(3)
    y = [rng.choice(LABELS) for _ in range(80)]
    p = [rng.choice([*LABELS, None]) for _ in range(80)]
    gold = _samples(["r"] * 80, y)
    preds = [Prediction(label=x) for x in p]
    pp = [x or "invalid" for x in p]
    prec, rec, f1, _ = precision_recall_fscore_support(y, pp, labels=list(LABELS), average=None, zero_division=0)
    ours = PerClass().compute(gold, preds, None)
    for i, label in enumerate(LABELS):
        assert ours[f"precision_{label}"] == pytest.approx(prec[i], abs=1e-12)
        assert ours[f"recall_{label}"] == pytest.approx(rec[i], abs=1e-12)
        assert ours[f"f1_{label}"] == pytest.approx(f1[i], abs=1e-12)
    cols = [*LABELS, "invalid"]
    matrix = confusion_matrix(y, pp, labels=cols)
    table = confusion(gold, preds)
    assert list(table) == list(LABELS) and all(list(row) == cols for row in table.values())
    assert [[table[g][c] for c in cols] for g in LABELS] == matrix[:3].tolist()


def test_entry_confusion_is_optional() -> None:
    base = dict(model="m", role="baseline", plugin="p", dataset="d", split="test", n=1, invalid=0, scores={})
    old = Entry(**base, predictions_file="x.jsonl", identity="i")
    assert old.confusion is None
    table = {"positive": {"positive": 1, "neutral": 0, "negative": 0, "invalid": 0}}
    new = Entry.model_validate_json(
        Entry(**base, predictions_file="x", identity="i", confusion=table).model_dump_json()
    )
    assert new.confusion == table


def test_meteor_exact_and_stem_stages() -> None:
    from mulcot_bench.metrics.meteor import meteor_scores

    # 4 exact matches of 4 hypothesis and 5 reference tokens, in 2 chunks: P 1, R 0.8,
    # Fmean = PR / (0.9 P + 0.1 R), penalty = 0.5 (chunks / matches)^3
    fmean = 0.8 / (0.9 + 0.1 * 0.8)
    exact = fmean * (1 - 0.5 * 0.5**3)
    # Porter stems align "cats"/"cat" and "running"/"runs"; lowercase aligns "The"/"the": 3 matches, 1 chunk
    stem = 1 - 0.5 * (1 / 3) ** 3
    hyps, refs = ["a b c d", "The cats running", "", "wholly different"], ["a b x c d", "the cat runs", "x", "words"]
    assert meteor_scores(hyps, refs) == pytest.approx([exact, stem, 0.0, 0.0], abs=1e-9)
    preds = [Prediction(label="neutral", rationale=h) for h in hyps]
    assert Meteor().compute(_samples(refs), preds, None)["meteor"] == pytest.approx((exact + stem) / 4, abs=1e-9)
    assert "synonyms:none" in Meteor().signature() and "stem:porter" in Meteor().signature()


def test_builtin_metrics_registered_with_names() -> None:
    from mulcot_bench.builtin.metrics import register_metrics

    specs = []
    register_metrics(specs.append)
    outputs = {k: v for s in specs for k, v in s.outputs.items()}
    assert outputs["bleu4_sentence"] == "BLEU-4 (sentence avg, effective order)"
    assert outputs["minilm_cosine"] == "MiniLM cosine similarity (sentence-transformers, reference)"
    assert outputs["meteor"] == "METEOR (exact+stem, nltk)"
    for key in ("rouge_l", "distinct_1", "distinct_2", "chain_consistency", "chain_gold", "f1_negative"):
        assert key in outputs
    for spec in specs:
        assert spec.build().signature()


# --- released Twitter-2015 test chains ------------------------------------------------------------------


@pytest.fixture(scope="module")
def released() -> list[dict]:
    if not TEST_JSON.is_file():
        pytest.skip(f"released Twitter-2015 test rationales not found at {TEST_JSON}")
    return json.loads(TEST_JSON.read_text(encoding="utf-8"))


def test_references_against_themselves_and_shuffled(released: list[dict]) -> None:
    refs = [x["cot"] for x in released]
    gold = _samples(refs, [x["label"] for x in released])
    shuffled = refs[:]
    random.Random(0).shuffle(shuffled)
    # a model whose chain is the reference and whose answer is the label that chain states
    own = [Prediction(label=chain_label(r), rationale=r) for r in refs]
    other = [Prediction(label=chain_label(r), rationale=s) for r, s in zip(refs, shuffled, strict=True)]
    metrics = (SentenceBleu(), CorpusBleu(), RougeL(), Meteor(), ChainConsistency(), ChainGold())
    same = {k: v for m in metrics for k, v in m.compute(gold, own, None).items()}
    shuf = {k: v for m in metrics for k, v in m.compute(gold, other, None).items()}
    assert same["bleu4_sentence"] == pytest.approx(100.0) and same["bleu4"] == pytest.approx(100.0)
    assert same["rouge_l"] == pytest.approx(1.0) and same["chain_consistency"] == 1.0
    assert same["meteor"] == pytest.approx(1.0, abs=1e-4)  # one chunk: the penalty is 0.5 / matches^3
    # 21 of the 1,037 released test chains name a label other than gold (the teacher set is not fully corrected)
    assert same["chain_gold"] == pytest.approx(1016 / 1037)
    assert shuf["bleu4_sentence"] < 40 and shuf["bleu4"] < 40 and shuf["rouge_l"] < 0.6 and shuf["meteor"] < 0.6
    assert shuf["chain_consistency"] < 0.7


def test_model_metrics_on_released_subset(released: list[dict]) -> None:
    refs = [x["cot"] for x in released[:MODEL_SUBSET]]
    shuffled = refs[1:] + refs[:1]  # every hypothesis is another item's chain
    hyps, both = refs + shuffled, refs + refs  # one model pass scores both halves
    bert = BertScore()._score(hyps, both)
    cos = MiniLMCosine().pair_scores(hyps, both, None)
    n = MODEL_SUBSET
    assert sum(r[2] for r in bert[:n]) / n == pytest.approx(1.0, abs=1e-4)
    assert sum(cos[:n]) / n == pytest.approx(1.0, abs=1e-4)
    assert sum(r[2] for r in bert[n:]) / n < 0.9
    assert sum(cos[n:]) / n < 0.85
