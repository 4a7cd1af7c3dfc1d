"""Time the fast scoring paths against their baselines on real Twitter-2015 chains, and check they agree.

Usage: python benchmarks/scoring_speed.py [--limit N] [--data-root DIR] [--only rouge|embeddings] [--profile]

Pairs: the Twitter-2015 test reference chains as references, the dev reference chains (seeded shuffle) as
hypotheses: distinct texts of the length a chain-writing model writes, so no trained model is needed. ``--limit N``
scores the first N pairs. Every figure is printed with the 1-minute load average beside it and with the CPU
seconds the process used (on a shared machine the wall time follows the load; the CPU time much less), and each
speed-up as a ratio of both. ``--profile`` prints the top functions of each side (cProfile, by own time).

- ROUGE-L (``rouge_l_ref``): ``rouge.Rouge().get_scores`` pair by pair (what the metric called before) against
  :func:`mulcot_bench.metrics.reference_variants.rouge_l_scores`; the values must be equal, bit for bit.
- BERTScore + MiniLM cosine: two passes (``bert_score.BERTScorer(...).score`` and ``SentenceTransformer.encode``,
  each loading its model: what the two metrics called before) against the metrics' shared pass
  (:mod:`mulcot_bench.metrics.minilm_pass`); every value must agree to 1e-6.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed_common import default_data_root, load_line, missing_twitter  # noqa: E402

TOLERANCE = 1e-6  # float32 rounding: the shared pass batches texts differently
PROFILE_LINES = 8


@dataclass
class Timed:
    """One timed call: its result, wall and CPU seconds, the load line after it, and its profile if asked for."""

    out: Any
    wall: float
    cpu: float
    load: str
    profile: str = ""

    def line(self) -> str:
        return f"{self.wall:.2f} s wall, {self.cpu:.2f} s CPU ({self.load})"


def timed(fn: Callable[[], Any], profile: bool) -> Timed:
    """``fn()`` timed (wall and process CPU seconds), under cProfile when ``profile``."""
    prof = cProfile.Profile() if profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if prof is not None:
        prof.enable()
    out = fn()
    if prof is not None:
        prof.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    text = ""
    if prof is not None:
        buffer = io.StringIO()
        pstats.Stats(prof, stream=buffer).sort_stats("tottime").print_stats(PROFILE_LINES)
        text = buffer.getvalue()
    return Timed(out, wall, cpu, load_line(), text)


def report(name: str, slow: Timed, fast: Timed) -> None:
    """Both profiles (if taken) and the speed-up as wall and CPU ratios."""
    for side, t in (("baseline", slow), ("fast", fast)):
        if t.profile:
            print(f"--- {name}, {side}: top {PROFILE_LINES} functions by own time")
            print("\n".join(line for line in t.profile.splitlines() if line.strip() and "Ordered by" not in line))
    print(f"{name} speed-up: {slow.wall / fast.wall:.2f}x wall, {slow.cpu / fast.cpu:.2f}x CPU")


def chain_pairs(root: Path, limit: int | None) -> tuple[list[str], list[str]]:
    """(hypotheses, references): dev chains, shuffled with seed 0, against the test chains, first ``limit``."""
    from mulcot_bench.data.loaders import load_twitter

    data = load_twitter(root / "twitter2015", "twitter2015")
    refs = [s.rationale for s in data.split("test") if s.rationale]
    dev = [s.rationale for s in data.split("dev") if s.rationale]
    random.Random(0).shuffle(dev)
    n = min(len(refs), len(dev), limit or len(refs))
    return dev[:n], refs[:n]


def rouge_package(hyps: list[str], refs: list[str]) -> list[float]:
    """The former ``rouge_l_scores``: the package pair by pair, 0 for an empty side or a pair it raises on."""
    from rouge import Rouge

    rouge = Rouge()
    out = []
    for h, r in zip(hyps, refs, strict=True):
        if not h.strip() or not r.strip():
            out.append(0.0)
            continue
        try:
            out.append(float(rouge.get_scores(h, r)[0]["rouge-l"]["f"]))
        except (ValueError, RecursionError):
            out.append(0.0)
    return out


def bench_rouge(hyps: list[str], refs: list[str], profile: bool) -> None:
    from mulcot_bench.metrics.reference_variants import rouge_l_scores

    slow = timed(lambda: rouge_package(hyps, refs), profile)
    print(f"ROUGE-L, rouge package pair by pair: {slow.line()}", flush=True)
    fast = timed(lambda: rouge_l_scores(hyps, refs), profile)
    print(f"ROUGE-L, fast (rouge_l_scores):      {fast.line()}")
    assert fast.out == slow.out, "fast ROUGE-L differs from the rouge package"
    report("ROUGE-L", slow, fast)
    print(f"ROUGE-L: {len(fast.out)} values identical to the package; mean {sum(fast.out) / len(fast.out):.6f}")


def two_passes(hyps: list[str], refs: list[str]) -> tuple[list[list[float]], list[float]]:
    """The former BertScore and MiniLMCosine calls: bert-score and sentence-transformers, each its own pass."""
    import bert_score
    from scipy.spatial.distance import cosine
    from sentence_transformers import SentenceTransformer

    from mulcot_bench.metrics.minilm_pass import MAX_LENGTH
    from mulcot_bench.metrics.reasoning import minilm_path

    keep = [i for i, h in enumerate(hyps) if h.strip()]
    scorer = bert_score.BERTScorer(model_type=minilm_path(), num_layers=6, batch_size=64)
    p, r, f = scorer.score([hyps[i] for i in keep], [refs[i] for i in keep])
    bert = [[0.0, 0.0, 0.0] for _ in hyps]
    for i, a, b, c in zip(keep, p, r, f, strict=True):
        bert[i] = [float(a), float(b), float(c)]
    st = SentenceTransformer(minilm_path(), device="cpu")
    st.max_seq_length = MAX_LENGTH
    texts = sorted(set(hyps) | set(refs))
    at = {t: i for i, t in enumerate(texts)}
    emb = st.encode(texts, batch_size=64, convert_to_numpy=True, show_progress_bar=False)
    return bert, [float(1 - cosine(emb[at[h]], emb[at[r]])) for h, r in zip(hyps, refs, strict=True)]


def shared_pass(hyps: list[str], refs: list[str]) -> tuple[list[list[float]], list[float], tuple[int, int]]:
    """The metrics as they run now (a fresh pass: the models load inside the timing), and how many texts went
    through the sentence-transformers model and through bert-score's."""
    from mulcot_bench.metrics import minilm_pass
    from mulcot_bench.metrics.embedding import MiniLMCosine
    from mulcot_bench.metrics.reasoning import BertScore, minilm_path

    minilm_pass.forget_passes()
    bert = BertScore()._score(hyps, refs)
    cosine = MiniLMCosine()._score(hyps, refs)
    shared = minilm_pass.shared_pass(minilm_path())
    return bert, cosine, (shared.encoded, shared.bert_encoded)


