"""``mulcot-bench run`` and ``eval``: every selected dataset x every selected model (the work is in runner).

``eval MODEL... -o MODEL.checkpoint=PATH`` is ``run -m MODEL... --no-train``: saved models evaluated with the same
scoring, intervals, results and leaderboard, and nothing trained.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mulcot_bench.cli.config import config_option
from mulcot_bench.cli.export import check_mlflow, export_after_run, mlflow_option
from mulcot_bench.cli.options import (
    allow_partial_option,
    apply_overrides,
    bootstrap_option,
    close_run,
    limit_option,
    load_registry,
    model_arg_option,
    parse_limits,
    parse_seeds,
    plugins_dir_option,
    protocol_option,
    strict_option,
    synthetic_options,
    synthetic_seed_option,
    synthetic_size_option,
    verbosity_options,
)
from mulcot_bench.errors import UserError

if TYPE_CHECKING:
    from mulcot_bench.plugin.registry import Registry
    from mulcot_bench.runner.options import RunOptions, RunOutcome

SHARED: list[Callable[[Any], Any]] = [
    config_option,
    click.option("-d", "--dataset", "datasets", multiple=True, help="Dataset name (repeatable)."),
    model_arg_option,
    click.option(
        "--teacher", help="Teacher for the distillation (default: the first registered one that serves the data)."
    ),
    click.option(
        "--data-root",
        type=click.Path(path_type=Path),
        help="Folder holding the real datasets; also MULCOT_BENCH_DATA_ROOT.",
    ),
    click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"), show_default=True),
    click.option("--reports-dir", type=click.Path(path_type=Path), default=Path("reports"), show_default=True),
    click.option(
        "--cache-dir",
        type=click.Path(path_type=Path),
        help="Cache folder; also MULCOT_BENCH_CACHE (default ~/.cache/mulcot-bench).",
    ),
    click.option("--run-id", help="Name of the run folder (default: a UTC timestamp)."),
    click.option("--seed", type=int, default=42, show_default=True, help="Training and sampling seed."),
    click.option(
        "--seeds",
        help="Train and evaluate every trainable model once per seed (e.g. 1,2,3); results hold each seed's entry "
        "and their mean, standard deviation and a seed-aware interval. Overrides --seed.",
    ),
    synthetic_size_option,
    synthetic_seed_option,
    click.option(
        "--allow-missing-images",
        is_flag=True,
        help="Run real datasets whose images are missing text-only (the count is recorded) instead of skipping them.",
    ),
    click.option(
        "--require-images",
        is_flag=True,
        help="Refuse text-only copies (a dataset folder without any image) instead of running them text-only.",
    ),
    protocol_option("auto"),
    limit_option,
    allow_partial_option,
    click.option(
        "--ablation",
        "ablations",
        multiple=True,
        type=click.Choice(["text-only", "image-only"]),
        help="Also evaluate every non-teacher model with images blanked (text-only) or texts blanked (image-only), "
        "as extra rows (repeatable).",
    ),
    bootstrap_option,
    click.option(
        "--model-timeout",
        help="Seconds one model call (a batch) may take before the model is recorded as hung and the run goes on; "
        "also MULCOT_BENCH_MODEL_TIMEOUT (default: no limit). Training is not limited.",
    ),
    mlflow_option,
    click.option(
        "--jobs",
        default="auto",
        envvar="MULCOT_BENCH_JOBS",
        show_default=True,
        help="Processes side by side: auto (the usable CPU cores) or N; also MULCOT_BENCH_JOBS. Above 1 the run "
        "is fanned out as local jobs (as --launcher local) whose threads share out the cores; 1 runs everything in "
        "this process. The results are the same either way.",
    ),
    click.option(
        "--launcher",
        type=click.Choice(["local", "submitit"]),
        help="Fan the run out as one job per (dataset, model group) and merge their results: local (subprocesses "
        "here) or submitit (Slurm, or its local executor with --launcher-arg cluster=local; needs the [launcher] "
        "extra). Default: everything in this process.",
    ),
    click.option(
        "--launcher-arg",
        "launcher_args",
        multiple=True,
        metavar="KEY=VALUE",
        help="A launcher setting (repeatable): submitit takes cluster (slurm, local, debug), partition, timeout_min, "
        "cpus_per_task, gpus_per_node, mem_gb, nodes, tasks_per_node and slurm_*; local takes max_parallel.",
    ),
    click.option("--no-report", is_flag=True, hidden=True, help="Write results.json only (a launcher's job)."),
    click.option(
        "--augment-for",
        multiple=True,
        hidden=True,
        help="An assistant's job: sample its augmentation chains for these learners (run in their own jobs).",
    ),
    click.option(
        "--teacher-row/--no-teacher-row",
        default=True,
        hidden=True,
        help="--no-teacher-row: the teacher serves but has no row (a launcher's job whose dataset has it in another).",
    ),
    click.option(
        "--device",
        type=click.Choice(["auto", "cpu", "cuda"]),
        default="auto",
        show_default=True,
        help="Under torchrun/accelerate (one process per rank): cpu runs the ranks on gloo, cuda on nccl (one GPU "
        "per rank), auto picks nccl where a GPU is seen.",
    ),
    click.option(
        "--cache-layout",
        type=click.Choice(["auto", "shared", "sharded"]),
        help="Under torchrun: shared (one SQLite cache, local disk), sharded (a file per rank, merged by rank 0; "
        "safe on a network file system) or auto; also MULCOT_BENCH_CACHE_LAYOUT. See docs/parallel.md.",
    ),
    plugins_dir_option,
    strict_option,
    verbosity_options,
]

#: options a launcher's job does not repeat from the parent's command line: it sets them per job
PER_JOB = frozenset(
    {"run_all", "models", "datasets", "no_train", "data_root", "runs_dir", "reports_dir", "cache_dir", "run_id",
     "mlflow_uri", "launcher", "launcher_args", "no_report", "jobs",
     "teacher_row", "augment_for", "config"}
)  # fmt: skip


def shared_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options ``run`` and ``eval`` share, in help order."""
    for option in reversed(SHARED):
        command = option(command)
    return command


