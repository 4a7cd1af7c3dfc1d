"""Paired comparison of two models of one run, from the run folder's predictions files only.

Label metrics (accuracy, macro-F1, weighted-F1) use every test sample; reasoning metrics use the
samples with a reference chain. BERTScore and MiniLM cosine values come from the per-pair cache a run
fills, so a comparison after a run loads no model (a pair missing from the cache is scored then).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mulcot_bench.errors import UserError, unknown
from mulcot_bench.plugin.specs import MetricSpec
from mulcot_bench.results import Entry, RunResults
from mulcot_bench.scoring.compare_costs import CostRow
from mulcot_bench.scoring.scorer import Scorer, as_pairs, phase
from mulcot_bench.scoring.stats import McNemar, Paired, mcnemar, paired_bootstrap


@dataclass
class Row:
    """One metric of the comparison; ``percent`` says the values are already 0-100 (BLEU)."""

    name: str
    result: Paired
    percent: bool = False


@dataclass
class Comparison:
    dataset: str
    model_a: str
    model_b: str
    n: int
    n_reasoning: int
    mcnemar: McNemar
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)  # multi-seed entries: paired by seed and sample over these
    costs: list[CostRow] = field(default_factory=list)  # each entry's costs and their ratio A / B


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The records of one predictions JSONL file."""
    if not path.is_file():
        raise UserError(f"predictions file {path} is missing; re-run 'mulcot-bench run' to write it")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def entries_for(run_dir: Path, model_a: str, model_b: str, dataset: str | None) -> list[tuple[Entry, Entry]]:
    """The (A, B) entries of every dataset both models ran on (or only ``dataset``)."""
    if not (run_dir / "results.json").is_file():
        raise UserError(f"{run_dir} is not a run folder (no results.json); pass a folder written by 'mulcot-bench run'")
    results = RunResults.read(run_dir)
    models = {e.model for e in results.entries}
    for name in (model_a, model_b):
        if name not in models:
            raise unknown("model", name, models, f"Pick two models of run {results.run_id}.")
    datasets = {e.dataset for e in results.entries}
    if dataset is not None and dataset not in datasets:
        raise unknown("dataset", dataset, datasets, f"Pick a dataset of run {results.run_id}.")
    pairs = []
    for ds in sorted(datasets if dataset is None else {dataset}):
        found = {e.model: e for e in results.entries if e.dataset == ds and e.split == "test" and not e.variant}
        if model_a in found and model_b in found:
            pairs.append((found[model_a], found[model_b]))
    if not pairs:
        where = f"dataset {dataset!r}" if dataset else "any dataset"
        raise UserError(f"models {model_a!r} and {model_b!r} have no results on the same {where} in {run_dir}")
    return pairs


def align(a: list[dict[str, Any]], b: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """B's records in A's order, matched by sample id; the two files must hold the same samples."""
    ids_a, ids_b = [r["id"] for r in a], [r["id"] for r in b]
    if ids_a == ids_b:
        return b
    if len(set(ids_a)) != len(ids_a) or sorted(ids_a) != sorted(ids_b):
        raise UserError(f"{where}: the two predictions files do not hold the same sample ids; compare one run's files")
    by_id = {r["id"]: r for r in b}
    return [by_id[i] for i in ids_a]


def seed_pairs(run_dir: Path, a: Entry, b: Entry) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[int]]:
    """A's and B's records paired by seed and sample, and the seeds they span.

    For entries of ``--seeds`` runs every seed both have contributes its test samples (ids made
    ``seed<N>/<id>``); an entry trained once (or not at all) pairs with each seed of the other. Two single
    entries are their predictions files as they are (no seeds).
    """
    by_a, by_b = {e.seed: e for e in a.seeds}, {e.seed: e for e in b.seeds}
    if not by_a and not by_b:
        return read_lines(run_dir / a.predictions_file), read_lines(run_dir / b.predictions_file), []
    seeds = [s for s in by_a if s in by_b] if by_a and by_b else list(by_a or by_b)
    if not seeds:
        raise UserError(f"{a.model} (seeds {sorted(by_a)}) and {b.model} (seeds {sorted(by_b)}) share no seed")
    out_a: list[dict[str, Any]] = []
    out_b: list[dict[str, Any]] = []
    for seed in seeds:
        ra = read_lines(run_dir / by_a.get(seed, a).predictions_file)
        rb = align(ra, read_lines(run_dir / by_b.get(seed, b).predictions_file), f"{a.model} vs {b.model}, seed {seed}")
        out_a += [{**r, "id": f"seed{seed}/{r['id']}"} for r in ra]
        out_b += [{**r, "id": f"seed{seed}/{r['id']}"} for r in rb]
    return out_a, out_b, [int(s) for s in seeds if s is not None]


def row_order(spec: MetricSpec) -> int:
    """Rows: label metrics, reference metrics (those loading a model last), then the chain checks."""
    return {0: 0, 2: 1, 3: 2, 1: 3}[phase(spec)]


def compare(
    a: list[dict[str, Any]],
    b: list[dict[str, Any]],
    names: tuple[str, str, str],
    resamples: int,
    seed: int,
    scorer: Scorer,
    model_metrics: bool = True,
) -> Comparison:
    """Every registered metric with per-sample statistics, for A and B with paired bootstrap intervals, and
    McNemar's test on correctness."""
    dataset, model_a, model_b = names
    b = align(a, b, f"{model_a} vs {model_b} on {dataset}")
    gold, preds_a = as_pairs(a)
    sa = scorer.sample_scores(gold, preds_a, model_metrics=model_metrics)
    sb = scorer.sample_scores(*as_pairs(b), model_metrics=model_metrics)
    right_a, right_b = (bool(v) for v in sa.values["accuracy"]), (bool(v) for v in sb.values["accuracy"])
    out = Comparison(dataset, model_a, model_b, len(a), 0, mcnemar(list(right_a), list(right_b)))
    for spec in sorted(scorer.specs, key=row_order):
        for name in spec.outputs:
            if name in sa.stats and name in sb.stats:
                (stat_a, size), (stat_b, _) = sa.stats[name], sb.stats[name]
                result = paired_bootstrap(stat_a, stat_b, size, resamples, seed)
                out.rows.append(Row(spec.outputs[name], result, spec.percent))
                if spec.uses_reference:
                    out.n_reasoning = size
    out.notes.extend(dict.fromkeys(sa.notes + sb.notes))
    return out
