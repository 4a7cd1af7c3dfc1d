"""Run the enc- family (mulcot-encoder) next to minilm-lr and text-tfidf-lr on Twitter-2015 through the real CLI.

Usage: nice -n 10 python benchmarks/encoder_twitter2015.py [--data-root DIR] [--work DIR] [--protocol P]

The command it runs (``--protocol released-rationales`` by default; ``--protocol reference`` drops the flag)::

    mulcot-bench run -d twitter2015 -m enc-assistant -m enc-student -m enc-student-nokd -m minilm-lr \\
        -m text-tfidf-lr --data-root DIR --protocol released-rationales

``--work`` holds the run folders and a fresh result cache (``--cache-dir``), so every model trains and predicts;
the run keeps its encoder features under ``<cache-dir>/features``, which is linked to the features folder of
``MULCOT_BENCH_CACHE`` when that is set, so image grids and token states encoded once are reused. Prints each model's
scores (x100; BLEU-4 and BERTScore-F1 only where chains are written), its fit time, and the run's wall and CPU time.
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

MODELS = ["enc-assistant", "enc-student", "enc-student-nokd", "minilm-lr", "text-tfidf-lr"]
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
COLUMNS = [("accuracy", "acc"), ("macro_f1", "macro-F1"), ("weighted_f1", "w-F1"), ("bleu4", "BLEU-4"),
           ("bertscore_f1", "BERTSc-F1"), ("format_valid", "format"), ("chain_consistency", "consist.")]


def command(data_root: Path, work: Path, protocol: str, run_id: str) -> list[str]:
    cmd = [sys.executable, "-m", "mulcot_bench.cli", "run", "-d", "twitter2015",
           *[arg for m in MODELS for arg in ("-m", m)], "--data-root", str(data_root),
           "--runs-dir", str(work / "runs"), "--reports-dir", str(work / "reports"),
           "--cache-dir", str(work / f"results-{run_id}"), "--run-id", run_id]
    return cmd + (["--protocol", protocol] if protocol != "reference" else [])


def table(results: dict) -> list[str]:
    lines = [f"  {'model':<17}" + "".join(f"{title:>10}" for _, title in COLUMNS) + f"{'fit s':>8}{'chains':>8}"]
    for e in results["entries"]:
        if e["model"] not in MODELS or e["dataset"] != "twitter2015" or e.get("variant"):
            continue
        s, st = e["scores"], e.get("stage") or {}
        cells = "".join(f"{'-' if s.get(k) is None else f'{100 * s[k]:.1f}' if k != 'bleu4' else f'{s[k]:.1f}':>10}"
                        for k, _ in COLUMNS)
        fit = st.get("train_seconds", st.get("wall_seconds", "-"))
        lines.append(f"  {e['model']:<17}{cells}{fit:>8}{st.get('chains', '-'):>8}")
    for f in results.get("failures", []):
        lines.append(f"  FAILURE {f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=None, help="folder for runs and result caches (default: temp)")
    parser.add_argument("--protocol", choices=["released-rationales", "reference"], default="released-rationales")
    args = parser.parse_args()
    if not (args.data_root / "twitter2015").is_dir():
        sys.exit(f"no twitter2015 folder under {args.data_root}; pass --data-root")
    work = args.work or Path(tempfile.mkdtemp(prefix="encoder-twitter2015-"))
    work.mkdir(parents=True, exist_ok=True)
    run_id = f"enc-{args.protocol}-{int(time.time())}"
    cmd = command(args.data_root, work, args.protocol, run_id)
    shared = os.environ.get("MULCOT_BENCH_CACHE")
    if shared:
        (Path(shared) / "features").mkdir(parents=True, exist_ok=True)
        (work / f"results-{run_id}").mkdir(parents=True, exist_ok=True)
        (work / f"results-{run_id}" / "features").symlink_to(Path(shared).resolve() / "features")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    print("$ " + " ".join(cmd), flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    path = work / "runs" / run_id / "results.json"
    if not path.is_file():
        sys.exit(f"run {run_id} wrote no results (exit {proc.returncode})")
    results = json.loads(path.read_text(encoding="utf-8"))
    print(f"\n{run_id} ({args.protocol}): exit {proc.returncode}, wall {wall:.1f} s, CPU {cpu:.1f} s, "
          f"load average after {os.getloadavg()[0]:.2f}; results {path}")
    print("\n".join(table(results)), flush=True)


if __name__ == "__main__":
    main()
