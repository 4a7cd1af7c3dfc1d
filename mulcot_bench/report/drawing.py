"""Draw a report's charts in a second Python process while the first writes the pages.

matplotlib is slow (about 0.1-0.3 s a chart, most of it in Python), and a report's pages need the SVG only
when the dataset pages and the overview are written last; so :func:`start` hands the charts' data, as JSON
on stdin, to ``python -m mulcot_bench.report.plot`` and :meth:`Drawing.wait` reads their SVG back as JSON
(no pickle). The worker draws with :func:`mulcot_bench.report.plot.render`, the same function as in
process, so the SVG is the same byte for byte. A few charts are drawn in process (a worker's start costs
more than they do); a worker that fails is reported on stderr and its charts are drawn in process, where
a real drawing error is raised as usual.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from mulcot_bench.report.charts import Chart, to_json

WORKER_MIN = 10  # fewer non-empty charts than this are drawn in process (a worker costs about 1 s of imports)


class Drawing:
    """Charts being drawn; :meth:`wait` fills each chart's ``svg``."""

    def __init__(self, charts: list[Chart]) -> None:
        self.charts = [c for c in charts if not c.empty]
        self.proc: subprocess.Popen[bytes] | None = None
        self.result: tuple[bytes, bytes] | None = None
        self.error: str | None = None
        self.thread: threading.Thread | None = None
        if len(self.charts) >= WORKER_MIN:
            self._start()

    def _start(self) -> None:
        blob = json.dumps([to_json(c) for c in self.charts]).encode("utf-8")
        path = [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mulcot_bench.report.plot"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
        except OSError as exc:
            self.error = f"could not start {sys.executable}: {exc}"
            return
        proc = self.proc

        def talk() -> None:
            self.result = proc.communicate(blob)

        self.thread = threading.Thread(target=talk, name="chart-drawing", daemon=True)
        self.thread.start()

    def wait(self) -> list[Chart]:
        """Wait for the worker and fill the charts' SVG (drawn in process when there is no worker's answer)."""
        from mulcot_bench.report.plot import render

        svgs = self._answer()
        if svgs is None:
            if self.error:
                print(
                    f"drawing the charts in a second process failed ({self.error}); drawing them here",
                    file=sys.stderr,
                )
            render(self.charts)
        else:
            for chart, svg in zip(self.charts, svgs, strict=True):
                chart.svg = svg
        return self.charts

    def _answer(self) -> list[str] | None:
        if self.proc is None or self.thread is None:
            return None
        self.thread.join()
        out, err = self.result or (b"", b"")
        if self.proc.returncode != 0:
            lines = err.decode("utf-8", "replace").strip().splitlines()
            self.error = f"exit {self.proc.returncode}: {lines[-1] if lines else 'no message'}"
            return None
        try:
            svgs = json.loads(out)
        except ValueError as exc:
            self.error = f"unreadable answer: {exc}"
            return None
        if not isinstance(svgs, list) or len(svgs) != len(self.charts) or not all(isinstance(s, str) for s in svgs):
            self.error = f"{len(svgs) if isinstance(svgs, list) else 'no'} drawings for {len(self.charts)} charts"
            return None
        return svgs


def start(charts: list[Chart]) -> Drawing:
    """Start drawing ``charts`` (in a second process when there are :data:`WORKER_MIN` or more to draw)."""
    return Drawing(charts)