def bench_embeddings(hyps: list[str], refs: list[str], profile: bool) -> None:
    import bert_score  # noqa: F401  (imported before the timings, so neither side pays for it)
    import scipy.spatial.distance  # noqa: F401
    import sentence_transformers  # noqa: F401

    import mulcot_bench.metrics.embedding  # noqa: F401

    two = timed(lambda: two_passes(hyps, refs), profile)
    print(f"BERTScore + MiniLM cosine, two passes (bert-score, sentence-transformers): {two.line()}", flush=True)
    one = timed(lambda: shared_pass(hyps, refs), profile)
    (bert_a, cos_a), (bert_b, cos_b, (encoded, bert_encoded)) = two.out, one.out
    texts = len(set(hyps) | set(refs))
    print(f"BERTScore + MiniLM cosine, shared pass: {one.line()}; of {texts} distinct texts, {encoded} through"
          f" sentence-transformers, {bert_encoded} (over 256 word pieces) through bert-score's too")  # fmt: skip
    report("shared pass", two, one)
    diff_bert = max(abs(x - y) for a, b in zip(bert_a, bert_b, strict=True) for x, y in zip(a, b, strict=True))
    diff_cos = max(abs(x - y) for x, y in zip(cos_a, cos_b, strict=True))
    print(f"max abs diff BERTScore P/R/F1 {diff_bert:.2g}, MiniLM cosine {diff_cos:.2g} (tolerance {TOLERANCE:g})")
    mean = [sum(row[j] for row in bert_b) / len(bert_b) for j in range(3)] + [sum(cos_b) / len(cos_b)]
    print("means P/R/F1/cosine: " + " / ".join(f"{m:.6f}" for m in mean))
    assert diff_bert <= TOLERANCE and diff_cos <= TOLERANCE, "the shared pass differs from the two passes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="score the first N pairs (default: all 1,037)")
    parser.add_argument("--data-root", type=Path, default=default_data_root())
    parser.add_argument("--only", choices=("rouge", "embeddings"), default=None)
    parser.add_argument("--profile", action="store_true", help="print each side's top functions (cProfile)")
    args = parser.parse_args()
    if missing_twitter(args.data_root):
        sys.exit(2)
    hyps, refs = chain_pairs(args.data_root, args.limit)
    print(f"pairs: {len(hyps)} (Twitter-2015 dev chains against test chains); {load_line()}")
    if args.only in (None, "rouge"):
        bench_rouge(hyps, refs, args.profile)
    if args.only in (None, "embeddings"):
        bench_embeddings(hyps, refs, args.profile)


if __name__ == "__main__":
    main()
