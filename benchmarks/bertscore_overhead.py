"""Time mulcot-bench's BERTScore path against a direct ``bert_score.score`` call on the same pairs.

Usage: python benchmarks/bertscore_overhead.py [--pairs 1000] [--data FILE]
Pairs come from the released Twitter-2015 test chains (read in place) when present, else synthetic text;
every hypothesis is unique. Our path starts from an empty cache, so it scores every pair (and stores it).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "twitter2015" / "teacher_cot" / "test.json"


def pairs(n: int, data: Path) -> tuple[list[str], list[str], str]:
    """``n`` (hypothesis, reference) pairs with unique hypotheses, and where they came from."""
    if data.is_file():
        chains = [x["cot"] for x in json.loads(data.read_text(encoding="utf-8"))]
        source = f"{data} ({len(chains)} chains)"
    else:
        rng = random.Random(0)
        words = ["text", "image", "shows", "a", "happy", "sad", "crowd", "target", "sentiment", "neutral", "the"]
        chains = [" ".join(rng.choices(words, k=rng.randint(40, 160))) for _ in range(n)]
        source = "synthetic text"
    refs = [chains[i % len(chains)] for i in range(n)]
    hyps = [f"{chains[(i * 7 + 3) % len(chains)]} (variant {i})" for i in range(n)]
    return hyps, refs, source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    hyps, refs, source = pairs(args.pairs, args.data)

    import bert_score

    from mulcot_bench.cache import Cache
    from mulcot_bench.metrics.reasoning import BertScore, minilm_path
    from mulcot_bench.types import Prediction, Sample

    gold = [Sample(id=str(i), text="", label="neutral", rationale=r) for i, r in enumerate(refs)]
    preds = [Prediction(label="neutral", rationale=h) for h in hyps]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        ours = BertScore().compute(gold, preds, Cache(Path(tmp)))
        t_ours = time.perf_counter() - start
    start = time.perf_counter()
    _, _, f1 = bert_score.score(hyps, refs, model_type=minilm_path(), num_layers=6, batch_size=64)
    t_direct = time.perf_counter() - start
    print(f"pairs: {len(hyps)} from {source}; model all-MiniLM-L6-v2 layer 6, no idf, not rescaled")
    print(f"mulcot-bench BertScore.compute (empty cache, incl. model load and cache writes): {t_ours:.2f} s")
    print(f"bert_score.score direct (incl. model load): {t_direct:.2f} s")
    print(f"ratio ours / direct: {t_ours / t_direct:.3f}")
    print(f"F1 ours {ours['bertscore_f1']:.6f} vs direct {float(f1.mean()):.6f}")


if __name__ == "__main__":
    main()
