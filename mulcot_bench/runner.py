"""``mulcot-bench run``: every selected dataset x every selected model, scored, written as JSON, reported."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mulcot_bench import __version__
from mulcot_bench.atomic import write_text
from mulcot_bench.cache import CACHE_ENV, Cache, default_cache_dir
from mulcot_bench.data.images import MissingImagesError
from mulcot_bench.data.views import apply_views
from mulcot_bench.errors import ModelUnavailable, UserError
from mulcot_bench.faults import call_timeout, failpoint
from mulcot_bench.journal import Journal
from mulcot_bench.metrics.classification import invalid_count
from mulcot_bench.metrics.perclass import confusion
from mulcot_bench.pipeline import DatasetPipeline, ModelRun, log
from mulcot_bench.provenance import git_commit, package_versions, platform_string, python_version
from mulcot_bench.redact import redact, redact_obj
from mulcot_bench.registry import Registry
from mulcot_bench.results import (
    DatasetRecord,
    Entry,
    Failure,
    MetricRecord,
    PluginRecord,
    Provenance,
    ReportedEntry,
    RunResults,
)
from mulcot_bench.specs import DatasetSpec, resolve
from mulcot_bench.stats import DEFAULT_RESAMPLES
from mulcot_bench.types import Splits

DATA_ROOT_ENV = "MULCOT_BENCH_DATA_ROOT"
BOOTSTRAP_SEED = 42  # fixed, not the run's seed: intervals of two runs draw the same resamples


def default_data_root() -> Path:
    """``$MULCOT_BENCH_DATA_ROOT``, else ``$XDG_DATA_HOME/mulcot-bench/data``, else ``~/.local/share/...``."""
    if os.environ.get(DATA_ROOT_ENV):
        return Path(os.environ[DATA_ROOT_ENV])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mulcot-bench" / "data"


def safe_name(text: str) -> str:
    """A file-name-safe version of a user or plugin string."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "unnamed"


@dataclass
class RunOptions:
    """What ``run`` does; every field has a CLI option."""

    datasets: list[str] | None = None
    models: list[str] | None = None
    data_root: Path | None = None
    runs_dir: Path = Path("runs")
    reports_dir: Path = Path("reports")
    cache_dir: Path | None = None
    seed: int = 42
    teacher: str | None = None
    dataset_options: dict[str, dict[str, object]] = field(default_factory=dict)
    run_id: str | None = None
    command: str = ""
    model_timeout: float | None = None  # seconds per model call (None: $MULCOT_BENCH_MODEL_TIMEOUT or no limit)
    ablations: list[str] = field(default_factory=list)
    protocol: str = "reference"
    limits: tuple[int, int, int] | None = None
    bootstrap: int = DEFAULT_RESAMPLES


@dataclass
class RunOutcome:
    run_dir: Path
    results: RunResults
    report: Path | None


def select_datasets(registry: Registry, names: list[str] | None) -> list[DatasetSpec]:
    if names is None:
        return list(registry.datasets.values())
    return [registry.dataset(n) for n in names]


def select_models(registry: Registry, names: list[str] | None) -> list[str]:
    if names is None:
        return [n for n, spec in registry.models.items() if spec.card.default]
    for n in names:
        registry.model(n)
    return list(names)


def load_dataset(
    spec: DatasetSpec, data_root: Path | None, options: dict[str, object]
) -> tuple[Splits | None, Path | None]:
    """Load a dataset when it is embedded or present under the data root; (None, None) when missing.

    Raises :class:`~mulcot_bench.data.images.MissingImagesError` when its images are missing and
    ``allow_missing_images`` is not set. That option is dropped for a loader that does not take it.
    """
    import inspect

    folder = spec.locate(data_root)
    if not spec.embedded and folder is None:
        return None, None
    loader = resolve(spec.loader)
    params = inspect.signature(loader).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if "allow_missing_images" in options and not takes_any and "allow_missing_images" not in params:
        options = {k: v for k, v in options.items() if k != "allow_missing_images"}
    data = loader(folder, spec.name, **options)
    return data, folder


def label_counts(data: Splits) -> dict[str, dict[str, int]]:
    return {split: dict(Counter(s.label for s in data.split(split))) for split in ("train", "dev", "test")}