@click.command("run")
@click.option("--all", "run_all", is_flag=True, help="Every available dataset x every registered model.")
@click.option("-m", "--model", "models", multiple=True, help="Model name (repeatable); its teacher/assistant come too.")
@click.option(
    "--no-train",
    is_flag=True,
    help="Train nothing: every trainable model must have a checkpoint (-o MODEL.checkpoint=PATH).",
)
@shared_options
def run_cmd(run_all: bool, models: tuple[str, ...], no_train: bool, **options: Any) -> None:
    """Run the distillation and evaluation, write results.json and the leaderboard."""
    if not run_all and not options["datasets"] and not models:
        raise UserError("say what to run: --all, or --dataset NAME and/or --model NAME")
    execute(list(models) or None, train=not no_train, **options)


@click.command("eval")
@click.argument("models", nargs=-1, required=True)
@shared_options
def eval_cmd(models: tuple[str, ...], **options: Any) -> None:
    """Evaluate saved models without training: MODEL... with -o MODEL.checkpoint=PATH (the folder save() wrote;
    a run records it as "checkpoint" in results.json). Every dataset found, or -d NAME."""
    execute(list(models), train=False, **options)


def execute(models: list[str] | None, *, train: bool, **params: Any) -> None:
    """Build the run's options from the command line, run it, print the summary; exit 1 on any failure.

    ``params`` are the shared options' values, by their parameter names (:data:`SHARED`).
    """
    from mulcot_bench.runner import run

    mlflow_uri, launcher, launcher_args = params["mlflow_uri"], params["launcher"], params["launcher_args"]
    check_mlflow(mlflow_uri)
    if launcher_args and not launcher:
        raise UserError("--launcher-arg needs --launcher local or --launcher submitit")
    registry, options = run_options(models, train, params)
    if not launcher and side_by_side(registry, options, parse_jobs(params["jobs"])):
        launcher, launcher_args = "local", (f"max_parallel={parse_jobs(params['jobs'])}",)
    outcome = fan_out(registry, options, launcher, launcher_args) if launcher else run(registry, options)
    if not outcome.main:  # another rank of a data-parallel run: rank 0 prints and exports
        sys.exit(1 if outcome.results.failures else 0)
    click.echo(close_run(outcome))
    export_after_run(outcome.run_dir, mlflow_uri)
    if outcome.results.failures:
        sys.exit(1)


