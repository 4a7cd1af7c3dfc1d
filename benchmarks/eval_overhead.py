"""Evaluation overhead: ``mulcot-bench eval`` predicting a split against the bare model loop, in one process.

Usage: python benchmarks/eval_overhead.py [--work DIR] [--model tiny-vlm-assistant] [--rounds N]

Set-up (not timed): trains the model once on the embedded ``synthetic`` set (one epoch; speed does not depend on
training) and reads its saved checkpoint from ``results.json``. Then, in alternating rounds:

- ``run``: ``mulcot-bench eval MODEL -o MODEL.checkpoint=CKPT -d synthetic`` with an empty cache (a
  subprocess); its prediction step is timed from ``run.log`` (the model's step line to the next step line:
  load the checkpoint, predict the test split in the runner's batches, cache and journal each batch), and the
  whole command is timed too (start-up, data, scoring with bootstrap intervals, report);
- ``bare``: the same model built from its card, loaded from the same checkpoint and predicting the same test
  samples in batches of the same size, in this process.

Prints each figure, the ratios (goal: run's prediction step / bare <= 1.10) and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from speed_common import load_line, timed

LOG_TIME = "%Y-%m-%d %H:%M:%S,%f"


def cli(args: list[str], cache: Path, work: Path, run_id: str) -> float:
    """Run one ``mulcot-bench`` command; its wall seconds. Exits with its stderr when it fails."""
    cmd = [sys.executable, "-m", "mulcot_bench.cli", *args, "--cache-dir", str(cache), "--runs-dir",
           str(work / "runs"), "--reports-dir", str(work / "reports"), "--run-id", run_id]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MULCOT_BENCH_CACHE": str(cache)}
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args[:3])} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def step_seconds(log: Path, model: str) -> float:
    """Seconds from the ``step i/n: MODEL`` line of ``run.log`` to the next step line."""
    stamps = [(datetime.strptime(line[:23], LOG_TIME), line) for line in log.read_text(encoding="utf-8").splitlines()
              if "] step " in line]
    for (start, line), (end, _) in zip(stamps, stamps[1:], strict=False):
        if line.rstrip().split(": ", 1)[-1].startswith(f"{model} (at"):
            return (end - start).total_seconds()
    raise SystemExit(f"no step line for {model} followed by another step in {log}")


def bare(model_name: str, checkpoint: Path, batch: int) -> tuple[float, float, int]:
    """Build, load and predict the synthetic test split in batches: (load s, predict s, samples)."""
    from mulcot_bench.data.synthetic import generate
    from mulcot_bench.plugin.registry import build_registry

    test = list(generate().split("test"))
    model, load_s = timed(lambda: build_registry().model(model_name).build().load(checkpoint))
    _, predict_s = timed(lambda: [model.predict(test[i : i + batch]) for i in range(0, len(test), batch)])
    return load_s, predict_s, len(test)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None, help="folder for runs and caches (default: a temp dir)")
    ap.add_argument("--model", default="tiny-vlm-assistant")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    from mulcot_bench.runner.stages import BATCH

    work = args.work or Path(tempfile.mkdtemp(prefix="eval-overhead-"))
    m = args.model
    cli(["run", "-d", "synthetic", "-m", m, "-o", f"{m}.epochs=1"], work / "train-cache", work, "setup")
    results = json.loads((work / "runs" / "setup" / "results.json").read_text(encoding="utf-8"))
    checkpoint = Path(next(e["checkpoint"] for e in results["entries"] if e["model"] == m))
    batch = getattr(build_registry_model(m), "call_batch", None) or BATCH
    print(f"checkpoint {checkpoint}; batch {batch}; {load_line()}", flush=True)
    steps, wholes, bares = [], [], []
    for r in range(1, args.rounds + 1):
        run_id = f"eval-{r}"
        whole = cli(["eval", m, "-o", f"{m}.checkpoint={checkpoint}", "-d", "synthetic"], work / f"cache-{r}",
                    work, run_id)
        step = step_seconds(work / "runs" / run_id / "run.log", m)
        load_s, predict_s, n = bare(m, checkpoint, batch)
        steps.append(step)
        wholes.append(whole)
        bares.append(load_s + predict_s)
        print(f"round {r}: run's prediction step {step:.2f} s (whole eval command {whole:.2f} s); bare load "
              f"{load_s:.2f} s + predict {predict_s:.2f} s for {n} samples = {load_s + predict_s:.2f} s; "
              f"{load_line()}", flush=True)
    step, whole, base = min(steps), min(wholes), min(bares)
    print(f"best of {args.rounds}: run's prediction step / bare = {step:.2f} / {base:.2f} = {step / base:.3f} "
          f"(goal <= 1.10); whole eval command / bare = {whole:.2f} / {base:.2f} = {whole / base:.2f}")
    return 0


def build_registry_model(name: str) -> object:
    """A model built from its registered card (to read its ``call_batch``, if it sets one)."""
    from mulcot_bench.plugin.registry import build_registry

    return build_registry().model(name).build()


if __name__ == "__main__":
    sys.exit(main())
