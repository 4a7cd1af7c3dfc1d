"""Run the pretrained-feature baselines on the full Twitter-2015 test set through the real CLI, three times.

Usage: nice -n 10 python benchmarks/features_twitter2015.py [--data-root DIR] [--work DIR] [--threads N]

1. ``cold``: empty feature cache and empty result cache: every image and text is encoded, every model trained;
2. ``features-cached``: a fresh result cache (so the three models are trained and predict again) but the
   feature cache of run 1, so nothing is encoded;
3. ``all-cached``: run 2 repeated: nothing is trained or predicted.

The feature cache is the mulcot-bench cache (``MULCOT_BENCH_CACHE``), where the encoders keep their features;
``--cache-dir`` is the result cache. Prints accuracy and macro-F1 (x100) of each model, its chosen C, dev
accuracy, fit time, what the image encoder did, and the wall and CPU time of each run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = ["minilm-lr", "effnet-lr", "minilm-effnet-lr"]
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def run(work: Path, data_root: Path, run_id: str, results_cache: Path, feature_cache: Path,
        threads: int | None) -> tuple[dict, float, float]:
    """One ``mulcot-bench run``; its results, wall seconds and CPU seconds (user + system, children)."""
    cmd = [sys.executable, "-m", "mulcot_bench.cli", "run", "--data-root", str(data_root), "-d", "twitter2015",
           *[arg for m in MODELS for arg in ("-m", m)], "--runs-dir", str(work / "runs"),
           "--reports-dir", str(work / "reports"), "--cache-dir", str(results_cache), "--run-id", run_id]
    env = {**os.environ, "MULCOT_BENCH_CACHE": str(feature_cache), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"run {run_id} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    results = json.loads((work / "runs" / run_id / "results.json").read_text(encoding="utf-8"))
    return results, wall, cpu


def table(results: dict) -> list[str]:
    head = f"  {'model':<18} {'accuracy':>8} {'macro-F1':>8} {'C':>6} {'dev acc':>7} {'fit s':>6} {'cached':>6}"
    lines = [head + "  images"]
    for e in results["entries"]:
        if e["model"] not in MODELS or e["dataset"] != "twitter2015":
            continue
        s, st = e["scores"], e.get("stage") or {}
        images = st.get("images_train_dev")
        img = (f"encoded {images['encoded']}, cache hits {images['cache_hits']}, no image {images['no_image']}, "
               f"undecodable {images['undecodable']}") if images else "-"
        dev = st.get("dev_accuracy")
        lines.append(f"  {e['model']:<18} {100 * s['accuracy']:8.1f} {100 * s['macro_f1']:8.1f} {st.get('C', '-'):>6} "
                     f"{'-' if dev is None else f'{100 * dev:.1f}':>7} {st.get('wall_seconds', '-'):>6} "
                     f"{str(e['cached']):>6}  {img}")
    for f in results.get("failures", []):
        lines.append(f"  FAILURE {f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=None, help="folder for runs and caches (default: a temp dir)")
    parser.add_argument("--threads", type=int, default=None, help="OMP/MKL threads for the runs (default: torch's)")
    args = parser.parse_args()
    if not (args.data_root / "twitter2015").is_dir():
        sys.exit(f"no twitter2015 folder under {args.data_root}; pass --data-root")
    work = args.work or Path(tempfile.mkdtemp(prefix="features-twitter2015-"))
    work.mkdir(parents=True, exist_ok=True)
    features = work / "feature-cache"
    plan = [("cold", work / "results-1"), ("features-cached", work / "results-2"), ("all-cached", work / "results-2")]
    print(f"work folder {work}; load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    for run_id, results_cache in plan:
        results, wall, cpu = run(work, args.data_root, run_id, results_cache, features, args.threads)
        print(f"\n{run_id}: wall {wall:.1f} s, CPU {cpu:.1f} s, load average after {os.getloadavg()[0]:.2f}")
        print("\n".join(table(results)), flush=True)


if __name__ == "__main__":
    main()