def prediction_records(data: Splits, run: ModelRun) -> list[dict[str, object]]:
    """One record per test sample: id, text, target, image, gold, prediction, rationale, reference, raw."""
    return [
        {
            "id": s.id,
            "text": s.text,
            "target": s.target,
            "image": s.image_ref,
            "gold": s.label,
            "label": p.label,
            "probs": p.probs,
            "rationale": p.rationale,
            "reference": s.rationale,
            "raw": p.raw,
        }
        for s, p in zip(data.test, run.predictions, strict=True)
    ]


def write_predictions(run_dir: Path, dataset: str, run: ModelRun, records: list[dict[str, object]]) -> str:
    """One JSONL per (model, variant, dataset), written atomically; returns its path relative to the run folder."""
    stem = safe_name(run.spec.name) + (f"@{run.variant}" if run.variant else "")
    rel = Path("predictions") / safe_name(dataset) / f"{stem}.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in redact_obj(records)]
    write_text(run_dir / rel, "\n".join(lines) + "\n")
    return rel.as_posix()


class Scorer:
    """Builds each registered metric once and scores model runs with it."""

    def __init__(self, registry: Registry, cache: Cache, resamples: int = DEFAULT_RESAMPLES) -> None:
        self.cache = cache
        self.resamples = resamples
        self.specs = list(registry.metrics.values())
        self.metrics = {spec.id: spec.build() for spec in self.specs}

    def records(self) -> list[MetricRecord]:
        return [
            MetricRecord(
                id=s.id,
                kind=s.kind,
                outputs=s.outputs,
                signature=self.metrics[s.id].signature(),
                summary=list(s.summary) if s.summary is not None else None,
            )
            for s in self.specs
        ]

    def score(self, data: Splits, run: ModelRun) -> dict[str, float | None]:
        scores: dict[str, float | None] = {}
        for spec in self.specs:
            if spec.kind == "rationale" and not run.spec.card.rationale:
                scores.update(dict.fromkeys(spec.outputs))
                continue
            scores.update(self.metrics[spec.id].compute(data.test, run.predictions, self.cache))
        return scores

    def per_sample(
        self, records: list[dict[str, object]], rationale: bool = True
    ) -> dict[str, list[float]]:
        """Bootstrap 95% intervals of every per-sample-decomposable score, and add each record's own scores.

        Intervals are percentile intervals over :attr:`resamples` resamples (seed :data:`BOOTSTRAP_SEED`);
        none with ``resamples`` 0.
        """
        from mulcot_bench.persample import sample_scores

        # like score(): no reasoning metrics for a model that declares no rationale
        seen = records if rationale else [{**r, "rationale": None} for r in records]
        found = sample_scores(seen, self.cache)
        for i, record in enumerate(records):
            record["scores"] = found.row(i)
        if not self.resamples:
            return {}
        intervals = found.intervals(self.resamples, BOOTSTRAP_SEED)
        return {name: [iv.low, iv.high] for name, iv in intervals.items()}

    def bootstrap(self) -> dict[str, object]:
        """How the intervals of this run were computed."""
        if not self.resamples:
            return {"resamples": 0, "note": "intervals switched off (--bootstrap 0)"}
        return {
            "resamples": self.resamples,
            "seed": BOOTSTRAP_SEED,
            "level": 0.95,
            "method": "percentile bootstrap over test samples (numpy PCG64); reasoning metrics over samples "
            "with a reference chain; corpus BLEU recomputed per resample from sentence statistics",
        }


def _provenance(registry: Registry, options: RunOptions, started: str) -> Provenance:
    plugins = [PluginRecord(**vars(p)) for p in registry.loaded.plugins]
    return Provenance(
        mulcot_bench_version=__version__,
        python=python_version(),
        platform=platform_string(),
        packages=package_versions(),
        plugins=plugins,
        git_commit=git_commit(Path(__file__).parent),
        seed=options.seed,
        command=options.command,
        started_at=started,
    )


