"""The MulCoT-RD release's metric variants against the libraries it calls, computed directly."""

from __future__ import annotations

import json
import math

import pytest
from test_metrics_depth import BLEU_CASES, TEST_JSON, _samples

from mulcot_bench.metrics import reference_variants as rv
from mulcot_bench.metrics import wordnet
from mulcot_bench.metrics.meteor import Meteor
from mulcot_bench.metrics.overlap import Distinct, RougeL
from mulcot_bench.types import Prediction


def rouge_direct(hyps: list[str], refs: list[str]) -> list[float]:
    """The release's loop: ``Rouge().get_scores`` per pair, 0 for an empty side or a pair the package refuses
    (the oracle of the fast ROUGE-L: the package itself, pair by pair)."""
    from rouge import Rouge

    out = []
    for h, r in zip(hyps, refs, strict=True):
        if not h.strip() or not r.strip():
            out.append(0.0)
            continue
        try:
            out.append(Rouge().get_scores(h, r)[0]["rouge-l"]["f"])
        except (ValueError, RecursionError):
            out.append(0.0)
    return out


def _meteor_direct(hyps: list[str], refs: list[str]) -> list[float]:
    """The release's loop: Treebank tokens of lowercased text, ``meteor_score`` with NLTK's default WordNet."""
    from nltk.tokenize import TreebankWordTokenizer
    from nltk.translate.meteor_score import meteor_score

    tok = TreebankWordTokenizer()
    return [meteor_score([tok.tokenize(r.lower())], tok.tokenize(h.lower())) for h, r in zip(hyps, refs, strict=True)]


def _needs_wordnet() -> None:
    if wordnet.wordnet() is None:
        pytest.skip(f"WordNet 3.0 is not installed ({wordnet.INSTALL_HINT})")


# --- small cases --------------------------------------------------------------------------------------------


def test_reference_bleu_is_order_four_without_smoothing() -> None:
    import sacrebleu

    hyps, refs = [h for h, _ in BLEU_CASES], [r for _, r in BLEU_CASES]
    preds = [Prediction(label="neutral", rationale=h) for h in hyps]
    values = rv.ReferenceSentenceBleu().per_sample(_samples(refs), preds, None).values["bleu4_sentence_ref"]
    expected = [sacrebleu.sentence_bleu(h, [r], smooth_method="none", use_effective_order=False).score
                for h, r in BLEU_CASES]  # fmt: skip
    assert values == pytest.approx(expected, abs=1e-9)
    assert values[0] == 0.0 and values[1] == 0.0 and values[2] == 0.0  # empty, 2 and 3 tokens: 0 (ours: > 0)
    # "the cat sat on a mat" vs "the cat sat on the mat": 5/6, 3/5, 2/4, 1/3 n-gram precisions, no brevity penalty
    assert values[4] == pytest.approx(100 * math.exp(sum(map(math.log, (5 / 6, 3 / 5, 2 / 4, 1 / 3))) / 4))
    assert values[5] == pytest.approx(100.0)
    signature = rv.ReferenceSentenceBleu().signature()
    assert "eff:no" in signature and "smooth:none" in signature and "tok:13a" in signature


def test_reference_rouge_is_the_rouge_package() -> None:
    hyps = [h for h, _ in BLEU_CASES] + ["First sentence. Second one here.", "...", "The Cat"]
    refs = [r for _, r in BLEU_CASES] + ["Second one here. First sentence.", "a b", "the cat"]
    ours = rv.rouge_l_scores(hyps, refs)
    assert ours == pytest.approx(rouge_direct(hyps, refs), abs=1e-12)
    assert ours[-1] == pytest.approx(0.0, abs=1e-6)  # case kept: "The Cat" vs "the cat" share nothing
    assert ours[-3] > RougeL().pair_scores(hyps[-3:-2], refs[-3:-2], None)[0]  # summary level: sentence order free
    assert "rouge-l" in rv.ReferenceRougeL().signature() and "beta=P/R" in rv.ReferenceRougeL().signature()


def test_reference_meteor_uses_wordnet_synonyms() -> None:
    _needs_wordnet()
    hyps = ["The car is red", "", "Dogs barking loudly", "the cat is happy"]
    refs = ["the auto is red", "x", "a dog barks", "the cat is glad"]
    ours = rv.meteor_scores(hyps, refs)
    assert ours == pytest.approx(_meteor_direct(hyps, refs), abs=1e-12)
    exact_stem = Meteor().compute(_samples(refs[:1]), [Prediction(label="neutral", rationale=hyps[0])], None)
    # car ~ auto: 4 matches in 1 chunk, 1 - 0.5 (1/4)^3; without synonyms 3 of 4 in 2 chunks
    assert ours[0] == pytest.approx(1 - 0.5 / 64, abs=1e-12) and exact_stem["meteor"] < 0.7
    assert ours[1] == 0.0
    # NLTK matches synonyms of the Porter stems left after its stem stage: happy -> "happi" has no synset, so
    # happy ~ glad does not align (as in the release): 3 of 4 in 1 chunk
    assert ours[3] == pytest.approx(0.75 * (1 - 0.5 / 27), abs=1e-12)
    assert "synonyms:wordnet-3.0" in rv.ReferenceMeteor().signature()


