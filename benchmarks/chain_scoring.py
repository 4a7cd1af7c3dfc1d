"""Time the scoring of a run's chain writers on one dataset, in one process and as the jobs of a fanned-out run.

Usage: python benchmarks/chain_scoring.py --run-dir RUN [--dataset twitter2015] [--modes one,jobs,jobs-no-store]
       [--limit N]

Reads ``RUN/predictions/<dataset>/*.jsonl`` and keeps the files that carry chains (the chain writers: on
Twitter-2015 the released teacher's replay, enc-assistant, enc-student and enc-student-nokd). Each mode starts from
an empty cache of its own (a temporary folder), so every pair is scored and every text embedded:

- ``one``: every writer in this process, as ``run``'s scoring step does it with ``--jobs 1`` (the chains primed
  together, then each writer's scores, per-sample values and bootstrap intervals), on the process's threads;
- ``jobs``: each writer in a process of its own, one thread, one after another, over one shared cache (its
  embedding store included), as the jobs of ``run --jobs`` score their own models; the first process embeds the
  references and the others read them;
- ``jobs-no-store``: the same, each process with a cache of its own (no embedding store shared: every process
  embeds the references again, as before the store).

Every figure is printed with the 1-minute load average beside it; each mode's scores must equal the first mode's
within 1e-6 (BERTScore and the MiniLM cosine are float32: batches differ between modes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed_common import load_line  # noqa: E402

TOLERANCE = 1e-6


def chain_files(run_dir: Path, dataset: str) -> list[Path]:
    """The dataset's predictions files that carry chains, the released teacher's first."""
    found = []
    for path in sorted((run_dir / "predictions" / dataset).glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            if json.loads(fh.readline()).get("rationale"):
                found.append(path)
    return sorted(found, key=lambda p: (p.stem != "replay", p.stem))


def read_records(path: Path, limit: int | None) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit] if limit else rows


def score_files(paths: list[Path], cache_dir: Path, limit: int | None) -> dict[str, dict[str, float | None]]:
    """Each file's scores, the chains primed together and every per-sample value and interval computed, as the
    runner's scoring step does."""
    from mulcot_bench.cache import Cache
    from mulcot_bench.plugin.registry import build_registry
    from mulcot_bench.scoring.scorer import Scorer, as_pairs

    scorer = Scorer(build_registry(), Cache(cache_dir))
    read = {p.stem: as_pairs(read_records(p, limit)) for p in paths}
    gold = next(iter(read.values()))[0]
    scorer.prime(gold, [preds for _, preds in read.values()])
    out = {}
    for name, (gold, preds) in read.items():
        out[name] = scorer.score(gold, preds)
        scorer.intervals(scorer.sample_scores(gold, preds))
    return out


def one_process(paths: list[Path], limit: int | None) -> tuple[dict[str, Any], float]:
    with tempfile.TemporaryDirectory(prefix="chain-scoring-") as tmp:
        start = time.perf_counter()
        scores = score_files(paths, Path(tmp), limit)
        return scores, time.perf_counter() - start


def as_jobs(paths: list[Path], limit: int | None, shared: bool) -> tuple[dict[str, Any], list[float]]:
    """Each file scored by a one-thread subprocess, one after another; one cache for all if ``shared``."""
    scores: dict[str, Any] = {}
    walls: list[float] = []
    env = {**os.environ, **dict.fromkeys(("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"), "1")}
    with tempfile.TemporaryDirectory(prefix="chain-scoring-jobs-") as tmp:
        for i, path in enumerate(paths):
            cache = Path(tmp) / ("cache" if shared else f"cache-{i}")
            cmd = [sys.executable, __file__, "--one", str(path), "--cache", str(cache)]
            if limit:
                cmd += ["--limit", str(limit)]
            start = time.perf_counter()
            done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
            walls.append(time.perf_counter() - start)
            scores.update(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"    {path.stem}: {walls[-1]:.1f} s ({load_line()})", flush=True)
    return scores, walls


def largest_difference(a: dict[str, Any], b: dict[str, Any]) -> float:
    diffs = [
        abs(x - b[model][k])
        for model, row in a.items()
        for k, x in row.items()
        if x is not None and b[model][k] is not None
    ]
    return max(diffs, default=0.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path)
    parser.add_argument("--dataset", default="twitter2015")
    parser.add_argument("--modes", default="one,jobs,jobs-no-store")
    parser.add_argument("--limit", type=int, default=None, help="score the first N test items of each file")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # a subprocess of the jobs modes
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(score_files([args.one], args.cache, args.limit)))
        return 0
    if args.run_dir is None:
        parser.error("--run-dir is required: the folder of a run whose predictions/<dataset>/ holds chain writers")
    paths = chain_files(args.run_dir, args.dataset)
    if not paths:
        print(f"{args.run_dir}/predictions/{args.dataset}: no predictions file with chains", file=sys.stderr)
        return 2
    items = len(read_records(paths[0], args.limit))
    print(f"{args.dataset}: {len(paths)} chain writer(s) ({', '.join(p.stem for p in paths)}), {items} test items each")
    first: dict[str, Any] | None = None
    for mode in args.modes.split(","):
        print(f"{mode}: start ({load_line()})", flush=True)
        if mode == "one":
            scores, wall = one_process(paths, args.limit)
            print(f"{mode}: {wall:.1f} s wall, one process ({load_line()})", flush=True)
        else:
            scores, walls = as_jobs(paths, args.limit, shared=mode == "jobs")
            print(
                f"{mode}: {sum(walls):.1f} s summed over {len(walls)} one-thread processes ({load_line()})", flush=True
            )
        if first is None:
            first = scores
        else:
            diff = largest_difference(first, scores)
            print(f"{mode}: largest score difference from the first mode {diff:.2e}", flush=True)
            if diff > TOLERANCE:
                print(f"{mode}: scores differ by more than {TOLERANCE}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