def run(registry: Registry, options: RunOptions) -> RunOutcome:
    """Run the benchmark and write ``results.json``, predictions and the leaderboard.

    Model calls run under the per-call timeout; model outputs are journalled in the run folder as they are
    made, and a run folder's journal is replayed into the cache first (see :mod:`mulcot_bench.journal`).
    """
    with call_timeout(options.model_timeout):
        return _run(registry, options)


def _run(registry: Registry, options: RunOptions) -> RunOutcome:
    data_root = options.data_root if options.data_root is not None else default_data_root()
    if options.data_root is not None and not options.data_root.is_dir():
        raise UserError(f"data root {options.data_root} does not exist; pass an existing folder to --data-root")
    datasets = select_datasets(registry, options.datasets)
    models = select_models(registry, options.models)
    if options.teacher:
        registry.model(options.teacher)
    started = datetime.now(UTC)
    run_id = options.run_id or started.strftime("%Y%m%d-%H%M%S")
    run_dir = options.runs_dir / safe_name(run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    if options.cache_dir is not None:  # plugins' own caches (image features, converted weights) follow --cache-dir
        os.environ[CACHE_ENV] = str(options.cache_dir)
    cache = Cache(options.cache_dir or default_cache_dir())
    cache.journal = Journal(run_dir / "journal")
    replayed = cache.journal.replay(cache)
    if replayed.restored or replayed.skipped:
        cut = f"; skipped {replayed.skipped} cut-short lines ({', '.join(replayed.skipped_where[:3])})"
        log(
            f"resume: restored {replayed.restored} model outputs from the run journal"
            + (cut if replayed.skipped else "")
        )
    scorer = Scorer(registry, cache, options.bootstrap)
    records: list[DatasetRecord] = []
    entries: list[Entry] = []
    failures = [
        Failure(
            what="plugin",
            reason=f"plugin {p.name!r} ({p.source}) was skipped: {p.error}; fix or uninstall it, "
            f"or block it with MULCOT_BENCH_BLOCK_PLUGINS={p.name}",
        )
        for p in registry.loaded.failures
    ]
    for spec in datasets:
        try:
            data, folder = load_dataset(spec, data_root, options.dataset_options.get(spec.name, {}))
        except MissingImagesError as exc:
            log(f"[{spec.name}] {exc}")
            records.append(_unavailable(spec, "missing-images", str(exc), spec.locate(data_root)))
            continue
        if data is None:
            log(f"[{spec.name}] missing under {data_root}: {spec.how_to_get}")
            records.append(_unavailable(spec, "missing", spec.how_to_get))
            continue
        data = apply_views(data, options.protocol, options.limits, options.seed)
        records.append(
            DatasetRecord(
                name=spec.name,
                title=spec.title,
                level=spec.level,
                status="embedded" if spec.embedded else "present",
                path=str(folder) if folder else None,
                fingerprint=data.fingerprint,
                counts=data.counts(),
                label_counts=label_counts(data),
                headline=list(spec.headline),
                notes=list(getattr(data, "notes", [])),
                protocol=options.protocol,
            )
        )
        pipeline = DatasetPipeline(registry, data, cache, options.seed, models, options.teacher)
        entries.extend(_run_dataset(pipeline, scorer, run_dir, failures, options.ablations))
    results = RunResults(
        run_id=run_id,
        provenance=_provenance(registry, options, started.isoformat()),
        metrics=scorer.records(),
        datasets=records,
        entries=entries,
        failures=failures,
        reported=reported_entries([r.name for r in records]),
        bootstrap=scorer.bootstrap(),
    )
    results.provenance.finished_at = datetime.now(UTC).isoformat()
    if replayed.skipped:
        results.skipped["journal_lines_cut_short"] = replayed.skipped
    results = RunResults.model_validate(redact_obj(results.model_dump(mode="json")))
    results.write(run_dir)
    failpoint("report")
    from mulcot_bench.report import render_report

    out = options.reports_dir / safe_name(run_id)
    if out.resolve() == run_dir.resolve():  # --reports-dir equal to --runs-dir: never render over the run folder
        out = run_dir / "report"
    report = render_report(run_dir, out)
    return RunOutcome(run_dir, results, report)


def _unavailable(spec: DatasetSpec, status: str, message: str, path: Path | None = None) -> DatasetRecord:
    """The record of a dataset that could not run, with what to do about it."""
    notes = [message] if status != "missing" else []
    return DatasetRecord(
        name=spec.name,
        title=spec.title,
        level=spec.level,
        status=status,
        path=str(path) if path else None,
        how_to_get=message,
        headline=list(spec.headline),
        notes=notes,
    )


def reported_entries(datasets: list[str]) -> list[ReportedEntry]:
    """The published rows of the run's datasets (percent, with citations), kept apart from measured entries."""
    from mulcot_bench.reported import load_reported

    return [
        ReportedEntry(
            model=row.model,
            dataset=row.dataset,
            scores=row.scores,
            citation=f"{row.citation.paper} ({row.citation.venue} {row.citation.year})",
            note=row.note,
        )
        for row in load_reported()
        if row.dataset in datasets
    ]


def _run_dataset(
    pipeline: DatasetPipeline, scorer: Scorer, run_dir: Path, failures: list[Failure], ablations: list[str] = ()
) -> list[Entry]:
    """Evaluate every model on one dataset (and each ablation of every non-teacher model); a model that fails
    is recorded and the others go on."""
    name = pipeline.data.name
    runs: list[ModelRun] = []
    try:
        pipeline.teacher_set()
    except Exception as exc:  # a failing teacher stops the pipeline but not the baselines
        failures.append(Failure(what="teacher", dataset=name, model=pipeline.teacher(), reason=_reason(exc)))
    for model, variant in _evaluations(pipeline, ablations):
        try:
            runs.append(pipeline.evaluate(model, variant=variant))
        except ModelUnavailable as exc:
            log(f"[{name}] {model} unavailable: {_reason(exc)}")
            failures.append(Failure(what="unavailable", dataset=name, model=model, reason=_reason(exc)))
        except UserError:
            raise
        except Exception as exc:
            log(f"[{name}] {model} failed: {_reason(exc)}")
            failures.append(Failure(what="model", dataset=name, model=model, reason=_reason(exc)))
    entries = []
    for r in runs:
        failpoint("score")
        pipeline.stage_report(r)
        scores = scorer.score(pipeline.data, r)
        records = prediction_records(pipeline.data, r)
        intervals = scorer.per_sample(records, r.spec.card.rationale)
        entries.append(
            Entry(
                model=r.spec.name,
                role=r.spec.card.role,
                plugin=pipeline.registry.plugin_of("models", r.spec.name),
                plugin_version=pipeline.registry.plugin_version("models", r.spec.name),
                params=r.params,
                dataset=name,
                split="test",
                n=len(r.predictions),
                invalid=invalid_count(r.predictions),
                scores=scores,
                predictions_file=write_predictions(run_dir, name, r, records),
                identity=r.identity,
                settings=r.spec.card.settings,
                assistant=r.assistant,
                stage=r.stage,
                cached=r.cached,
                confusion=confusion(pipeline.data.test, r.predictions),
                variant=r.variant,
                intervals=intervals,
            )
        )
    return entries


def _evaluations(pipeline: DatasetPipeline, ablations: list[str]) -> list[tuple[str, str | None]]:
    """(model, variant) pairs in pipeline order; teachers are not ablated (they serve training data)."""
    out: list[tuple[str, str | None]] = []
    for model in pipeline.order():
        out.append((model, None))
        if pipeline.registry.model(model).card.role != "teacher":
            out.extend((model, v) for v in ablations)
    return out


def _reason(exc: BaseException) -> str:
    return redact(f"{type(exc).__name__}: {exc}".splitlines()[0])[:500]


def exit_summary(outcome: RunOutcome) -> str:
    res = outcome.results
    done = len(res.entries)
    lines = [f"run {res.run_id}: {done} results, {len(res.failures)} failures -> {outcome.run_dir / 'results.json'}"]
    if outcome.report:
        lines.append(f"leaderboard: {outcome.report}")
    for f in res.failures:
        where = " ".join(x for x in (f.model, f"on {f.dataset}" if f.dataset else None) if x)
        lines.append(f"FAILED {f.what} {where}: {f.reason}".replace("  ", " "))
    return redact("\n".join(lines))
