"""Time the leaderboard render with and without its charts, and size its pages.

Usage: python benchmarks/report_render.py [--run RUN_DIR] [--models 10] [--datasets 5] [--n 200] [--images]
       [--repeat 3]
Renders ``--run`` (a real run folder's results.json and predictions; thumbnails need its data folders) or else
a demo run (tests/demo_runs.py: a teacher, an assistant, students with text-only and image-only ablation rows,
baselines, reported rows, a failure and a missing dataset; --n test samples each). Each repeat renders the HTML
site into a new folder twice, with the charts and without them (``render_site(charts=False)``), alternating so
that both see the same load; then once more over an existing report (which it replaces) and the four table
exports. Wall and CPU seconds (this process and its children: the charts are drawn in a second process) and
the load average, since wall time on a shared machine includes waiting for a core. Budget: no page over 2 MiB
and, for a real run (``--run``), the best render with charts at most 2x the best without; exit 1 otherwise. A
demo run's pages are short texts without images, so there the charts are most of the render and the ratio is
printed but not judged.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BUDGET_RATIO = 2.0
BUDGET_PAGE_BYTES = 2 * 1024 * 1024


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), _cpu()
    fn()
    return time.perf_counter() - wall, _cpu() - cpu


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a run folder to render (default: a demo run)")
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--datasets", type=int, default=5)
    parser.add_argument("--n", type=int, default=200, help="test samples per dataset")
    parser.add_argument("--images", action="store_true", help="give every sample an image (thumbnails made)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from mulcot_bench.report import render_runs
    from mulcot_bench.report.board import merge, read_run
    from mulcot_bench.report.site import render_site
    from mulcot_bench.results import RunResults

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.run is not None:
            run_dir = args.run.resolve()
            results = RunResults.read(run_dir)
            print(
                f"run {run_dir.name}: {len(results.entries)} rows on {len({e.dataset for e in results.entries})} "
                "datasets"
            )
        else:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
            from demo_runs import demo_run

            run_dir = demo_run(root, models=args.models, datasets=args.datasets, n=args.n, images=args.images)
            rows = len(RunResults.read(run_dir).entries)
            print(
                f"demo run: {args.models} models x {args.datasets} datasets, {rows} rows (ablations included), "
                f"{args.n} test samples each, images {'on' if args.images else 'off'}"
            )
        times: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for i in range(args.repeat):
            for charts in (True, False) if i % 2 == 0 else (False, True):
                out = root / f"report-{i}-{'charts' if charts else 'plain'}"
                times[charts].append(
                    _timed(lambda c=charts, o=out: render_site(merge([read_run(run_dir, 0)]), o, charts=c))
                )
                wall, cpu = times[charts][-1]
                print(
                    f"  render {i + 1} {'with' if charts else 'without'} charts: {wall:.2f} s wall, {cpu:.2f} s CPU"
                    f"; load {_load()}"
                )
        wall, cpu = _timed(lambda: render_site(merge([read_run(run_dir, 0)]), root / "report-0-charts"))
        print(f"  re-render over an existing report: {wall:.2f} s wall, {cpu:.2f} s CPU")
        exports, _ = _timed(lambda: render_runs([run_dir], root / "exports", ("md", "csv", "tex", "json")))
        site = root / "report-0-charts"
        files = [p for p in site.rglob("*") if p.is_file()]
        pages = [p for p in files if p.suffix == ".html"]
        largest = max(pages, key=lambda p: p.stat().st_size)
        with_, without = (min(w for w, _ in times[c]) for c in (True, False))
        for charts in (True, False):
            walls, cpus = [w for w, _ in times[charts]], [c for _, c in times[charts]]
            print(
                f"HTML render {'with' if charts else 'without'} charts: best {min(walls):.2f} s, median "
                f"{statistics.median(walls):.2f} s wall (CPU best {min(cpus):.2f} s)"
            )
        ratio = with_ / without
        judged = f"budget {BUDGET_RATIO:.1f}x" if args.run else "not judged on a demo run"
        print(f"with / without charts: {ratio:.2f}x wall (best of {args.repeat}); {judged}")
        print(f"exports md+csv+tex+json: {exports:.2f} s")
        print(f"index.html: {(site / 'index.html').stat().st_size / 1024:.1f} KiB")
        print(
            f"site: {len(pages)} pages, {len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.1f} MB; "
            f"largest page {largest.relative_to(site)} {largest.stat().st_size / 1024:.0f} KiB "
            f"(budget {BUDGET_PAGE_BYTES / 1024 / 1024:.0f} MiB)"
        )
        print(f"load average (1, 5, 15 min): {_load()}")
        ok = (args.run is None or ratio <= BUDGET_RATIO) and largest.stat().st_size <= BUDGET_PAGE_BYTES
        print("within budget" if ok else "OVER BUDGET")
        raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
