"""Time the leaderboard render of a demo run (10 models x 5 datasets by default) and size its pages.

Usage: python benchmarks/report_render.py [--models 10] [--datasets 5] [--n 200] [--images] [--repeat 3]
The demo run (tests/demo_runs.py) has a teacher, an assistant, students (one with text-only and
image-only ablation rows), baselines, reported rows, a failure and a missing dataset; every row has a
predictions file with --n test samples. Timed: ``render_report`` (HTML site: overview, dataset pages and
every drill-down page) into a new folder, --repeat times (the first also compiles the templates), then
once more over an existing report (which it replaces), then the four table exports; wall and CPU seconds,
and the load average, since wall time on a shared machine includes waiting for a core. Exit 1 if the best
wall time or the index size misses the budget.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

BUDGET_SECONDS = 2.0
BUDGET_INDEX_BYTES = 2 * 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--datasets", type=int, default=5)
    parser.add_argument("--n", type=int, default=200, help="test samples per dataset")
    parser.add_argument("--images", action="store_true", help="give every sample an image (thumbnails made)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from mulcot_bench.report import render_report, render_runs
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from demo_runs import demo_run

    from mulcot_bench.results import RunResults

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run_dir = demo_run(root, models=args.models, datasets=args.datasets, n=args.n, images=args.images)
        results = RunResults.read(run_dir)
        rows = len(results.entries)
        print(
            f"demo run: {args.models} models x {args.datasets} datasets, {rows} rows (ablations included), "
            f"{args.n} test samples each, images {'on' if args.images else 'off'}"
        )
        walls, cpus = [], []
        for i in range(args.repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            index = render_report(run_dir, root / f"report{i}")
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            print(f"  render {i + 1}: {walls[-1]:.2f} s wall, {cpus[-1]:.2f} s CPU")
        wall, cpu = time.perf_counter(), time.process_time()
        render_report(run_dir, root / "report0")
        print(
            f"  re-render over an existing report: {time.perf_counter() - wall:.2f} s wall, "
            f"{time.process_time() - cpu:.2f} s CPU"
        )
        wall = time.perf_counter()
        render_runs([run_dir], root / "exports", ("md", "csv", "tex", "json"))
        exports = time.perf_counter() - wall
        site = index.parent
        files = [p for p in site.rglob("*") if p.is_file()]
        pages = [p for p in files if p.suffix == ".html"]
        largest = max(pages, key=lambda p: p.stat().st_size)
        index_bytes = index.stat().st_size
        print(
            f"HTML render: best {min(walls):.2f} s, median {statistics.median(walls):.2f} s wall "
            f"(CPU best {min(cpus):.2f} s); budget {BUDGET_SECONDS:.1f} s"
        )
        print(f"exports md+csv+tex+json: {exports:.2f} s")
        print(f"index.html: {index_bytes / 1024:.1f} KiB (budget {BUDGET_INDEX_BYTES / 1024 / 1024:.0f} MiB)")
        print(
            f"site: {len(pages)} pages, {len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.1f} MB; "
            f"largest page {largest.relative_to(site)} {largest.stat().st_size / 1024:.0f} KiB"
        )
        print(
            "load average (1, 5, 15 min): "
            + ", ".join(f"{x:.1f}" for x in os.getloadavg())
            + f" on {os.cpu_count()} CPUs"
        )
        ok = min(walls) < BUDGET_SECONDS and index_bytes < BUDGET_INDEX_BYTES
        print("within budget" if ok else "OVER BUDGET")
        raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
