"""``mulcot-bench run``: every selected dataset x every selected model, scored, written as JSON, reported."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mulcot_bench import __version__
from mulcot_bench.atomic import write_text
from mulcot_bench.cache import Cache
from mulcot_bench.console.logs import RUN_LOG, errors_only, open_run_log, run_log
from mulcot_bench.efficiency.machine import machine
from mulcot_bench.efficiency.schema import Machine
from mulcot_bench.errors import ModelUnavailable, UserError, describe
from mulcot_bench.faults import call_timeout, failpoint
from mulcot_bench.journal import Journal, ReplayCounts
from mulcot_bench.metrics.classification import invalid_count
from mulcot_bench.metrics.perclass import confusion
from mulcot_bench.parallel.collect import RankLost, barrier, broadcast_json
from mulcot_bench.parallel.layout import choose
from mulcot_bench.parallel.shards import close_cache, open_cache
from mulcot_bench.parallel.world import World, finish, joined_here, note_run, start
from mulcot_bench.paths import CACHE_ENV, default_cache_dir, default_data_root, safe_name
from mulcot_bench.plugin.registry import Registry
from mulcot_bench.plugin.specs import DatasetSpec
from mulcot_bench.redact import redact, redact_obj
from mulcot_bench.reported import reported_entries
from mulcot_bench.results import DatasetRecord, Entry, Failure, PluginRecord, Provenance, RunResults
from mulcot_bench.runner.checkpoints import check_checkpoints, untrained
from mulcot_bench.runner.costs import entry_costs
from mulcot_bench.runner.intake import Taken, take_in, train_served
from mulcot_bench.runner.options import RunOptions, RunOutcome
from mulcot_bench.runner.pipeline import DatasetPipeline, ModelRun, log
from mulcot_bench.runner.predictions import prediction_records, write_predictions
from mulcot_bench.runner.preflight import preflight
from mulcot_bench.runner.progress import Meter, Steps
from mulcot_bench.runner.provenance import git_commit, package_versions, platform_string, python_version
from mulcot_bench.runner.seeds import aggregate
from mulcot_bench.runner.selection import (
    NEEDS_IMAGES,
    OUT_OF_SCOPE,
    note_needing_images,
    note_out_of_scope,
    readable,
    scoped,
    select_datasets,
    select_models,
    text_half,
)
from mulcot_bench.scoring.metric import SampleScores
from mulcot_bench.scoring.scorer import Scorer
from mulcot_bench.types import Sample

#: a caller's check of the loaded datasets, before anything of the run is written (see :func:`run`)
Check = Callable[[list[Taken]], None]


def run_provenance(registry: Registry, options: RunOptions, started: str) -> Provenance:
    """What produced a run: versions, platform, plugins, git commit, seed, command and ``--config`` file."""
    plugins = [PluginRecord(**vars(p)) for p in registry.loaded.plugins]
    return Provenance(
        mulcot_bench_version=__version__,
        python=python_version(),
        platform=platform_string(),
        packages=package_versions(),
        plugins=plugins,
        git_commit=git_commit(Path(__file__).parent),
        seed=options.seed,
        seeds=list(options.seeds or []),
        command=options.command,
        started_at=started,
        config=options.config,
        machine=Machine(**machine()),
    )


def run(registry: Registry, options: RunOptions, check: Check | None = None) -> RunOutcome:
    """Run the benchmark and write ``results.json``, predictions and the leaderboard.

    ``check`` (``score``: the file's ids against the test split) sees the loaded datasets before anything is
    written; a :class:`UserError` it raises stops the run there.

    Model calls run under the per-call timeout; model outputs are journalled in the run folder as they are
    made, and a run folder's journal is replayed into the cache first (see :mod:`mulcot_bench.journal`).
    """
    joined = joined_here()  # ``distill`` joins the group itself and leaves it itself
    world = start(options.device)
    if not world.main:
        errors_only()
    try:
        with call_timeout(options.model_timeout), run_log():
            outcome = _run(registry, options, world, check)
    except BaseException:
        if not joined:
            finish(clean=False)  # the other ranks may be gone: no barrier
        raise
    if not joined:
        finish()
    return outcome


def check_selection(registry: Registry, options: RunOptions) -> tuple[Path, list[DatasetSpec], list[str]]:
    """The data root, datasets and models a run takes; bad input (an unknown name, a missing data root, a model
    that would need training under ``--no-train``) raises :class:`UserError` before anything is written."""
    data_root = options.data_root if options.data_root is not None else default_data_root()
    if options.data_root is not None and not options.data_root.is_dir():
        raise UserError(f"data root {options.data_root} does not exist; pass an existing folder to --data-root")
    datasets = select_datasets(registry, options.datasets)
    models = select_models(registry, options.models)
    if options.teacher:
        registry.model(options.teacher)
    check_checkpoints(registry, options.checkpoints)
    if not options.train and (need := untrained(registry, models, options.checkpoints)):
        raise UserError(
            f"not training, but {', '.join(need)} would need training; give each a checkpoint "
            f"(-o {need[0]}.checkpoint=PATH, a folder its save() wrote) or leave it out"
        )
    return data_root, datasets, models


@dataclass
class _Session:
    """A run under way: what it runs with, where it writes (its folder and cache), the failures so far."""

    registry: Registry
    options: RunOptions
    world: World
    run_id: str
    run_dir: Path
    cache_dir: Path
    layout: str
    cache: Cache
    replayed: ReplayCounts
    failures: list[Failure] = field(default_factory=list)


def _run(registry: Registry, options: RunOptions, world: World, check: Check | None = None) -> RunOutcome:
    data_root, datasets, models = check_selection(registry, options)
    started = datetime.now(UTC)
    probed = [m for m in [*models, *([options.teacher] if options.teacher else [])] if m not in options.checkpoints]
    unreachable = probe_models(registry, probed)  # a checkpointed model's weights are its checkpoint, not probed
    models = [m for m in models if m not in unreachable]
    # a named dataset that cannot run stops here, nothing written
    taken = take_in(datasets, data_root, options, train_served(registry, options.teacher))
    if check is not None:
        check(taken)
    preflight(registry, taken, models, unreachable)
    session = _open_session(registry, options, world, started)
    scorer = Scorer(registry, session.cache, options.bootstrap)
    session.failures = [
        Failure(
            what="plugin",
            reason=f"plugin {p.name!r} ({p.source}) was skipped: {p.error}; fix or uninstall it, "
            f"or block it with MULCOT_BENCH_BLOCK_PLUGINS={p.name}",
        )
        for p in registry.loaded.failures
    ]
    session.failures += [Failure(what="unavailable", model=name, reason=why) for name, why in unreachable.items()]
    records: list[DatasetRecord] = [t.record for t in taken]
    entries, skipped = _evaluate_taken(session, scorer, taken, models, unreachable)
    results = _results(session, scorer, started, records, entries, skipped)
    merged = close_cache(session.cache, session.layout, world)
    if merged:
        log(f"cache: merged {merged} rank shard file(s) into {session.cache_dir}")
    if not world.main:  # rank 0 scores and writes the run's files
        return RunOutcome(session.run_dir, results, None, main=False)
    results.write(session.run_dir)
    return RunOutcome(session.run_dir, results, render(session.run_dir, options))


def _open_session(registry: Registry, options: RunOptions, world: World, started: datetime) -> _Session:
    """The run's id, folder and log, and its cache with the run folder's journal replayed into it."""
    cache_dir = options.cache_dir or default_cache_dir()
    layout = choose(options.cache_layout, world, cache_dir)  # an unsafe layout is refused before anything is written
    run_id = broadcast_json(options.run_id or started.strftime("%Y%m%d-%H%M%S"), "choosing the run id")
    note_run(run_id)
    run_dir = options.runs_dir / safe_name(run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    open_run_log(run_dir, RUN_LOG if world.main else f"run.rank{world.rank}.log")
    if options.cache_dir is not None:  # plugins' own caches (image features, converted weights) follow --cache-dir
        os.environ[CACHE_ENV] = str(options.cache_dir)
    if world.size > 1:
        log(f"data-parallel: {world.size} ranks ({world.local_size} on this machine), cache layout {layout}")
    cache = open_cache(cache_dir, layout, world)
    cache.journal = Journal(run_dir / "journal", "" if world.main else f".rank{world.rank}")
    # shared: rank 0 replays the journals for all ranks; sharded: each rank into its own shard file
    replays = world.main or layout == "sharded"
    replayed = cache.journal.replay(cache) if replays else ReplayCounts()
    barrier("replaying the journal")
    if replayed.restored or replayed.skipped:
        cut = f"; skipped {replayed.skipped} cut-short lines ({', '.join(replayed.skipped_where[:3])})"
        log(
            f"resume: restored {replayed.restored} model outputs from the run journal"
            + (cut if replayed.skipped else "")
        )
    return _Session(registry, options, world, run_id, run_dir, cache_dir, layout, cache, replayed)


def _evaluate_taken(
    session: _Session, scorer: Scorer, taken: list[Taken], models: list[str], unreachable: dict[str, str]
) -> tuple[list[Entry], dict[str, int]]:
    """Every dataset that loaded, with the models in its scope that can read it: (their entries, how many
    (dataset, model) pairs were left out, by reason)."""
    registry, options = session.registry, session.options
    entries: list[Entry] = []
    skipped = {OUT_OF_SCOPE: 0, NEEDS_IMAGES: 0}
    for item in taken:
        if item.data is None:
            continue
        here, left_out = scoped(registry, models, item.data.name, named=options.models is not None)
        if left_out:
            log(f"[{item.data.name}] {note_out_of_scope(item.record, left_out, registry)}")
            skipped[OUT_OF_SCOPE] += len(left_out)
        here, cannot = readable(registry, here, item.record.modality)
        if cannot:
            log(f"[{item.data.name}] {note_needing_images(item.record, cannot)}")
            skipped[NEEDS_IMAGES] += len(cannot)
        failed_teacher = options.teacher if options.teacher in unreachable else None
        entries.extend(_evaluate_seeds(session, scorer, item, here, failed_teacher))
    return entries, {k: n for k, n in skipped.items() if n}


def _evaluate_seeds(
    session: _Session, scorer: Scorer, item: Taken, models: list[str], failed_teacher: str | None
) -> list[Entry]:
    """One dataset's entries: each seed's pass (``--seeds``) aggregated, or the one seed's."""
    options = session.options
    data, item.data = item.data, None  # the pipelines hold it; let it go with them
    seeds = options.seeds or [options.seed]
    scored: list[tuple[Entry, SampleScores]] = []
    for i, seed in enumerate(seeds):
        if len(seeds) > 1:
            log(f"[{data.name}] seed {seed} ({i + 1}/{len(seeds)})")
        pipeline = DatasetPipeline(
            session.registry, data, session.cache, seed, models, options.teacher, checkpoints=options.checkpoints,
            chain_filter=options.chain_filter, teacher_row=options.teacher_row, augment_for=options.augment_for,
            train_chains=options.train_chains, run_id=session.run_id,
        )
        if failed_teacher:
            pipeline.mark_teacher_failed(failed_teacher)
        if i == 0:
            item.record.references = references(pipeline, session.failures)
            item.record.references.update(reference_health(pipeline.data.test, scorer))
            data = pipeline.data  # with the references the teacher wrote, for every later seed
        scored += evaluate_dataset(
            pipeline, scorer, session.run_dir, session.failures, options.ablations, seed if options.seeds else None,
            i > 0, score=session.world.main,
        )
        failed_teacher = pipeline.failed_teacher()  # asked once: later seeds do not ask a failed teacher again
    return aggregate(scored, scorer) if options.seeds else [e for e, _ in scored]


def _results(
    session: _Session,
    scorer: Scorer,
    started: datetime,
    records: list[DatasetRecord],
    entries: list[Entry],
    skipped: dict[str, int],
) -> RunResults:
    """The run's results, finished now, with what was skipped, redacted."""
    results = RunResults(
        run_id=session.run_id,
        provenance=run_provenance(session.registry, session.options, started.isoformat()),
        metrics=scorer.records(),
        datasets=records,
        entries=entries,
        failures=session.failures,
        reported=reported_entries([r.name for r in records]),
        bootstrap=scorer.bootstrap(),
    )
    results.provenance.finished_at = datetime.now(UTC).isoformat()
    if session.replayed.skipped:
        results.skipped["journal_lines_cut_short"] = session.replayed.skipped
    results.skipped.update(skipped)
    return RunResults.model_validate(redact_obj(results.model_dump(mode="json")))


def render(run_dir: Path, options: RunOptions) -> Path | None:
    """The leaderboard of a written run folder under ``--reports-dir`` (None with ``report`` off: a launcher's job)."""
    if not options.report:
        return None
    failpoint("report")
    from mulcot_bench.report import render_report

    out = options.reports_dir / run_dir.name
    if out.resolve() == run_dir.resolve():  # --reports-dir equal to --runs-dir: never render over the run folder
        out = run_dir / "report"
    return render_report(run_dir, out)


def probe_models(registry: Registry, names: list[str]) -> dict[str, str]:
    """Fail fast: each model whose factory has ``probe(card)`` (the endpoint models) is probed before any other
    work of the run; one that raises :class:`ModelUnavailable` is left out, with its reason (one line each)."""
    from mulcot_bench.plugin.specs import resolve

    out: dict[str, str] = {}
    for name in dict.fromkeys(names):
        spec = registry.model(name)
        try:
            factory = resolve(spec.factory)
        except Exception:  # noqa: BLE001 - a factory that cannot load fails later, where it is recorded as usual
            continue
        probe = getattr(factory, "probe", None)
        if not callable(probe):
            continue
        try:
            probe(spec.card)
        except ModelUnavailable as exc:
            out[name] = _reason(exc)
    return out


def references(pipeline: DatasetPipeline, failures: list[Failure]) -> dict[str, object]:
    """The test references' provenance (:meth:`DatasetPipeline.add_references`); a teacher that fails on them
    is recorded (then it is not asked again for the training chains either)."""
    try:
        return pipeline.add_references()
    except RankLost:
        raise
    except Exception as exc:
        name, reason = pipeline.data.name, _reason(exc)
        log(f"[{name}] teacher {pipeline.teacher()} failed on the test references: {reason}")
        failures.append(Failure(what="teacher", dataset=name, model=pipeline.teacher(), reason=reason))
        return {"split": "test", "source": "none", "note": f"the teacher failed: {reason}"}


def reference_health(test: list[Sample], scorer: Scorer) -> dict[str, object]:
    """The reasoning-health scores of the test references themselves (the ceiling row of the dataset's table):
    ``{"health": {"scores", "intervals", "n"}}``, or nothing when no test item has a reference."""
    from mulcot_bench.metrics.health import reference_ceiling

    found = reference_ceiling(test)
    if not found.values:
        return {}
    scores = {name: _mean([v for v in column if v is not None]) for name, column in found.values.items()}
    n = sum(1 for s in test if s.rationale)
    return {"health": {"scores": scores, "intervals": scorer.intervals(found), "n": n}}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def run_dataset(
    pipeline: DatasetPipeline, scorer: Scorer, run_dir: Path, failures: list[Failure], ablations: list[str] = ()
) -> list[Entry]:
    """Evaluate every model on one dataset (and each ablation of every non-teacher model); a model that fails
    is recorded and the others go on."""
    return [entry for entry, _ in evaluate_dataset(pipeline, scorer, run_dir, failures, ablations)]


def evaluate_dataset(
    pipeline: DatasetPipeline,
    scorer: Scorer,
    run_dir: Path,
    failures: list[Failure],
    ablations: list[str] = (),
    seed: int | None = None,
    trained_only: bool = False,
    score: bool = True,
) -> list[tuple[Entry, SampleScores]]:
    """:func:`run_dataset`, each entry with its per-sample scores. ``seed`` (``--seeds``): the seed this pass
    trains with, recorded on its entries, failures and predictions files; ``trained_only``: only the models
    this seed trains (a later seed does not evaluate the untrained models again); ``score`` False (the other
    ranks of a data-parallel run): the models run, nothing is scored or written."""
    name = pipeline.data.name
    failed = _FailureLog(failures, name, seed)
    # no teacher stage for models that need none (zero-shot, rules), nor for a teacher whose probe failed
    teach = pipeline.needs_teacher_set() and pipeline.failed_teacher() is None
    evaluations = [
        (model, variant)
        for model, variant in _evaluations(pipeline, ablations)
        if not trained_only or pipeline.trains(model)
    ]
    steps = Steps(name + (f" seed {seed}" if seed is not None else ""), int(teach) + len(evaluations) + 1)
    if teach:
        _teacher_stage(pipeline, steps, failed)
    runs = _model_runs(pipeline, evaluations, steps, failed)
    for learner in pipeline.augment_for:
        augment_for(pipeline, learner, run_dir)
    if pipeline.augment_for:
        lowest_priority()  # the launcher gave this job's slot to the learners; what is left waits for nothing
    if not score:
        return []
    return _score_runs(pipeline, scorer, runs, run_dir, seed, steps)


def augment_for(pipeline: DatasetPipeline, learner: str, run_dir: Path) -> None:
    """Stage 2b in an assistant's job for a learner that runs in a job of its own (``--augment-for``): the
    assistant's sampled chains cached and counted on the assistant's row, as one process counts them, then a
    file ``augmented/<assistant>.json`` that lets the learner's job start. A failure is only logged here: the
    learner's job meets it again and records it."""
    assistant = pipeline.assistant_for(learner) or learner
    try:
        pipeline.train_set(learner)
    except Exception as exc:  # noqa: BLE001 - recorded by the learner's own job
        log(f"[{pipeline.data.name}] augmentation for {learner} failed here (its own job records it): {_reason(exc)}")
        return
    counts = pipeline.stage_of(assistant).get("augmentation", {})
    write_text(run_dir / "augmented" / f"{safe_name(assistant)}.json", json.dumps(counts, indent=1))


def lowest_priority() -> None:
    """Run the rest of this process at the lowest CPU priority (``nice`` 19); results do not depend on it."""
    try:
        os.nice(19 - os.nice(0))
    except OSError as exc:  # not allowed here: the job keeps its priority, and only the run's speed differs
        log(f"could not lower this job's CPU priority ({exc}); it keeps its own")


@dataclass
class _FailureLog:
    """The failures of one pass over a dataset: each logged in one line and recorded."""

    failures: list[Failure]
    dataset: str
    seed: int | None

    def record(self, what: str, model: str | None, exc: BaseException) -> None:
        said = f"{model} unavailable" if what == "unavailable" else f"{'teacher ' * (what == 'teacher')}{model} failed"
        seed = self.seed
        log(f"[{self.dataset}] {said}{f' (seed {seed})' if seed is not None else ''}: {_reason(exc)}")
        self.failures.append(Failure(what=what, dataset=self.dataset, model=model, reason=_reason(exc), seed=seed))


def _teacher_stage(pipeline: DatasetPipeline, steps: Steps, failed: _FailureLog) -> None:
    """Stage 1, the teacher's chains for the train split; a failing teacher is recorded, the baselines go on."""
    try:
        steps.next(f"teacher {pipeline.teacher()}: chains for the train split")
        pipeline.teacher_set()
    except RankLost:  # another rank stopped: this rank stops too (one line from the CLI), not a teacher failure
        raise
    except Exception as exc:  # a failing teacher stops the pipeline but not the baselines
        failed.record("teacher", pipeline.teacher(), exc)


def _model_runs(
    pipeline: DatasetPipeline, evaluations: list[tuple[str, str | None]], steps: Steps, failed: _FailureLog
) -> list[ModelRun]:
    """Each (model, variant) trained or loaded and run on the test split; a model that fails is recorded."""
    runs: list[ModelRun] = []
    for model, variant in evaluations:
        steps.next(model + (f" ({variant})" if variant else ""))
        if model == pipeline.failed_teacher():
            continue  # recorded once above; asking it again for a row of its own would only repeat the cause
        try:
            runs.append(pipeline.evaluate(model, variant=variant))
        except ModelUnavailable as exc:
            failed.record("unavailable", model, exc)
        except UserError:
            raise
        except Exception as exc:
            failed.record("model", model, exc)
    return runs


def _score_runs(
    pipeline: DatasetPipeline, scorer: Scorer, runs: list[ModelRun], run_dir: Path, seed: int | None, steps: Steps
) -> list[tuple[Entry, SampleScores]]:
    """Every run scored (the chains they share primed once) and its predictions written: its entry and scores."""
    name = pipeline.data.name
    steps.next(f"scoring {len(runs)} model(s)")
    chains = [r.predictions for r in runs if r.spec.card.rationale and any(p.rationale for p in r.predictions)]
    if chains:  # primed in one pass per metric, with a line as each metric starts (scoring chains takes minutes)
        log(f"[{name}] scoring: the chains of {len(chains)} model(s) against the references, the shared ones once")
        scorer.prime(
            pipeline.data.test, chains, lambda metric, i, n: log(f"[{name}] scoring chains: {metric} ({i}/{n})")
        )
    out: list[tuple[Entry, SampleScores]] = []
    meter = Meter(f"[{name}] scoring", len(runs), unit="model")
    for r in runs:
        failpoint("score")
        out.append(_entry(pipeline, scorer, r, run_dir, seed))
        meter.update(1)
    meter.close()
    return out


def _entry(
    pipeline: DatasetPipeline, scorer: Scorer, r: ModelRun, run_dir: Path, seed: int | None
) -> tuple[Entry, SampleScores]:
    """One run's entry (its predictions file written) and its per-sample scores."""
    name = pipeline.data.name
    pipeline.stage_report(r)
    rationale = r.spec.card.rationale
    scores = scorer.score(pipeline.data.test, r.predictions, rationale)
    records, prompt_note = prediction_records(pipeline.data, r)
    found = scorer.sample_scores(pipeline.data.test, r.predictions, rationale)
    for i, record in enumerate(records):
        record["scores"] = found.row(i)
    intervals = scorer.intervals(found)
    trained = pipeline.trains(r.spec.name)
    entry = Entry(
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
        predictions_file=write_predictions(run_dir, name, r, records, seed if trained else None),
        identity=r.identity,
        settings=r.spec.card.settings,
        runtime=r.spec.card.runtime,
        assistant=r.assistant,
        stage=r.stage,
        cached=r.cached,
        confusion=confusion(pipeline.data.test, r.predictions),
        variant=r.variant,
        inputs=text_half(r.spec.card, getattr(pipeline.data, "modality", "multimodal")),
        intervals=intervals,
        checkpoint=r.checkpoint,
        seed=pipeline.seed if trained else None,
        prompt_note=prompt_note,
        efficiency=entry_costs(pipeline, r),
    )
    return entry, found


def _evaluations(pipeline: DatasetPipeline, ablations: list[str]) -> list[tuple[str, str | None]]:
    """(model, variant) pairs in pipeline order; teachers are not ablated (they serve training data)."""
    out: list[tuple[str, str | None]] = []
    for model in pipeline.order():
        out.append((model, None))
        if pipeline.handle(model).card.role != "teacher":
            out.extend((model, v) for v in ablations)
    return out


def _reason(exc: BaseException) -> str:
    return redact(describe(exc).splitlines()[0])[:500]
