"""The fast scoring paths give the values of the slow ones: the ``rouge`` package stays the oracle of ROUGE-L."""

from __future__ import annotations

import json
import random

import pytest
from test_metrics_depth import TEST_JSON
from test_reference_metrics import rouge_direct

from mulcot_bench.metrics import reference_variants as rv
from mulcot_bench.metrics import rouge_summary_lcs as fast


def _built_pairs() -> list[tuple[str, str]]:
    """Edge cases and random texts over a small vocabulary (many equal words: many LCS ties)."""
    edge = [
        ("", "a reference."),
        ("a hypothesis.", ""),
        ("   \n\t", "a b c"),
        ("...", "a b c."),
        ("a b c.", "."),
        (". . .", ". . ."),
        (". .", "a . b"),
        ("!!! ??? ,,,", "!!! , ???"),
        ("the the the the.", "the cat the hat the."),
        ("a b a b a b a b", "b a b a b a b a"),
        ("First sentence. Second one here.", "Second one here. First sentence."),
        ("One. Two. Three. Four. Five.", "Five. Four. Three. Two. One."),
        ("Ünïcödé wörds ✓ 😀. 中文 文字.", "中文 wörds 😀 ✓. Ünïcödé."),
        ("tabs\tand\nnewlines  and   spaces.", "tabs and newlines. and spaces"),
        ("The Cat sat.", "the cat sat."),
        ("x", "x"),
        ("x.", "x"),
        ("word. . word", "word word"),
        ("a" + " a" * 150 + ".", "a" + " a" * 120),
    ]
    rng = random.Random(7)
    vocab = ["a", "b", "c", "the", "cat", "sat", "é", "", "."]
    built = []
    for _ in range(240):
        texts = []
        for _side in range(2):
            words = rng.choices(vocab, k=rng.randint(0, 60))
            texts.append(rng.choice([" ", "  ", " . "]).join(words) if words else rng.choice(["", ".", " "]))
        built.append((texts[0], texts[1]))
    return edge + built


def test_fast_rouge_l_equals_the_package_on_built_pairs() -> None:
    pairs = _built_pairs()
    hyps, refs = [h for h, _ in pairs], [r for _, r in pairs]
    assert rv.rouge_l_scores(hyps, refs) == rouge_direct(hyps, refs)  # exact: same floats, bit for bit


