"""``run --launcher`` (and ``run --jobs N``): the run fanned out as independent jobs, one ``mulcot-bench run`` per
(dataset, model group), or per chain step where the launcher honours dependencies (:mod:`~mulcot_bench.runner.jobs`).

Every job shares the cache and writes its own run folder under ``<run folder>/jobs/<job>`` without a
leaderboard; the parent waits (a line per finished job and every few seconds: jobs done, failed, ETA), merges
the jobs' ``results.json`` and predictions files into ``<run folder>`` and renders the one leaderboard. A job that
wrote no results is a failure naming the job and its log file (the run exits 1); it is never dropped.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mulcot_bench.cache import Cache, key
from mulcot_bench.console.logs import open_run_log, run_log
from mulcot_bench.paths import default_cache_dir, safe_name
from mulcot_bench.plugin.registry import Registry
from mulcot_bench.redact import redact, redact_obj
from mulcot_bench.reported import reported_entries
from mulcot_bench.results import Failure, JobRecord, LauncherRecord, RunResults
from mulcot_bench.runner.intake import take_in, train_served
from mulcot_bench.runner.jobs import Job, by_critical_path, job_cost, plan_jobs
from mulcot_bench.runner.launchers import Started, open_launcher, parse_launcher_args
from mulcot_bench.runner.merge import (
    copy_predictions,
    merge_datasets,
    merge_entries,
    merge_failures,
    merge_metrics,
    merge_skipped,
)
from mulcot_bench.runner.options import RunOptions, RunOutcome
from mulcot_bench.runner.orchestrate import check_selection, render, run_provenance
from mulcot_bench.runner.pipeline import log
from mulcot_bench.runner.preflight import preflight
from mulcot_bench.runner.progress import LINE_EVERY, duration, eta
from mulcot_bench.runner.selection import OUT_OF_SCOPE, note_out_of_scope, scoped
from mulcot_bench.scoring.scorer import Scorer

POLL_SECONDS = 1.0
#: the cache namespace of job receipts: a job's slice ran to the end, with no failure, on this cache
RECEIPTS = "job-receipt"
JOBS_FOLDER = "jobs"  # <run folder>/jobs/<job>: each job's own run folder
LOGS_FOLDER = "launcher"  # <run folder>/launcher: the launcher's logs of the jobs


@dataclass
class Launch:
    """How to fan a run out: the launcher, its ``--launcher-arg`` settings, and the ``run`` options every job
    repeats from the parent's command line (datasets, models and folders are set per job)."""

    name: str
    settings: list[str] = field(default_factory=list)
    job_args: list[str] = field(default_factory=list)


def job_command(job: Job, launch: Launch, options: RunOptions, jobs_dir: Path) -> list[str]:
    """The ``mulcot-bench run`` command line of one job: its slice, the shared cache, its own run folder."""
    cmd = [sys.executable, "-m", "mulcot_bench.cli", "run", *launch.job_args, "-d", job.dataset]
    for model in job.models:
        cmd += ["-m", model]
    cmd += ["--cache-dir", str((options.cache_dir or default_cache_dir()).resolve())]
    if options.data_root is not None:
        cmd += ["--data-root", str(options.data_root.resolve())]
    cmd += ["--runs-dir", str(jobs_dir.resolve()), "--run-id", job.name, "--no-report", "--jobs", "1"]
    cmd += [x for learner in job.augment_for for x in ("--augment-for", learner)]
    return cmd + ([] if options.train else ["--no-train"]) + ([] if job.teacher_row else ["--no-teacher-row"])


def ready_file(job: Job, plan: list[Job], jobs_dir: Path) -> Path | None:
    """The file whose existence says a job may start before the job it comes after has ended, in that job's run
    folder: ``augmented/<assistant>.json`` where that job samples the assistant's chains for the learners (stage
    2b done), else the assistant's journal (its first answer is written after it was trained and stored)."""
    if job.needs is None or len(job.after) != 1:
        return None
    head = next((j for j in plan if j.name == job.after[0]), None)
    folder = jobs_dir / job.after[0]
    if head is not None and head.augment_for:
        return folder / "augmented" / f"{safe_name(job.needs)}.json"
    return folder / "journal" / f"{safe_name(job.needs)}.jsonl"


def yield_file(job: Job, plan: list[Job], jobs_dir: Path) -> Path | None:
    """The file after whose writing ``job`` holds no slot: the ready file of the learners it samples chains for
    (what is left of it then, scoring, runs at the lowest priority; see
    :class:`~mulcot_bench.runner.launchers.LocalLauncher`)."""
    if not job.augment_for:
        return None
    return next((f for j in plan if j.after == (job.name,) and (f := ready_file(j, plan, jobs_dir))), None)


def receipt_key(job: Job, launch: Launch, options: RunOptions) -> str:
    """What a job's receipt is filed under: its slice, the options it repeats, the data root, the version."""
    from mulcot_bench import __version__

    return key(job.dataset, list(job.models), launch.job_args, str(options.data_root), options.train, __version__)


