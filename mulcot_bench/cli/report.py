"""``mulcot-bench report RUN_DIR... --out DIR --format html,md,csv,tex,json``: the leaderboard of one or more runs."""

from __future__ import annotations

from pathlib import Path

import click

from mulcot_bench.errors import UserError

MERGE_HELP = (
    "Several run folders are merged into one leaderboard, one section per test set: rows merge only when the "
    "dataset fingerprint and split match; then, for the same model and ablation variant, the newest run (latest "
    "start time; on a tie the one named later) wins and the older row is listed as superseded. Rows on different "
    "test sets of a dataset get separate sections in every format, ranked on their own. Failures, missing "
    "datasets and reported rows of every run are kept."
)


@click.command("report", help=f"Render the leaderboard of run folders (from their JSON only). {MERGE_HELP}")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Output folder (default reports/<run id> for one run; required for several).",
)
@click.option(
    "--format",
    "formats",
    default="html",
    show_default=True,
    help="Comma-separated: html (static site), md, csv (leaderboard.csv wide, leaderboard_long.csv tidy), "
    "tex (booktabs), json.",
)
@click.option(
    "--reference",
    help="Default reference row of the significance marks (a model name, or 'model (variant)'); "
    "default: the first student, else the assistant, else the best-ranked row.",
)
def report_cmd(run_dirs: tuple[Path, ...], out: Path | None, formats: str, reference: str | None) -> None:
    from mulcot_bench.report import parse_formats, render_runs

    chosen = parse_formats(formats)
    for run_dir in run_dirs:
        if not (run_dir / "results.json").is_file():
            raise UserError(f"{run_dir} has no results.json; pass a run folder written by 'mulcot-bench run'")
    if out is None:
        if len(run_dirs) > 1:
            raise UserError("several run folders need --out DIR for the merged leaderboard")
        out = Path("reports") / run_dirs[0].resolve().name
    for fmt, path in render_runs(run_dirs, out, chosen, reference).items():
        click.echo(f"{fmt}: {path}")