def test_reference_meteor_says_synonyms_none_without_wordnet(monkeypatch: pytest.MonkeyPatch) -> None:
    from nltk.translate.meteor_score import meteor_score

    from mulcot_bench.metrics.meteor import NoSynonyms

    monkeypatch.setattr(wordnet, "dict_folder", lambda: None)  # no OS install and no NLTK corpus
    monkeypatch.setattr(wordnet, "_nltk_has_wordnet", lambda: False)
    wordnet.wordnet.cache_clear()
    try:
        assert wordnet.wordnet() is None
        assert "synonyms:none" in rv.ReferenceMeteor().signature()
        value = rv.meteor_scores(["the car is red"], ["the auto is red"])[0]
    finally:
        wordnet.wordnet.cache_clear()
    assert value == pytest.approx(meteor_score([["the", "auto", "is", "red"]], ["the", "car", "is", "red"],
                                                wordnet=NoSynonyms()), abs=1e-12)  # fmt: skip
    assert value < 0.7


def test_lexnames_from_the_manual_page() -> None:
    folder = wordnet.dict_folder()
    if folder is None or not wordnet.LEXNAMES_MAN.is_file():
        pytest.skip(f"Debian WordNet files not installed ({wordnet.INSTALL_HINT})")
    rows = [line.split("\t") for line in (wordnet.lexnames_text(folder) or "").splitlines()]
    assert len(rows) == 45 and rows[0] == ["00", "adj.all", "3"] and rows[3] == ["03", "noun.Tops", "1"]
    assert rows[29] == ["29", "verb.body", "2"] and rows[44] == ["44", "adj.ppl", "3"]


def test_reference_distinct_is_a_per_text_mean_of_generations() -> None:
    preds = [Prediction(label="neutral", rationale=t) for t in ("A b a", "a B", "x")]
    refs = ["the same words", "the same words", "the same words"]
    out = rv.ReferenceDistinct().compute(_samples(refs), preds, None)
    assert out["distinct_1_ref"] == pytest.approx((2 / 3 + 1 + 1) / 3)  # lowercased: "a b a" has 2 of 3
    assert out["distinct_2_ref"] == pytest.approx((1 + 1 + 0) / 3)  # "x" has no bigram: 0, as in the release
    ours = Distinct().compute(_samples(refs), preds, None)
    assert ours["distinct_1"] == pytest.approx(5 / 6)  # pooled, case kept: A, b, a, B, x of 6 tokens
    none = [Prediction(label="neutral")] * 3
    assert rv.ReferenceDistinct().compute(_samples(refs), none, None) == dict.fromkeys(
        ("distinct_1_ref", "distinct_2_ref")
    )


# --- the released Twitter-2015 test chains ------------------------------------------------------------------


@pytest.fixture(scope="module")
def chains() -> tuple[list[str], list[str]]:
    """(hypotheses, references): every released test chain against the next item's chain."""
    if not TEST_JSON.is_file():
        pytest.skip(f"released Twitter-2015 test rationales not found at {TEST_JSON}")
    refs = [x["cot"] for x in json.loads(TEST_JSON.read_text(encoding="utf-8"))]
    return refs[1:] + refs[:1], refs


def _per_sample(metric: object, output: str, hyps: list[str], refs: list[str]) -> list[float]:
    preds = [Prediction(label="neutral", rationale=h) for h in hyps]
    return metric.per_sample(_samples(refs), preds, None).values[output]  # type: ignore[attr-defined]


@pytest.mark.slow
def test_released_chains_rouge_equals_rouge_package(chains: tuple[list[str], list[str]]) -> None:
    hyps, refs = chains
    ours = _per_sample(rv.ReferenceRougeL(), "rouge_l_ref", hyps, refs)
    direct = rouge_direct(hyps, refs)
    assert len(ours) == len(direct) == 1037
    assert max(abs(a - b) for a, b in zip(ours, direct, strict=True)) <= 1e-9
    assert sum(ours) / len(ours) == pytest.approx(sum(direct) / len(direct), abs=1e-9)
    own = RougeL().pair_scores(hyps, refs, None)
    assert abs(sum(own) / len(own) - sum(ours) / len(ours)) > 1e-3  # a different figure from our 13a ROUGE-L


@pytest.mark.slow
def test_released_chains_meteor_equals_nltk_with_wordnet(chains: tuple[list[str], list[str]]) -> None:
    _needs_wordnet()
    hyps, refs = chains
    ours = _per_sample(rv.ReferenceMeteor(), "meteor_ref", hyps, refs)
    direct = _meteor_direct(hyps, refs)
    assert len(ours) == 1037
    assert max(abs(a - b) for a, b in zip(ours, direct, strict=True)) <= 1e-9
    assert sum(ours) / len(ours) == pytest.approx(sum(direct) / len(direct), abs=1e-9)


def test_released_chains_bleu_and_self_scores(chains: tuple[list[str], list[str]]) -> None:
    import sacrebleu

    hyps, refs = chains
    ours = _per_sample(rv.ReferenceSentenceBleu(), "bleu4_sentence_ref", hyps, refs)
    direct = [sacrebleu.sentence_bleu(h, [r], smooth_method="none", use_effective_order=False).score
              for h, r in zip(hyps, refs, strict=True)]  # fmt: skip
    assert max(abs(a - b) for a, b in zip(ours, direct, strict=True)) <= 1e-9
    same = _per_sample(rv.ReferenceSentenceBleu(), "bleu4_sentence_ref", refs[:50], refs[:50])
    assert same == pytest.approx([100.0] * 50)
