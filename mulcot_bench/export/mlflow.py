"""Log run folders to MLflow: one MLflow run per entry of ``results.json`` (and per seed of a ``--seeds`` entry),
with MLflow's own client.

Idempotent: each MLflow run is tagged ``mulcot.key`` (run id, dataset, split, model, variant, seed) and, once
everything is logged, ``mulcot.content`` (a hash of what was logged). Re-exporting finds the run by its key and
leaves it alone when the content is the same; a changed entry, or a run left half-logged by an interrupted
export (no ``mulcot.content``), is deleted and logged again. ``mlflow`` is imported only here, on first use.

Default store: ``$MLFLOW_TRACKING_URI`` when set, else SQLite at ``./mlruns/mlflow.db``; a new experiment in a
local SQLite store keeps its artifacts beside the database (``./mlruns/mlflow-artifacts``). A path without a
scheme is a local store: ``*.db``/``*.sqlite`` is the database file, anything else a folder holding
``mlflow.db``; URIs (``sqlite:///``, ``http(s)://``, ``file:``) go to MLflow as given.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mulcot_bench.errors import UserError
from mulcot_bench.export.record import TAG, EntryRecord, entry_records

DEFAULT_EXPERIMENT = "mulcot-bench"
DEFAULT_STORE = Path("mlruns")
INSTALL_HINT = "pip install 'mulcot-bench[mlflow]' (or pip install mlflow)"
LEADERBOARD_FORMATS = ("md", "csv", "json")  # the HTML site holds every sample: too large to copy into each run
_SQLITE = "sqlite:///"


@dataclass
class ExportSummary:
    """What an export did; every entry is counted in exactly one of logged, replaced and unchanged."""

    tracking_uri: str
    experiment: str
    logged: int = 0
    replaced: int = 0
    unchanged: int = 0
    failures: int = 0  # models that did not run: in results.json, never logged as a scored run
    missing_files: list[str] = field(default_factory=list)
    cut_params: list[str] = field(default_factory=list)  # params longer than MLflow allows, cut

    def lines(self) -> list[str]:
        lines = [
            f"mlflow: logged {self.logged}, replaced {self.replaced} (changed), unchanged {self.unchanged} "
            f"-> experiment {self.experiment!r} at {self.tracking_uri}"
        ]
        if self.failures:
            lines.append(f"mlflow: {self.failures} failures not logged (no scores; listed in results.json)")
        if self.missing_files:
            lines.append(f"mlflow: {len(self.missing_files)} predictions files missing, not logged: "
                         + ", ".join(self.missing_files))  # fmt: skip
        if self.cut_params:
            lines.append(f"mlflow: {len(self.cut_params)} params cut to MLflow's length limit (full values in "
                         "results.json): " + ", ".join(sorted(set(self.cut_params))))  # fmt: skip
        return lines


def resolve_tracking_uri(value: str | None) -> tuple[str, Path | None]:
    """The tracking URI and, for a local SQLite store, the artifact folder beside the database."""
    value = value or os.environ.get("MLFLOW_TRACKING_URI") or str(DEFAULT_STORE)
    if value.startswith(_SQLITE):
        database = Path(value[len(_SQLITE) :])
    elif "://" in value or value.startswith("file:") or value.startswith("databricks"):
        return value, None
    else:
        folder = Path(value).expanduser()
        database = folder if folder.suffix in (".db", ".sqlite", ".sqlite3") else folder / "mlflow.db"
    if str(database) == ":memory:":
        raise UserError(
            "an in-memory SQLite tracking store keeps nothing; pass a file, e.g. sqlite:///mlruns/mlflow.db"
        )
    database = database.absolute()
    return f"{_SQLITE}{database}", database.with_name(f"{database.stem}-artifacts")


def prepare_store(tracking_uri: str | None) -> tuple[Any, str, Path | None]:
    """``mlflow``, the resolved URI and the artifact folder of a local store (its folder created); one clear line
    when ``mlflow`` (or, for SQLite, ``sqlalchemy``/``alembic``) is missing or the folder cannot be made."""
    uri, artifact_root = resolve_tracking_uri(tracking_uri)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # offline and private by default
    try:
        import mlflow

        if uri.startswith(_SQLITE):
            import alembic  # noqa: F401 - MLflow's SQLite store needs both; mlflow-skinny does not bring them
            import sqlalchemy  # noqa: F401
    except ImportError as exc:
        raise UserError(f"MLflow export needs {exc.name or 'mlflow'}, which is not installed: {INSTALL_HINT}") from exc
    if artifact_root is not None:
        try:
            artifact_root.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot make the MLflow store folder {artifact_root.parent}: {exc.strerror}") from exc
    return mlflow, uri, artifact_root


def export_runs(
    run_dirs: Iterable[Path],
    tracking_uri: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    echo: Callable[[str], None] | None = None,
) -> ExportSummary:
    """Log every entry of every run folder as one MLflow run (see the module docstring)."""
    from mulcot_bench.report import render_runs
    from mulcot_bench.report.board import read_run

    runs = [read_run(Path(d)) for d in run_dirs]  # every folder checked before anything is logged
    mlflow, uri, artifact_root = prepare_store(tracking_uri)
    from mlflow.exceptions import MlflowException

    summary = ExportSummary(uri, experiment)
    say = echo or (lambda _line: None)
    if artifact_root is None:  # a server: MLflow retries one that does not answer for minutes, silently
        say(f"mlflow: contacting {uri} (MLFLOW_HTTP_REQUEST_MAX_RETRIES bounds its retries)")
    try:
        client = mlflow.MlflowClient(tracking_uri=uri)
        experiment_id = _experiment(client, experiment, artifact_root)
        for run in runs:
            summary.failures += len(run.results.failures)
            with tempfile.TemporaryDirectory(prefix="mulcot-leaderboard-") as tmp:
                tables = render_runs([run.dir], Path(tmp), LEADERBOARD_FORMATS)
                records = entry_records(run.dir, run.results, list(tables.values()))
                for i, record in enumerate(records, 1):
                    outcome = _export_one(client, experiment_id, record, summary)
                    say(f"[{i}/{len(records)}] {run.results.run_id}: {record.name} {outcome}")
    except MlflowException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"MLflow export to {uri} failed: {first}") from exc
    return summary


def _experiment(client: Any, name: str, artifact_root: Path | None) -> str:
    found = client.get_experiment_by_name(name)
    if found is None:
        location = artifact_root.as_uri() if artifact_root is not None else None
        return client.create_experiment(name, artifact_location=location)
    if found.lifecycle_stage != "active":
        raise UserError(f"MLflow experiment {name!r} is deleted; restore it (mlflow experiments restore) "
                        "or pass --experiment with another name")  # fmt: skip
    return found.experiment_id


def _export_one(client: Any, experiment_id: str, record: EntryRecord, summary: ExportSummary) -> str:
    """Log ``record`` unless an identical export exists; returns "logged", "replaced" or "unchanged"."""
    from mlflow.entities import Metric, Param, RunStatus

    summary.missing_files.extend(record.missing)
    earlier = client.search_runs([experiment_id], filter_string=f"tags.`{TAG}.key` = '{record.key}'")
    kept = next((r for r in earlier if r.data.tags.get(f"{TAG}.content") == record.content), None)
    for run in earlier:
        if run is not kept:
            client.delete_run(run.info.run_id)
    if kept is not None:
        summary.unchanged += 1
        return "unchanged"
    run = client.create_run(
        experiment_id,
        start_time=record.started_ms,
        tags={**record.tags, f"{TAG}.key": record.key},
        run_name=record.name,
    )
    run_id = run.info.run_id
    try:
        stamp = record.finished_ms or record.started_ms or 0
        metrics = [Metric(k, v, stamp, 0) for k, v in record.metrics.items()]
        client.log_batch(
            run_id, metrics=metrics, params=[Param(k, _fit(k, v, summary)) for k, v in record.params.items()]
        )
        for artifact in record.artifacts:
            client.log_artifact(run_id, str(artifact.path), artifact.folder or None)
        client.set_tag(run_id, f"{TAG}.content", record.content)  # last: marks the export complete
    except BaseException:
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
        raise
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED), end_time=record.finished_ms)
    if earlier:
        summary.replaced += 1
        return "replaced"
    summary.logged += 1
    return "logged"


def _fit(key: str, value: str, summary: ExportSummary) -> str:
    from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

    if len(value) <= MAX_PARAM_VAL_LENGTH:
        return value
    summary.cut_params.append(key)
    marker = " ... (cut; see results.json)"
    return value[: MAX_PARAM_VAL_LENGTH - len(marker)] + marker
