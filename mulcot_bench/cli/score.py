"""``mulcot-bench score FILE.jsonl --dataset NAME``: predictions made elsewhere, scored as a row of the suite's own.

The work is in :mod:`mulcot_bench.runner.fromfile`: the file becomes an in-memory model run through the normal
pipeline with training off (same metrics, intervals, ``results.json`` entry and leaderboard).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from mulcot_bench.cli.options import (
    bootstrap_option,
    close_run,
    load_registry,
    plugins_dir_option,
    synthetic_options,
    synthetic_seed_option,
    synthetic_size_option,
    verbosity_options,
)


@click.command("score")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("-d", "--dataset", required=True, help="The dataset whose test split the file answers.")
@click.option("-m", "--model", help="The row's model name (default: the file's stem).")
@click.option("--run-id", help="Name of the run folder (default: a UTC timestamp).")
@click.option(
    "--data-root",
    type=click.Path(path_type=Path),
    help="Folder holding the real datasets; also MULCOT_BENCH_DATA_ROOT.",
)
@click.option(
    "--allow-partial",
    is_flag=True,
    help="Score a file that lacks some test items: they count as invalid (no answer); the count is printed and "
    "recorded as the entry's settings.missing. Without it such a file is refused.",
)
@click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"), show_default=True)
@click.option("--reports-dir", type=click.Path(path_type=Path), default=Path("reports"), show_default=True)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    help="Cache folder; also MULCOT_BENCH_CACHE (default ~/.cache/mulcot-bench).",
)
@bootstrap_option
@synthetic_size_option
@synthetic_seed_option
@plugins_dir_option
@verbosity_options
def score_cmd(file: Path, dataset: str, model: str | None, **params: Any) -> None:
    """Score a JSONL file of predictions made elsewhere (one object per line: the test item's "id", its "label"
    positive/neutral/negative, optionally its "rationale") with the suite's metrics, intervals, results.json
    entry (plugin "file", with the file's path and sha256) and leaderboard. Every test item needs an answer,
    unless --allow-partial (the missing ones are scored as invalid and counted)."""
    from mulcot_bench.runner import RunOptions
    from mulcot_bench.runner.fromfile import score_file

    registry = load_registry(params["plugins_dirs"], False)
    synthetic = synthetic_options(params["synthetic_size"], params["synthetic_seed"])
    options = RunOptions(
        datasets=[dataset],
        data_root=params["data_root"],
        runs_dir=params["runs_dir"],
        reports_dir=params["reports_dir"],
        cache_dir=params["cache_dir"],
        run_id=params["run_id"],
        dataset_options={"synthetic": synthetic},
        bootstrap=params["resamples"],
        command=" ".join(["mulcot-bench", *sys.argv[1:]]),
    )
    outcome, missing = score_file(registry, options, file.resolve(), model or file.stem, params["allow_partial"])
    click.echo(close_run(outcome))
    if missing:
        click.echo(f"{missing} test item(s) had no answer in {file}: scored as invalid (--allow-partial)")
    if outcome.results.failures:
        sys.exit(1)