def all_received(plan: list[Job], launch: Launch, options: RunOptions) -> bool:
    """Whether every job of ``plan`` ran to the end before on this cache: then the run has little left to
    compute, and one process does it faster than starting the jobs. Only the way of running depends on this,
    never a result (a stale receipt costs time, not correctness)."""
    cache = Cache(options.cache_dir or default_cache_dir())
    try:
        return all(cache.get(RECEIPTS, receipt_key(job, launch, options)) for job in plan)
    finally:
        cache.close()


def run_fanout(registry: Registry, options: RunOptions, launch: Launch) -> RunOutcome:
    """Run every (dataset, model group) job through the launcher, wait, merge and render; see the module."""
    with run_log():
        return _fanout(registry, options, launch)


def _fanout(registry: Registry, options: RunOptions, launch: Launch) -> RunOutcome:
    settings = parse_launcher_args(launch.name, launch.settings)
    data_root, datasets, models = check_selection(registry, options)
    started = datetime.now(UTC)
    run_id = options.run_id or started.strftime("%Y%m%d-%H%M%S")
    run_dir = options.runs_dir / safe_name(run_id)
    launcher = open_launcher(launch.name, (run_dir / LOGS_FOLDER).resolve(), settings)
    # a named dataset that cannot run stops here, nothing written; the views are the jobs' (--protocol auto asks
    # whether a teacher serves each train split, as one process does)
    taken = take_in(datasets, data_root, options, train_served(registry, options.teacher))
    preflight(registry, taken, models, {})
    running = [t.record.name for t in taken if t.data is not None]
    for t in taken:
        t.data = None  # the jobs load their own
    run_dir.mkdir(parents=True, exist_ok=True)
    open_run_log(run_dir)
    jobs_dir = run_dir / JOBS_FOLDER
    plan = plan_jobs(registry, running, models, named=options.models is not None, split=launcher.honours_after)
    sizes = {t.record.name: t.record.counts.get("train", 0) for t in taken}
    if launcher.honours_after:  # the longest line of work first
        plan = by_critical_path(registry, plan, sizes)
    log(f"launcher {launcher.name}: {len(plan)} job(s): {', '.join(j.name for j in plan) or 'none'}")
    submitted: list[tuple[Job, Started]] = []
    try:
        for job in plan:
            (jobs_dir / job.name / "results.json").unlink(missing_ok=True)  # an earlier attempt's are not this one's
            command = job_command(job, launch, options, jobs_dir)
            ready, yields = ready_file(job, plan, jobs_dir), yield_file(job, plan, jobs_dir)
            queued = launcher.submit(job.name, command, Path.cwd(), job.after, ready, yields)
            submitted.append((job, queued))
        spans = wait(launcher, [(s, jobs_dir / job.name / "results.json", job_cost(registry, job, sizes))
                                for job, s in submitted])  # fmt: skip
        log_spans([job for job, _ in submitted], spans)
    except KeyboardInterrupt:
        for _, s in submitted:
            launcher.cancel(s)
        raise
    parts, records, own = collect(launcher, submitted, jobs_dir, run_dir)
    file_receipts([job for (job, _), r in zip(submitted, records, strict=True) if r.status == "done"], parts,
                  launch, options)  # fmt: skip
    provenance = run_provenance(registry, options, started.isoformat())
    provenance.launcher = LauncherRecord(name=launcher.name, settings={k: str(v) for k, v in settings.items()},
                                         jobs=records)  # fmt: skip
    datasets_run = merge_datasets(parts, [t.record for t in taken])
    names = [r.name for r in datasets_run]
    scorer = None if parts else Scorer(registry, None, options.bootstrap)  # no job wrote results: the metrics' own
    results = RunResults(
        run_id=run_id,
        provenance=provenance,
        metrics=merge_metrics(parts) if scorer is None else scorer.records(),
        datasets=datasets_run,
        entries=merge_entries(parts, names, models, options.ablations),
        failures=merge_failures(parts, own),
        skipped=merge_skipped(parts),
        reported=reported_entries(names),
        bootstrap=parts[0].bootstrap if scorer is None else scorer.bootstrap(),
    )
    for record in datasets_run:  # as one process records them: the models left out of a dataset's scope
        left_out = scoped(registry, models, record.name, named=options.models is not None)[1]
        if left_out and record.name in running:
            note_out_of_scope(record, left_out, registry)
            results.skipped[OUT_OF_SCOPE] = results.skipped.get(OUT_OF_SCOPE, 0) + len(left_out)
    results.provenance.finished_at = datetime.now(UTC).isoformat()
    results = RunResults.model_validate(redact_obj(results.model_dump(mode="json")))
    results.write(run_dir)
    return RunOutcome(run_dir, results, render(run_dir, options))


def file_receipts(done: list[Job], parts: list[RunResults], launch: Launch, options: RunOptions) -> None:
    """A receipt in the cache for each job that wrote results without a failure (see :func:`all_received`);
    ``parts``: the results of the ``done`` jobs, in the same order."""
    clean = [job for job, part in zip(done, parts, strict=True) if not part.failures]
    if not clean:
        return
    cache = Cache(options.cache_dir or default_cache_dir())
    try:
        cache.put_many(RECEIPTS, {receipt_key(job, launch, options): {"job": job.name} for job in clean})
    finally:
        cache.close()


