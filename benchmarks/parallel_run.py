"""Wall time of one ``run`` in one process against the same run under ``torchrun --nproc-per-node N`` (gloo, CPU).

Usage: python benchmarks/parallel_run.py [--ranks 2] [--sizes 200,50,200] [-m MODEL ...] [--work DIR]

Each run starts from an empty cache folder of its own, so everything is computed; the script prints the wall
seconds of each and whether their results agree (scores, and each predictions line's id, label and chain).
Speed-up needs free cores: with N ranks on N busy cores expect none.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_MODELS = ("synthetic-teacher", "majority", "text-tfidf-lr", "tiny-vlm-assistant")


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd[:8])} ... failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def outputs(run_dir: Path) -> tuple[list, dict]:
    """Each entry's scores, and per predictions file each line's (id, label, rationale)."""
    res = json.loads((run_dir / "results.json").read_text())
    lines = {
        e["model"]: [(r["id"], r["label"], r["rationale"]) for r in map(json.loads, (run_dir / e["predictions_file"])
                     .read_text().splitlines())]
        for e in res["entries"]
    }  # fmt: skip
    return [(e["model"], e["scores"]) for e in res["entries"]], lines


STEP = re.compile(r"^(\S+ \S+) INFO +(\[[^]]+\]) step \d+/\d+: (.+?) \(at ")


def steps(run_dir: Path) -> dict[str, float]:
    """Seconds per pipeline step, from the step lines' timestamps in the run's ``run.log`` (the profile of a run);
    the last step (scoring) runs to the log's last line."""
    from datetime import datetime

    stamp = lambda text: datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f")  # noqa: E731
    lines = (run_dir / "run.log").read_text().splitlines()
    marks = [(f"{m[2]} {m[3]}", stamp(m[1])) for m in map(STEP.match, lines) if m]
    stamped = [line for line in lines if re.match(r"\d{4}-\d\d-\d\d \d", line)]
    end = stamp(" ".join(stamped[-1].split()[:2]))
    ends = [t for _, t in marks[1:]] + [end]
    return {name: (nxt - t).total_seconds() for (name, t), nxt in zip(marks, ends, strict=True)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--sizes", default="200,50,200")
    ap.add_argument("-m", "--model", dest="models", action="append")
    ap.add_argument("--work", type=Path)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mulcot-parallel-"))
    work.mkdir(parents=True, exist_ok=True)
    base = ["run", "-d", "synthetic", "--synthetic-size", args.sizes, "--bootstrap", "0", "--run-id", "bench"]
    for m in args.models or DEFAULT_MODELS:
        base += ["-m", m]
    runs = {}
    for n in (1, args.ranks):
        where = ["--cache-dir", str(work / f"cache{n}"), "--runs-dir", str(work / f"runs{n}"),
                 "--reports-dir", str(work / f"reports{n}")]  # fmt: skip
        launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(n)]
        cmd = [sys.executable, "-m", "mulcot_bench"] if n == 1 else [*launch, "-m", "mulcot_bench"]
        runs[n] = timed([*cmd, *base, *where, "--device", "cpu"], work)
        print(f"{n} process(es): {runs[n]:.1f} s wall", flush=True)
    one, many = outputs(work / "runs1" / "bench"), outputs(work / f"runs{args.ranks}" / "bench")
    same_keys = [(m, sorted(s)) for m, s in one[0]] == [(m, sorted(s)) for m, s in many[0]]
    gap = max(
        (abs(a[k] - b[k]) / max(abs(a[k]), 1e-12) for (_, a), (_, b) in zip(one[0], many[0], strict=True) for k in a
         if isinstance(a[k], float) and isinstance(b.get(k), float)),
        default=0.0,
    )  # fmt: skip
    per = {n: steps(work / f"runs{n}" / "bench") for n in (1, args.ranks)}
    print(f"{'step':<40} {'1 process':>10} {f'{args.ranks} ranks':>10}")
    for name in per[1]:
        print(f"{name[:40]:<40} {per[1][name]:>9.1f}s {per[args.ranks].get(name, float('nan')):>9.1f}s")
    print(f"wall ratio {args.ranks} ranks / 1 process: {runs[args.ranks] / runs[1]:.2f}")
    print(f"speed-up {runs[1] / runs[args.ranks]:.2f}x; same entries and metrics: {same_keys}; largest relative "
          f"score gap {gap:.1e}; labels and chains equal: {one[1] == many[1]} ({work})")  # fmt: skip


if __name__ == "__main__":
    main()