def test_fast_rouge_l_equals_the_package_on_released_chains() -> None:
    if not TEST_JSON.is_file():
        pytest.skip(f"released Twitter-2015 test rationales not found at {TEST_JSON}")
    chains = [x["cot"] for x in json.loads(TEST_JSON.read_text(encoding="utf-8"))][:300]
    rng = random.Random(3)
    shuffled = rng.sample(chains, len(chains))
    # another item's chain, the chain itself, and one cut short at a sentence end
    hyps = shuffled[:200] + chains[200:250] + [c[: c.find(".", len(c) // 2) + 1] for c in chains[250:300]]
    refs = chains[:300]
    assert rv.rouge_l_scores(hyps, refs) == rouge_direct(hyps, refs)


def test_lcs_words_follow_the_package_tie_breaks() -> None:
    from rouge.rouge_score import _recon_lcs

    rng = random.Random(11)
    for _ in range(300):
        x = rng.choices("abcab", k=rng.randint(1, 30))
        y = rng.choices("abcca", k=rng.randint(1, 30))
        masks: dict[str, int] = {}
        for i, w in enumerate(x):
            masks[w] = masks.get(w, 0) | (1 << i)
        assert set(fast.lcs_words(x, masks, y)) == _recon_lcs(x, y)._ngrams


def test_a_very_long_sentence_goes_to_therouge_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sentence pair of DEEP_PAIR words or more may pass the package's recursion limit: the package decides."""
    long_hyp = " ".join(["w"] * 700)
    long_ref = " ".join(["v", "w"] * 350)
    called: list[tuple[str, str]] = []
    real = fast.package_rouge_l_f

    def counting(hyp: str, ref: str) -> float:
        called.append((hyp, ref))
        return real(hyp, ref)

    monkeypatch.setattr(fast, "package_rouge_l_f", counting)
    hyps, refs = [long_hyp, "short one."], [long_ref, "short two."]
    assert rv.rouge_l_scores(hyps, refs) == rouge_direct(hyps, refs)
    assert called == [(long_hyp, long_ref)]


def test_another_rouge_version_is_called_pair_by_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast, "reproduces_installed", lambda: False)
    hyps, refs = ["First sentence. Second one.", "..."], ["Second one. First.", "a"]
    assert rv.rouge_l_scores(hyps, refs) == rouge_direct(hyps, refs)


# --- one MiniLM pass for BERTScore and the MiniLM cosine -------------------------------------------------------


def test_shared_pass_gives_the_two_libraries_values_and_embeds_each_text_once() -> None:
    """BERTScore and the MiniLM cosine from one pass equal bert-score's and sentence-transformers' own calls to
    1e-6, on real chains (most over 256 word pieces), an empty hypothesis and short texts."""
    import bert_score
    from scipy.spatial.distance import cosine
    from sentence_transformers import SentenceTransformer

    from mulcot_bench.metrics import minilm_pass
    from mulcot_bench.metrics.embedding import MiniLMCosine
    from mulcot_bench.metrics.reasoning import BertScore, minilm_path

    if not TEST_JSON.is_file():
        pytest.skip(f"released Twitter-2015 test rationales not found at {TEST_JSON}")
    chains = [x["cot"] for x in json.loads(TEST_JSON.read_text(encoding="utf-8"))][:24]
    hyps = chains[12:24] + ["", "A cheerful crowd is shown.", "short. " * 10]
    refs = chains[:12] + ["The image shows a happy crowd.", "x", chains[0]]
    minilm_pass.forget_passes()
    bert = BertScore()._score(hyps, refs)
    cos = MiniLMCosine()._score(hyps, refs)
    shared = minilm_pass.shared_pass(minilm_path())
    tokenizer = shared.bert_tokenizer()
    sent = {t for t in set(hyps) | set(refs) if t.strip()}  # what BERTScore sends (an empty hypothesis scores 0)
    long = {t for t in sent if len(bert_score.utils.sent_encode(tokenizer, t)) > 256}
    assert 0 < len(long) < len(set(hyps) | set(refs))
    assert shared.encoded == len(set(hyps) | set(refs))  # each text once through sentence-transformers
    assert shared.bert_encoded == len(long)  # and through bert-score's model only where the word pieces differ

    keep = [i for i, h in enumerate(hyps) if h.strip()]
    p, r, f = bert_score.score([hyps[i] for i in keep], [refs[i] for i in keep], model_type=minilm_path(), num_layers=6)
    direct = [[0.0, 0.0, 0.0] for _ in hyps]
    for i, a, b, c in zip(keep, p, r, f, strict=True):
        direct[i] = [float(a), float(b), float(c)]
    assert max(abs(x - y) for a, b in zip(bert, direct, strict=True) for x, y in zip(a, b, strict=True)) <= 1e-6
    st = SentenceTransformer(minilm_path(), device="cpu")
    st.max_seq_length = 256
    texts = sorted(set(hyps) | set(refs))
    emb = dict(zip(texts, st.encode(texts, batch_size=64, convert_to_numpy=True), strict=True))
    expected = [float(1 - cosine(emb[h], emb[r])) for h, r in zip(hyps, refs, strict=True)]
    assert max(abs(x - y) for x, y in zip(cos, expected, strict=True)) <= 1e-6


def test_bertscore_keeps_its_own_pass_short_of_the_last_layer_or_with_another_model() -> None:
    from mulcot_bench.metrics.reasoning import BertScore

    assert BertScore()._shared_pass() is not None or __import__("torch").cuda.is_available()
    assert BertScore(num_layers=5)._shared_pass() is None
    assert BertScore(model="/some/other/model")._shared_pass() is None


def test_sentence_embeddings_are_computed_once_and_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from mulcot_bench.metrics import minilm_pass

    class FakeModel:
        def __init__(self) -> None:
            self.seen: list[list[str]] = []

        def encode(self, texts: list[str], **_kwargs: object) -> np.ndarray:
            self.seen.append(list(texts))
            return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)

    monkeypatch.setattr(minilm_pass, "SENTENCE_MEMO", 3)
    shared = minilm_pass.MiniLMPass("unused", 256)
    fake = FakeModel()
    shared._model = fake
    first = shared.sentence_embeddings(["a", "bb", "a"])
    assert first.tolist() == [[1.0, 1.0], [2.0, 1.0], [1.0, 1.0]] and fake.seen == [["a", "bb"]]
    assert shared.sentence_embeddings(["bb", "a"]).tolist() == [[2.0, 1.0], [1.0, 1.0]] and len(fake.seen) == 1
    shared.sentence_embeddings(["ccc", "dddd"])  # four texts, room for three: the least recently used ("bb") goes
    assert fake.seen[-1] == ["ccc", "dddd"] and shared.encoded == 4
    shared.sentence_embeddings(["bb", "a"])
    assert fake.seen[-1] == ["bb"]


def test_references_are_embedded_once_across_processes_of_a_run(tmp_path) -> None:  # noqa: ANN001
    """A second pass over the same cache (another job of the run) reads the references' embeddings from the
    store: it embeds only its own chains, and every BERTScore and MiniLM cosine value is the same as the first's."""
    from mulcot_bench.cache import Cache
    from mulcot_bench.metrics import minilm_pass
    from mulcot_bench.metrics.embedding import MiniLMCosine
    from mulcot_bench.metrics.reasoning import BertScore

    if not TEST_JSON.is_file():
        pytest.skip(f"released Twitter-2015 test rationales not found at {TEST_JSON}")
    chains = [x["cot"] for x in json.loads(TEST_JSON.read_text(encoding="utf-8"))][:20]
    refs = chains[:8]
    first_hyps, second_hyps = chains[8:16], ["A short chain about the post."] * 4 + chains[16:20]

    def job(hyps: list[str], cache_dir: str) -> tuple[list, list, minilm_pass.MiniLMPass]:
        minilm_pass.forget_passes()  # a fresh process: no model, no memo
        cache = Cache(tmp_path / cache_dir) if cache_dir else None
        bert, cos = BertScore().pair_scores(hyps, refs, cache), MiniLMCosine().pair_scores(hyps, refs, cache)
        return bert, cos, minilm_pass.shared_pass(BertScore()._shared_pass().path)

    job(first_hyps, "run")
    bert, cos, shared = job(second_hyps, "run")
    assert shared.store is not None and shared.store.loaded == len(set(refs))
    assert shared.encoded == len(set(second_hyps) - set(refs))  # only this job's own chains went through MiniLM
    alone_bert, alone_cos, alone = job(second_hyps, "")  # no cache: no store, everything embedded here
    assert alone.store is None and alone.encoded == len(set(second_hyps) | set(refs))
    assert max(abs(x - y) for a, b in zip(bert, alone_bert, strict=True) for x, y in zip(a, b, strict=True)) <= 1e-6
    assert max(abs(x - y) for x, y in zip(cos, alone_cos, strict=True)) <= 1e-6
    stored = list((tmp_path / "run" / "embeddings").rglob("*.npz"))
    assert len(stored) == 1  # the first job's references, one file; the second wrote nothing new


def test_the_store_lock_makes_a_second_writer_wait(tmp_path) -> None:  # noqa: ANN001
    """Two stores on one folder (two jobs): while one holds the lock, the other waits for it, then reads what the
    first wrote instead of embedding it again."""
    import threading
    import time

    import numpy as np

    from mulcot_bench.metrics.embedding_store import EmbeddingStore

    first, second = EmbeddingStore(tmp_path), EmbeddingStore(tmp_path)
    order: list[str] = []

    def other_job() -> None:
        with second.locked():
            order.append("second locked")
            order.append(f"found {len(second.load(['a reference']))}")

    with first.locked():
        waiting = threading.Thread(target=other_job)
        waiting.start()
        time.sleep(0.3)
        order.append("first writes")
        first.save({"a reference": (np.ones((3, 4), dtype=np.float32), np.ones(4, dtype=np.float32))})
    waiting.join(5)
    assert order == ["first writes", "second locked", "found 1"]