def collect(
    launcher: Any, submitted: list[tuple[Job, Started]], jobs_dir: Path, run_dir: Path
) -> tuple[list[RunResults], list[JobRecord], list[Failure]]:
    """Each ended job's results (its predictions files copied into ``run_dir``), its record, and a failure for
    each job that left no readable ``results.json``."""
    parts: list[RunResults] = []
    records: list[JobRecord] = []
    own: list[Failure] = []
    copied: set[str] = set()
    for job, s in submitted:
        job_dir = jobs_dir / job.name
        why = ""
        if not (job_dir / "results.json").is_file():
            why = f"wrote no results ({launcher.outcome(s)})"
        else:
            try:
                part = RunResults.read(job_dir)
            except (OSError, ValueError) as exc:
                why = f"wrote results that do not read ({str(exc).splitlines()[0]})"
            else:
                parts.append(part)
                copy_predictions(job_dir, run_dir, part.entries, copied)
        if why:
            reason = redact(f"job {job.name} ({s.job_id}) {why}; see its log {s.log}")
            own.append(Failure(what="job", dataset=job.dataset, model=", ".join(job.models), reason=reason))
        records.append(JobRecord(
            name=job.name, dataset=job.dataset, models=list(job.models), job_id=s.job_id, command=s.command,
            log=str(s.log), status="failed" if why else "done",
        ))  # fmt: skip
    return parts, records, own


def wait(launcher: Any, jobs: list[tuple[Started, Path, float]]) -> dict[str, tuple[float, float]]:
    """Until every job has ended: a line as each starts and ends (did it write its ``results.json``?) and every
    :data:`LINE_EVERY` seconds (jobs ended, failed, ETA; each running job's latest progress line). The ETA weighs
    each job by its estimated cost (the third item; :func:`~mulcot_bench.runner.jobs.job_cost`). Returns each
    job's (start, end) in seconds from the first submission, as seen while polling."""
    start = last = time.monotonic()
    spans: dict[str, tuple[float, float]] = {}
    ended: set[str] = set()
    seen: set[str] = set()
    failed = 0
    total = sum(cost for _, _, cost in jobs)
    done = 0.0
    while len(ended) < len(jobs):
        for job, results, cost in jobs:
            if job.name not in seen and launcher.started(job):
                seen.add(job.name)
                spans[job.name] = (time.monotonic() - start, 0.0)
                log(f"launcher: job {job.name} started ({job.job_id})")
            if job.name in ended or not launcher.finished(job):
                continue
            ended.add(job.name)
            spans[job.name] = (spans.get(job.name, (0.0, 0.0))[0], time.monotonic() - start)
            done += cost
            ok = results.is_file()
            failed += not ok
            said = "done" if ok else f"FAILED (no results; see {job.log})"
            elapsed = time.monotonic() - start
            log(f"launcher: job {job.name} {said}; {_progress(len(ended), failed, len(jobs), elapsed, done / total)}")
        now = time.monotonic()
        if len(ended) < len(jobs) and now - last >= LINE_EVERY:
            last = now
            log("launcher: " + _progress(len(ended), failed, len(jobs), now - start, done / total))
            for job, _, _ in jobs:
                if job.name in seen and job.name not in ended and (said := latest_line(job.log)):
                    log(f"launcher:   {job.name}: {said}")
        if len(ended) < len(jobs):
            time.sleep(POLL_SECONDS)
    return spans


def log_spans(plan: list[Job], spans: dict[str, tuple[float, float]]) -> None:
    """Per dataset, a line with the wall time from its first job's start to its last job's end, and each job's."""
    for dataset in dict.fromkeys(job.dataset for job in plan):
        mine = [(job.name, spans[job.name]) for job in plan if job.dataset == dataset and job.name in spans]
        if not mine:
            continue
        first, last = min(a for _, (a, _) in mine), max(b for _, (_, b) in mine)
        each = ", ".join(f"{name} {duration(b - a)}" for name, (a, b) in mine)
        log(f"launcher: [{dataset}] {duration(last - first)} from its first job's start to its last one's end "
            f"({duration(first)} to {duration(last)} into the run): {each}")


def latest_line(path: Path, tail: int = 4096) -> str:
    """The last progress line a job wrote to its log (a bar's last state), shortened; empty when none yet."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, 2) - tail))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [part.strip() for part in text.replace("\r", "\n").splitlines() if part.strip()]
    return lines[-1][:160] if lines else ""


def _progress(ended: int, failed: int, total: int, elapsed: float, share: float) -> str:
    """Jobs ended and failed of ``total``, the time so far, and the ETA from the ``share`` of the cost done."""
    left = eta(share, 1.0, elapsed)
    return f"{ended}/{total} jobs ended, {failed} failed, {duration(elapsed)}" + (f", ETA {left}" if left else "")
