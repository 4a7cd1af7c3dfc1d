"""``mulcot-bench export mlflow RUN_DIR... [--tracking-uri URI]``: run folders into an experiment tracker."""

from __future__ import annotations

from pathlib import Path

import click

TRACKING_URI_HELP = (
    "MLflow tracking URI (sqlite:///FILE, http(s)://HOST, file:DIR) or a local path (*.db: the SQLite file; "
    "else a folder holding mlflow.db). Default: $MLFLOW_TRACKING_URI, else ./mlruns/mlflow.db."
)


@click.group("export")
def export_group() -> None:
    """Log run folders to an experiment tracker (one tracker run per dataset x model entry; idempotent)."""


@export_group.command("mlflow")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--tracking-uri", help=TRACKING_URI_HELP)
@click.option("--experiment", default="mulcot-bench", show_default=True, help="MLflow experiment name.")
def mlflow_cmd(run_dirs: tuple[Path, ...], tracking_uri: str | None, experiment: str) -> None:
    """Log each entry of RUN_DIR/results.json (and each seed of a --seeds entry) as an MLflow run: params (card
    settings, seed, provenance), metrics (scores and interval bounds), artifacts (results.json, predictions,
    leaderboard tables).
    Exporting again adds nothing for unchanged entries and replaces changed ones."""
    from mulcot_bench.export.mlflow import export_runs

    summary = export_runs(run_dirs, tracking_uri, experiment, echo=click.echo)
    for line in summary.lines():
        click.echo(line)


mlflow_option = click.option(
    "--mlflow",
    "mlflow_uri",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[URI]",
    help="After the run, log it to MLflow as 'export mlflow' does (URI as --tracking-uri there; default "
    "$MLFLOW_TRACKING_URI, else ./mlruns/mlflow.db).",
)


def check_mlflow(uri: str | None) -> None:
    """Before a run with ``--mlflow``: fail now, not after the run, when MLflow is missing or its store cannot be
    made."""
    if uri is not None:
        from mulcot_bench.export.mlflow import prepare_store

        prepare_store(uri)


def export_after_run(run_dir: Path, uri: str | None) -> None:
    """After a run with ``--mlflow``: log its folder (when that fails, the run is kept and the line says how to
    export it later)."""
    if uri is not None:
        from mulcot_bench.errors import UserError
        from mulcot_bench.export.mlflow import export_runs

        try:
            summary = export_runs([run_dir], uri, echo=click.echo)
        except UserError as exc:
            again = f"mulcot-bench export mlflow {run_dir}" + (f" --tracking-uri {uri}" if uri else "")
            raise UserError(f"{exc} (the run is saved; export it later with: {again})") from exc
        for line in summary.lines():
            click.echo(line)
