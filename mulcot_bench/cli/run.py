"""``mulcot-bench run``: every selected dataset x every selected model (the work lives in mulcot_bench.runner)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mulcot_bench.cli.options import (
    allow_partial_option,
    close_run,
    limit_option,
    load_registry,
    parse_sizes,
    plugins_dir_option,
    protocol_option,
    strict_option,
    synthetic_options,
    synthetic_seed_option,
    synthetic_size_option,
    verbosity_options,
)
from mulcot_bench.errors import UserError


@click.command("run")
@click.option("--all", "run_all", is_flag=True, help="Every available dataset x every registered model.")
@click.option("-d", "--dataset", "datasets", multiple=True, help="Dataset name (repeatable).")
@click.option("-m", "--model", "models", multiple=True, help="Model name (repeatable); its teacher/assistant come too.")
@click.option(
    "--teacher", help="Teacher for the distillation (default: the first registered one that serves the data)."
)
@click.option(
    "--data-root",
    type=click.Path(path_type=Path),
    help="Folder holding the real datasets; also MULCOT_BENCH_DATA_ROOT.",
)
@click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"), show_default=True)
@click.option("--reports-dir", type=click.Path(path_type=Path), default=Path("reports"), show_default=True)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    help="Cache folder; also MULCOT_BENCH_CACHE (default ~/.cache/mulcot-bench).",
)
@click.option("--run-id", help="Name of the run folder (default: a UTC timestamp).")
@click.option("--seed", type=int, default=42, show_default=True, help="Training and sampling seed.")
@synthetic_size_option
@synthetic_seed_option
@click.option(
    "--allow-missing-images",
    is_flag=True,
    help="Run real datasets whose images are missing text-only (the count is recorded) instead of skipping them.",
)
@protocol_option
@limit_option
@allow_partial_option
@click.option(
    "--ablation",
    "ablations",
    multiple=True,
    type=click.Choice(["text-only", "image-only"]),
    help="Also evaluate every non-teacher model with images blanked (text-only) or texts blanked (image-only), "
    "as extra rows (repeatable).",
)
@click.option(
    "--bootstrap",
    "resamples",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Bootstrap resamples for the 95% intervals stored with every score (0: none).",
)
@click.option(
    "--model-timeout",
    help="Seconds one model call (a batch) may take before the model is recorded as hung and the run goes on; "
    "also MULCOT_BENCH_MODEL_TIMEOUT (default: no limit). Training is not limited.",
)
@plugins_dir_option
@strict_option
@verbosity_options
def run_cmd(
    run_all: bool,
    datasets: tuple[str, ...],
    models: tuple[str, ...],
    teacher: str | None,
    data_root: Path | None,
    runs_dir: Path,
    reports_dir: Path,
    cache_dir: Path | None,
    run_id: str | None,
    seed: int,
    synthetic_size: str | None,
    synthetic_seed: int,
    allow_missing_images: bool,
    protocol: str,
    limit: str | None,
    allow_partial: bool,
    ablations: tuple[str, ...],
    resamples: int,
    model_timeout: str | None,
    plugins_dirs: tuple[Path, ...],
    strict: bool,
) -> None:
    """Run the distillation and evaluation, write results.json and the leaderboard."""
    from mulcot_bench.faults import parse_timeout
    from mulcot_bench.runner import RunOptions, run

    if not run_all and not datasets and not models:
        raise UserError("say what to run: --all, or --dataset NAME and/or --model NAME")
    synthetic = synthetic_options(synthetic_size, synthetic_seed)
    registry = load_registry(plugins_dirs, strict)
    dataset_options: dict[str, dict[str, object]] = {"synthetic": synthetic}
    if allow_missing_images:
        for spec in registry.datasets.values():
            if not spec.embedded:
                dataset_options.setdefault(spec.name, {})["allow_missing_images"] = True
    options = RunOptions(
        datasets=list(datasets) or None,
        models=list(models) or None,
        data_root=data_root,
        runs_dir=runs_dir,
        reports_dir=reports_dir,
        cache_dir=cache_dir,
        seed=seed,
        teacher=teacher,
        run_id=run_id,
        dataset_options=dataset_options,
        ablations=list(ablations),
        bootstrap=resamples,
        protocol=protocol,
        limits=parse_sizes(limit, "--limit"),
        allow_partial=allow_partial,
        command=" ".join(["mulcot-bench", *sys.argv[1:]]),
        model_timeout=parse_timeout(model_timeout, "--model-timeout"),
    )
    outcome = run(registry, options)
    click.echo(close_run(outcome))
    if outcome.results.failures:
        sys.exit(1)
