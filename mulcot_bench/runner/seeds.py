"""``--seeds``: the per-seed entries of each model folded into one entry (mean, sd, seed-aware interval)."""

from __future__ import annotations

from typing import Any

from mulcot_bench.cache import key
from mulcot_bench.results import Entry
from mulcot_bench.scoring.metric import SampleScores
from mulcot_bench.scoring.scorer import Scorer
from mulcot_bench.scoring.seeds import mean_sd


def aggregate(scored: list[tuple[Entry, SampleScores]], scorer: Scorer) -> list[Entry]:
    """One entry per (model, variant), in first-seen order.

    A model trained per seed becomes an entry whose ``seeds`` hold the per-seed entries, whose scores are their
    means, ``sd`` their sample standard deviations and ``intervals`` the two-level bootstrap over seeds and
    samples; its predictions file is the first seed's. A model that is not trained (teacher, rules, a loaded
    checkpoint) ran once and stays as it is.
    """
    groups: dict[tuple[str, str | None], list[tuple[Entry, SampleScores]]] = {}
    for entry, found in scored:
        groups.setdefault((entry.model, entry.variant), []).append((entry, found))
    out = []
    for group in groups.values():
        first = group[0][0]
        if first.seed is None:
            out.append(first)
            continue
        per_seed = [e for e, _ in group]
        scores: dict[str, float | None] = {}
        sd: dict[str, float | None] = {}
        for name in first.scores:
            scores[name], sd[name] = mean_sd([e.scores.get(name) for e in per_seed])
        out.append(
            first.model_copy(
                update={
                    "scores": scores,
                    "sd": sd,
                    "intervals": scorer.seed_intervals([f for _, f in group]),
                    "seed": None,
                    "seeds": per_seed,
                    "identity": key(*(e.identity for e in per_seed)),
                    "invalid": round(sum(e.invalid for e in per_seed) / len(per_seed)),
                    "cached": all(e.cached for e in per_seed),
                    "confusion": None,
                    "checkpoint": None,
                    "stage": {"seeds": [e.seed for e in per_seed], "predictions_file_seed": first.seed},
                    "efficiency": _first_seed_costs(first),
                }
            )
        )
    return out


def _first_seed_costs(first: Entry) -> Any:
    """The aggregate's costs: those of the first seed's model (each seed's entry keeps its own), said so."""
    if first.efficiency is None:
        return None
    notes = [*first.efficiency.notes, f"costs of the seed {first.seed} model; each seed's entry has its own"]
    return first.efficiency.model_copy(update={"notes": notes})