def run_options(models: list[str] | None, train: bool, params: dict[str, Any]) -> tuple[Registry, RunOptions]:
    """The registry (the ``-o`` settings on its cards) and the run's options from the command line.

    A :class:`RunOptions` field takes the parameter of the same name as it is, except the fields derived here
    from other parameters (or parsed); a field no option sets keeps its default.
    """
    from mulcot_bench.faults import parse_timeout
    from mulcot_bench.runner import RunOptions

    synthetic = synthetic_options(params["synthetic_size"], params["synthetic_seed"])
    several = parse_seeds(params["seeds"])
    registry = load_registry(params["plugins_dirs"], params["strict"])
    checkpoints = apply_overrides(registry, params["model_args"])
    derived: dict[str, Any] = {
        "datasets": list(params["datasets"]) or None,
        "models": models,
        "seed": several[0] if several else params["seed"],
        "seeds": several,
        "dataset_options": dataset_options(registry, synthetic, params["allow_missing_images"]),
        "ablations": list(params["ablations"]),
        "bootstrap": params["resamples"],
        "limits": parse_limits(params["limit"]),
        "command": " ".join(["mulcot-bench", *sys.argv[1:]]),
        "model_timeout": parse_timeout(params["model_timeout"], "--model-timeout"),
        "checkpoints": checkpoints,
        "train": train,
        "report": not params["no_report"],
        "augment_for": list(params["augment_for"]),
    }
    same = {f.name: params[f.name] for f in fields(RunOptions) if f.name not in derived and f.name in params}
    return registry, RunOptions(**same, **derived)


def dataset_options(
    registry: Registry, synthetic: dict[str, object], allow_missing_images: bool
) -> dict[str, dict[str, object]]:
    """Loader options per dataset: the synthetic one's, and ``--allow-missing-images`` on each real one."""
    out: dict[str, dict[str, object]] = {"synthetic": synthetic}
    if allow_missing_images:
        for spec in registry.datasets.values():
            if not spec.embedded:
                out.setdefault(spec.name, {})["allow_missing_images"] = True
    return out


def parse_jobs(value: str) -> int:
    """``--jobs``: ``auto`` (the usable cores) or a positive whole number; anything else is one line naming it."""
    from mulcot_bench.runner.launchers import usable_cores

    if value.strip().lower() == "auto":
        return usable_cores()
    if not value.strip().isdigit() or int(value) < 1:
        raise UserError(f"--jobs {value!r} must be auto or a whole number of at least 1 (also MULCOT_BENCH_JOBS)")
    return int(value)


def side_by_side(registry: Registry, options: RunOptions, jobs: int) -> bool:
    """Whether the run goes out as local jobs: more than one process allowed, a single-process start (not a rank
    of torchrun), more than one job to run, and not every job run to the end before on this cache (then one
    process is faster: see :func:`~mulcot_bench.runner.fanout.all_received`)."""
    from mulcot_bench.parallel.world import from_env
    from mulcot_bench.runner.fanout import Launch, all_received
    from mulcot_bench.runner.jobs import plan_jobs
    from mulcot_bench.runner.orchestrate import check_selection
    from mulcot_bench.runner.pipeline import log

    if jobs < 2 or from_env().size > 1:
        return False
    data_root, datasets, models = check_selection(registry, options)
    names = [d.name for d in datasets if d.embedded or d.locate(data_root) is not None]  # present: may run
    plan = plan_jobs(registry, names, models, named=options.models is not None, split=True)
    if len(plan) < 2:
        return False
    if all_received(plan, Launch("local", [], job_args()), options):
        log(f"run: every one of its {len(plan)} jobs ran to the end before on this cache: one process")
        return False
    return True


def fan_out(registry: Registry, options: RunOptions, launcher: str, launcher_args: tuple[str, ...]) -> RunOutcome:
    """``--launcher``: the run as one job per (dataset, model group), merged; refused under torchrun."""
    from mulcot_bench.parallel.world import from_env
    from mulcot_bench.runner.fanout import Launch, run_fanout

    if from_env().size > 1:
        raise UserError(f"--launcher {launcher} fans a run out from one process; start it without torchrun")
    return run_fanout(registry, options, Launch(launcher, list(launcher_args), job_args()))


def job_args(ctx: click.Context | None = None) -> list[str]:
    """The options of the current ``run``/``eval`` command line that every launcher job repeats (those given,
    on the command line or in its ``--config`` file, as flags; paths made absolute), leaving out :data:`PER_JOB`."""
    from click.core import ParameterSource

    ctx = ctx or click.get_current_context()
    out: list[str] = []
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name in PER_JOB:
            continue
        if ctx.get_parameter_source(param.name) in (None, ParameterSource.DEFAULT):
            continue
        flag = max(param.opts, key=len)
        if not param.expose_value:  # -v / -q: flags handled by their callback (a file may set them false)
            out += [flag] if ctx.meta.get(f"mulcot_bench.{param.name}") else []
            continue
        value = ctx.params[param.name]
        for one in value if param.multiple else (value,):
            if param.is_flag:
                out += [flag] if one else []
            else:
                out += [flag, str(one.resolve()) if isinstance(one, Path) else str(one)]
    return out
