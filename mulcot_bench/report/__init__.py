"""Static leaderboard of one or more run folders, rendered only from their ``results.json`` and predictions.

Public API: :func:`render_report` (one run, HTML; what ``mulcot-bench run`` calls) and :func:`render`
(several runs merged, any of the formats in :data:`FORMATS`). The merge rule is in
:mod:`mulcot_bench.report.board`: rows merge only within one test set (dataset, fingerprint, split), where
the newest run wins per model and variant.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mulcot_bench.atomic import write_text
from mulcot_bench.errors import UserError, unknown
from mulcot_bench.report.board import merge, read_run
from mulcot_bench.report.exports import FILES, FORMATS, OUTPUTS, WRITERS
from mulcot_bench.report.site import render_site
from mulcot_bench.report.tables import build_tables

__all__ = ["FORMATS", "parse_formats", "render", "render_report"]


def parse_formats(value: str | Iterable[str]) -> list[str]:
    """``"html,md"`` or ``["html", "md"]`` -> the formats, checked against :data:`FORMATS`."""
    items = value.split(",") if isinstance(value, str) else list(value)
    formats = [f.strip().lower() for f in items if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise UserError(f"unknown report format {bad[0] if bad else value!r}; use some of {', '.join(FORMATS)}")
    return list(dict.fromkeys(formats))


def render_runs(
    run_dirs: Iterable[Path], out_dir: Path, formats: Iterable[str] = ("html",), reference: str | None = None
) -> dict[str, Path]:
    """Merge the runs and write each format into ``out_dir``; returns output -> written file (for html:
    ``index.html``; ``csv`` also writes ``csv-long``). ``reference`` names the default reference row of the
    significance marks."""
    out_dir = Path(out_dir)
    chosen = parse_formats(list(formats))
    board = merge([read_run(Path(d), i) for i, d in enumerate(run_dirs)])
    if reference is not None:
        names = {r.label for r in board.rows} | {r.entry.model for r in board.rows}
        if reference not in names:
            raise unknown("reference row", reference, names, "Pass a model of the runs to --reference.")
    written: dict[str, Path] = {}
    if "html" in chosen:
        written["html"] = render_site(board, out_dir, reference)
    others = [f for f in chosen if f != "html"]
    if others:
        tables, missing = build_tables(board)
        for output in (o for fmt in others for o in OUTPUTS[fmt]):
            path = out_dir / FILES[output]
            write_text(path, WRITERS[output](board, tables, missing))
            written[output] = path
    return written


def render_report(run_dir: Path, out_dir: Path) -> Path:
    """Render ``run_dir`` as a self-contained site in ``out_dir``; returns ``out_dir/index.html``."""
    return render_runs([Path(run_dir)], Path(out_dir), ("html",))["html"]
