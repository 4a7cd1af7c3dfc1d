"""Static HTML leaderboard of one run folder, rendered only from its ``results.json``.

Public API: :func:`render_report`.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from mulcot_bench.atomic import write_text
from mulcot_bench.report.format import DASH
from mulcot_bench.report.view import build_page
from mulcot_bench.results import RunResults

__all__ = ["render_report"]

TEMPLATES = Path(__file__).parent / "templates"


def _environment() -> Environment:
    """The Jinja2 environment: templates beside this module, everything autoescaped, undefined names fail."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["DASH"] = DASH
    return env


def render_report(run_dir: Path, out_dir: Path) -> Path:
    """Render ``run_dir/results.json`` to a self-contained ``out_dir/index.html``; returns that file's path."""
    run_dir = Path(run_dir)
    out_dir = Path(out_dir)
    results = RunResults.read(run_dir)
    page = build_page(results, run_dir, out_dir)
    html = _environment().get_template("index.html.j2").render(page=page, prov=results.provenance)
    out = out_dir / "index.html"
    write_text(out, html)
    return out
