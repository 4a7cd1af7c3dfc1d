"""``mulcot-bench compare RUN_DIR MODEL_A MODEL_B``: paired differences with bootstrap CIs and p-values."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mulcot_bench.cli.options import json_option, load_registry, plugins_dir_option
from mulcot_bench.errors import UserError


@click.command("compare")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("model_a")
@click.argument("model_b")
@click.option("--dataset", "-d", default=None, help="Only this dataset (default: every dataset both models ran on).")
@click.option("--resamples", default=1000, show_default=True, type=click.IntRange(min=1), help="Bootstrap resamples.")
@click.option("--seed", default=42, show_default=True, type=int, help="Seed of the bootstrap resamples.")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None, help="Cache with BERTScore/MiniLM values.")
@click.option(
    "--model-metrics/--no-model-metrics",
    default=True,
    show_default=True,
    help="Include BERTScore and MiniLM cosine (read from the cache; scored with the model when not cached).",
)
@plugins_dir_option
@json_option
def compare_cmd(
    run_dir: Path,
    model_a: str,
    model_b: str,
    dataset: str | None,
    resamples: int,
    seed: int,
    cache_dir: Path | None,
    model_metrics: bool,
    plugins_dirs: tuple[Path, ...],
    as_json: bool,
) -> None:
    """Compare two models of one run: A - B with 95% paired bootstrap CIs, p-values and McNemar's test, and
    their costs (parameters, time, memory) with the ratio A / B."""
    from mulcot_bench.cache import Cache
    from mulcot_bench.paths import default_cache_dir
    from mulcot_bench.scoring.compare import compare, entries_for, seed_pairs
    from mulcot_bench.scoring.compare_costs import cost_rows
    from mulcot_bench.scoring.compare_text import comparison_json, format_comparison
    from mulcot_bench.scoring.scorer import Scorer

    if not run_dir.is_dir():
        raise UserError(f"run folder {run_dir} does not exist; pass a folder written by 'mulcot-bench run'")
    pairs = entries_for(run_dir, model_a, model_b, dataset)
    cache = Cache(cache_dir or default_cache_dir()) if model_metrics else None
    scorer = Scorer(load_registry(plugins_dirs, strict=False), cache, resamples)
    results = []
    for entry_a, entry_b in pairs:
        records_a, records_b, seeds = seed_pairs(run_dir, entry_a, entry_b)
        names = (entry_a.dataset, model_a, model_b)
        result = compare(records_a, records_b, names, resamples, seed, scorer, model_metrics)
        result.seeds = seeds
        result.costs, cost_notes = cost_rows(entry_a, entry_b)
        result.notes += cost_notes
        results.append(result)
        if not as_json:
            click.echo(format_comparison(result, resamples, seed))
    if as_json:
        click.echo(json.dumps([comparison_json(r, resamples, seed) for r in results], indent=2))
