"""Paired comparison of two models of one run, from the run folder's predictions files only.

Label metrics (accuracy, macro-F1, weighted-F1) use every test sample; reasoning metrics use the
samples with a reference chain. BERTScore and MiniLM cosine values come from the per-pair cache a run
fills, so a comparison after a run loads no model (a pair missing from the cache is scored then).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mulcot_bench.cache import Cache
from mulcot_bench.errors import UserError, unknown
from mulcot_bench.results import Entry, RunResults
from mulcot_bench.stats import (
    McNemar,
    Paired,
    Statistic,
    accuracy_stat,
    corpus_bleu_stat,
    f1_stat,
    label_codes,
    mcnemar,
    mean_stat,
    paired_bootstrap,
)
from mulcot_bench.types import Prediction


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
        found = {e.model: e for e in results.entries if e.dataset == ds and e.split == "test"}
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


def compare(
    a: list[dict[str, Any]],
    b: list[dict[str, Any]],
    names: tuple[str, str, str],
    resamples: int,
    seed: int,
    cache: Cache | None,
    model_metrics: bool = True,
) -> Comparison:
    """Every metric of A and B with paired bootstrap intervals, and McNemar's test on correctness."""
    dataset, model_a, model_b = names
    b = align(a, b, f"{model_a} vs {model_b} on {dataset}")
    gold = [r["gold"] for r in a]
    ga, pa = label_codes(gold, [r["label"] for r in a])
    _, pb = label_codes(gold, [r["label"] for r in b])
    n = len(a)
    out = Comparison(dataset, model_a, model_b, n, 0, mcnemar(list(ga == pa), list(ga == pb)))

    def add(name: str, sa: Statistic, sb: Statistic, size: int, percent: bool = False) -> None:
        out.rows.append(Row(name, paired_bootstrap(sa, sb, size, resamples, seed), percent))

    add("accuracy", accuracy_stat(ga, pa), accuracy_stat(ga, pb), n)
    add("macro-F1", f1_stat(ga, pa, "macro"), f1_stat(ga, pb, "macro"), n)
    add("weighted-F1", f1_stat(ga, pa, "weighted"), f1_stat(ga, pb, "weighted"), n)
    _reasoning(out, a, b, add, cache, model_metrics)
    return out


def _reasoning(
    out: Comparison,
    a: list[dict[str, Any]],
    b: list[dict[str, Any]],
    add: Callable[..., None],
    cache: Cache | None,
    model_metrics: bool,
) -> None:
    """The per-sample-decomposable reasoning metrics, plus corpus BLEU recomputed per resample."""
    from mulcot_bench.metrics.bleu import sentence_scores
    from mulcot_bench.metrics.chains import chain_label, consistent
    from mulcot_bench.metrics.overlap import rouge_l_f

    if all(r.get("rationale") is None for r in a) or all(r.get("rationale") is None for r in b):
        out.notes.append("reasoning metrics skipped: at least one model writes no rationale")
        return
    keep = [i for i, r in enumerate(a) if r.get("reference")]
    if not keep:
        out.notes.append("reasoning metrics skipped: the dataset has no reference chains")
        return
    refs = [a[i]["reference"] for i in keep]
    hyp_a = [a[i].get("rationale") or "" for i in keep]
    hyp_b = [b[i].get("rationale") or "" for i in keep]
    m = out.n_reasoning = len(keep)
    bleu_a, stats_a = sentence_scores(hyp_a, refs)
    bleu_b, stats_b = sentence_scores(hyp_b, refs)
    add("BLEU-4 (corpus, sacrebleu)", corpus_bleu_stat(stats_a), corpus_bleu_stat(stats_b), m, True)
    add("BLEU-4 (sentence avg, reference variant)", mean_stat(bleu_a), mean_stat(bleu_b), m, True)
    add(
        "ROUGE-L F (13a tokens)",
        mean_stat([rouge_l_f(h, r) for h, r in zip(hyp_a, refs, strict=True)]),
        mean_stat([rouge_l_f(h, r) for h, r in zip(hyp_b, refs, strict=True)]),
        m,
    )
    if model_metrics:
        from mulcot_bench.metrics.embedding import MiniLMCosine
        from mulcot_bench.metrics.pairs import cached_pair_values
        from mulcot_bench.metrics.reasoning import BertScore

        bs = BertScore()
        f1_a, f1_b = (
            [row[2] for row in cached_pair_values("bertscore", bs.signature(), h, refs, cache, bs._score)]
            for h in (hyp_a, hyp_b)
        )
        add("BERTScore-F1", mean_stat(f1_a), mean_stat(f1_b), m)
        cos = MiniLMCosine()
        add(
            "MiniLM cosine similarity",
            mean_stat(cos.pair_scores(hyp_a, refs, cache)),
            mean_stat(cos.pair_scores(hyp_b, refs, cache)),
            m,
        )
    else:
        out.notes.append("BERTScore and MiniLM cosine skipped (--no-model-metrics)")
    preds_a = [Prediction(label=r.get("label"), rationale=r.get("rationale")) for r in a]
    preds_b = [Prediction(label=r.get("label"), rationale=r.get("rationale")) for r in b]
    add("label-rationale consistency", _rate(map(consistent, preds_a)), _rate(map(consistent, preds_b)), out.n)
    gold = [r["gold"] for r in a]
    add(
        "chain-gold agreement",
        _rate(chain_label(p.rationale) == g for p, g in zip(preds_a, gold, strict=True)),
        _rate(chain_label(p.rationale) == g for p, g in zip(preds_b, gold, strict=True)),
        out.n,
    )


def _rate(flags: Iterable[bool]) -> Statistic:
    return mean_stat([float(f) for f in flags])
