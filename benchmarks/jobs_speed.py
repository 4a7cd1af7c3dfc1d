"""Time one ``mulcot-bench run`` in one process (``--jobs 1``) against the same run side by side (``--jobs N``).

Usage: python benchmarks/jobs_speed.py [--jobs N] [--work DIR] [--warm] [-- RUN ARGS...]

Default run: ``run --all`` (the embedded default). Each side starts from an empty cache folder of its own, so
everything is computed; the sides run one after the other, never together. Printed per side: wall seconds, the
1-minute load average at its start and end, and the CPU seconds its processes used; then the ratio of the wall
times, and whether the two run folders hold the same results (``benchmarks/same_run.py``: everything but times,
versions, the launcher record and BERTScore's float noise). ``--warm`` also times each side again on its own
filled cache (nothing trained or predicted: the fixed cost of a run).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed_common import load_line  # noqa: E402

HERE = Path(__file__).resolve().parent


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(work: Path, side: str, jobs: str, args: list[str], run_id: str) -> float:
    """Wall seconds of one run of ``side`` (its own cache, runs and reports folders); exits on failure."""
    cmd = [sys.executable, "-m", "mulcot_bench.cli", "run", *args, "--jobs", jobs, "--run-id", run_id]
    cmd += ["--cache-dir", str(work / side / "cache"), "--runs-dir", str(work / side / "runs")]
    cmd += ["--reports-dir", str(work / side / "reports")]
    before, start = children_cpu(), time.perf_counter()
    print(f"{side} ({run_id}): start, {load_line()}", flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{side}: {' '.join(cmd[:12])} ... exited {done.returncode}:\n{done.stderr[-3000:]}")
    print(f"{side} ({run_id}): {wall:.1f} s wall, {children_cpu() - before:.1f} CPU s, end {load_line()}", flush=True)
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="auto", help="the side-by-side side's --jobs (default auto)")
    parser.add_argument("--work", type=Path, help="folder for both sides (default: a temporary one, removed)")
    parser.add_argument("--warm", action="store_true", help="also time each side again on its filled cache")
    parser.add_argument("run_args", nargs="*", help="the run's arguments after -- (default: --all)")
    opts = parser.parse_args()
    work = opts.work or Path(tempfile.mkdtemp(prefix="jobs-speed-"))
    args = opts.run_args or ["--all"]
    for side in ("one", "side-by-side"):
        shutil.rmtree(work / side, ignore_errors=True)
    one = timed_run(work, "one", "1", args, "same")
    many = timed_run(work, "side-by-side", opts.jobs, args, "same")
    print(f"side by side / one process: {many / one:.2f} of the wall time ({one / many:.2f}x faster)")
    if opts.warm:
        warm_one = timed_run(work, "one", "1", args, "warm")
        warm_many = timed_run(work, "side-by-side", opts.jobs, args, "warm")
        print(f"warm: side by side / one process: {warm_many / warm_one:.2f} of the wall time")
    same = subprocess.run([sys.executable, str(HERE / "same_run.py"), str(work / "one" / "runs" / "same"),
                           str(work / "side-by-side" / "runs" / "same"), "--float-noise", "1e-5"])  # fmt: skip
    print("same results" if same.returncode == 0 else "RESULTS DIFFER (see above)")
    if opts.work is None:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(same.returncode)


if __name__ == "__main__":
    main()
