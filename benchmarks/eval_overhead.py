"""Evaluation overhead: ``mulcot-bench eval`` predicting a split against the bare model loop, in one process.

Usage: python benchmarks/eval_overhead.py [--work DIR] [--model tiny-vlm-assistant] [--rounds N]

Set-up (not timed; kept in ``--work`` for the next call): trains the model once on the embedded ``synthetic``
set (one epoch; speed does not depend on training) and reads its saved checkpoint from ``results.json``.
Then, in alternating rounds:

- ``run``: ``mulcot-bench eval MODEL -o MODEL.checkpoint=CKPT -d synthetic`` with an empty cache (a
  subprocess); its prediction step is timed from ``run.log`` (the model's step line to the next step line:
  load the checkpoint, predict the test split in the runner's batches, cache and journal each batch), and the
  whole command is timed too (start-up, data, scoring with bootstrap intervals, report);
- ``bare``: the same model built from its card, loaded from the same checkpoint and predicting the same test
  samples in batches of the same size, in a fresh interpreter too (so both sides pay torch's first calls),
  timed from the checkpoint load to the last prediction.

Both run on ``--threads`` OpenMP threads (1): with torch's default 2 on this loaded 2-core machine the tiny
model's predict took 8-12 s instead of 0.8-1.0 s (spinning workers), which swamps any overhead. Separate
processes seconds long still move with the load, so each round also runs a second ``eval`` under cProfile,
which times both sides inside one process at the same moment: the runner's prediction stage (``cached_calls``:
batching, cache look-ups and writes, journal, progress) against the model's own ``predict`` calls within it
(the bare loop's work, same batches). cProfile's own cost falls on the Python-heavy runner side, so that ratio
overstates the overhead.

Prints each figure, the ratios (goal: run's prediction / bare loop <= 1.10) and the load average.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from statistics import median

from speed_common import load_line, timed

LOG_TIME = "%Y-%m-%d %H:%M:%S,%f"


def cli(args: list[str], cache: Path, work: Path, run_id: str, profile: Path | None = None) -> float:
    """Run one ``mulcot-bench`` command (under cProfile when ``profile`` is a path); its wall seconds."""
    prof = ["-m", "cProfile", "-o", str(profile)] if profile else []
    cmd = [sys.executable, *prof, "-m", "mulcot_bench.cli", *args, "--cache-dir", str(cache), "--runs-dir",
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


def profiled_split(profile: Path, model_file: str) -> tuple[float, float, int]:
    """From a cProfile dump: seconds in the runner's ``cached_calls``, in the model's ``predict`` and its calls."""
    import pstats

    stats = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    stage = sum(v[3] for (f, _, name), v in stats.items() if name == "cached_calls" and f.endswith("stages.py"))
    model = [(v[3], v[1]) for (f, _, name), v in stats.items() if name == "predict" and f == model_file]
    if not stage or not model:
        raise SystemExit(f"cached_calls or {model_file}:predict not found in {profile}")
    return stage, sum(t for t, _ in model), sum(n for _, n in model)


def bare(model_name: str, checkpoint: Path, batch: int) -> tuple[float, float, int]:
    """:func:`bare_child` in a fresh interpreter: (load s, predict s, samples)."""
    proc = subprocess.run([sys.executable, __file__, "--bare-child", model_name, str(checkpoint), str(batch)],
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if proc.returncode != 0:
        sys.exit(f"the bare loop failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out["load"], out["predict"], out["samples"]


def bare_child(model_name: str, checkpoint: Path, batch: int) -> None:
    """Build, load and predict the synthetic test split in batches; print the seconds as one JSON line."""
    from mulcot_bench.data.synthetic import generate
    from mulcot_bench.plugin.registry import build_registry

    test = list(generate().split("test"))
    model = build_registry().model(model_name).build()  # discovery and imports: before the run's step line too
    model, load_s = timed(lambda: model.load(checkpoint))
    _, predict_s = timed(lambda: [model.predict(test[i : i + batch]) for i in range(0, len(test), batch)])
    print(json.dumps({"load": load_s, "predict": predict_s, "samples": len(test)}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None, help="folder for runs and caches (default: a temp dir)")
    ap.add_argument("--model", default="tiny-vlm-assistant")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bare-child", nargs=3, metavar=("MODEL", "CHECKPOINT", "BATCH"), help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help="OMP/MKL threads of both sides (OMP_NUM_THREADS)")
    args = ap.parse_args()
    if args.bare_child:
        bare_child(args.bare_child[0], Path(args.bare_child[1]), int(args.bare_child[2]))
        return 0
    from mulcot_bench.runner.stages import BATCH

    # both sides on the same threads: with torch's default 2 on this loaded 2-core machine the tiny model's
    # predict took 8-12 s against 0.8-1.0 s on one thread (spinning OpenMP workers), which would swamp the overhead
    os.environ.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))

    work = args.work or Path(tempfile.mkdtemp(prefix="eval-overhead-"))
    m = args.model
    setup = work / "runs" / "setup" / "results.json"
    if not setup.is_file():  # a --work folder of an earlier call keeps its trained checkpoint
        cli(["run", "-d", "synthetic", "-m", m, "-o", f"{m}.epochs=1"], work / "train-cache", work, "setup")
    results = json.loads(setup.read_text(encoding="utf-8"))
    checkpoint = Path(next(e["checkpoint"] for e in results["entries"] if e["model"] == m))
    built = build_registry_model(m)
    batch = getattr(built, "call_batch", None) or BATCH
    model_file = inspect.getsourcefile(type(built))  # predict may be wrapped (torch.no_grad)
    print(f"checkpoint {checkpoint}; batch {batch}; {args.threads} thread(s); {load_line()}", flush=True)
    steps, wholes, bares, inside = [], [], [], []
    evals = ["eval", m, "-o", f"{m}.checkpoint={checkpoint}", "-d", "synthetic"]
    for r in range(1, args.rounds + 1):
        for run_id in (f"eval-{r}", f"profiled-{r}"):  # an earlier call's cached answers and journals go
            shutil.rmtree(work / f"cache-{run_id}", ignore_errors=True)
            shutil.rmtree(work / "runs" / run_id, ignore_errors=True)
        whole = cli(evals, work / f"cache-eval-{r}", work, f"eval-{r}")
        step = step_seconds(work / "runs" / f"eval-{r}" / "run.log", m)
        load_s, predict_s, n = bare(m, checkpoint, batch)
        cli(evals, work / f"cache-profiled-{r}", work, f"profiled-{r}", work / f"profiled-{r}.prof")
        stage, model_s, calls = profiled_split(work / f"profiled-{r}.prof", str(model_file))
        steps.append(step)
        wholes.append(whole)
        bares.append(load_s + predict_s)
        inside.append(stage / model_s)
        print(f"round {r}: run's prediction step {step:.2f} s (whole eval command {whole:.2f} s); bare load "
              f"{load_s:.2f} s + predict {predict_s:.2f} s for {n} samples = {load_s + predict_s:.2f} s; inside "
              f"a profiled eval: prediction stage {stage:.2f} s / model predict {model_s:.2f} s in {calls} calls "
              f"= {stage / model_s:.3f}; {load_line()}", flush=True)
    step, whole, base = median(steps), median(wholes), median(bares)
    print(f"median of {args.rounds}: inside eval, prediction stage / model predict = {median(inside):.3f} "
          f"(goal <= 1.10); separate processes: run's prediction step / bare = {step:.2f} / {base:.2f} = "
          f"{step / base:.3f} (steps {', '.join(f'{x:.2f}' for x in steps)}; bare "
          f"{', '.join(f'{x:.2f}' for x in bares)}); whole eval command / bare = {whole / base:.1f}")
    return 0


def build_registry_model(name: str) -> object:
    """A model built from its registered card (to read its ``call_batch``, if it sets one)."""
    from mulcot_bench.plugin.registry import build_registry

    return build_registry().model(name).build()


if __name__ == "__main__":
    sys.exit(main())
