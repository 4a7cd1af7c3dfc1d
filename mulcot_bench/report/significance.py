"""Significance marks for the per-dataset table: McNemar's test on accuracy against a reference row.

Computed once per pair of rows from the predictions files (:func:`mulcot_bench.scoring.stats.mcnemar`), so the
page can switch its reference row without a server. Two rows are tested only when they hold the same
sample ids; otherwise the mark says why not.
"""

from __future__ import annotations

from dataclasses import dataclass

from mulcot_bench.scoring.stats import mcnemar

ALPHA = 0.05
UP, DOWN = "\u25b2", "\u25bc"


@dataclass(frozen=True)
class Mark:
    """The mark of one row against one reference: a symbol (empty when not significant) and its explanation."""

    symbol: str
    title: str
    css: str


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _describe(b: int, c: int, p: float, method: str, ref_label: str) -> Mark:
    """The mark of a row with ``b`` samples right only in it and ``c`` right only in the reference."""
    detail = f"McNemar vs {ref_label}: {b} right only here, {c} right only in the reference; {_p(p)} ({method})"
    if p < ALPHA and b != c:
        return Mark(UP, detail, "sig-up") if b > c else Mark(DOWN, detail, "sig-down")
    return Mark("", f"{detail}; not significant at {ALPHA}", "sig-ns")


def matrix(rows: dict[str, dict[str, bool] | None], labels: dict[str, str]) -> dict[str, dict[str, Mark]]:
    """``ref key -> row key -> Mark`` for every ordered pair of rows; ``rows`` maps a row key to its
    per-sample correctness (sample id -> right), or None when its predictions could not be read.
    Each unordered pair is tested once: swapping the rows swaps b and c and keeps the p-value."""
    out: dict[str, dict[str, Mark]] = {k: {} for k in rows}
    keys = list(rows)
    for i, ref in enumerate(keys):
        out[ref][ref] = Mark("ref", f"reference row for the McNemar marks: {labels[ref]}", "sig-ref")
        for other in keys[i + 1 :]:
            a, b = rows[other], rows[ref]
            if a is None or b is None:
                out[ref][other] = Mark("", f"vs {labels[ref]}: no per-sample predictions to test", "sig-na")
                out[other][ref] = Mark("", f"vs {labels[other]}: no per-sample predictions to test", "sig-na")
                continue
            if a.keys() != b.keys():
                out[ref][other] = Mark("", f"vs {labels[ref]}: not the same samples, not tested", "sig-na")
                out[other][ref] = Mark("", f"vs {labels[other]}: not the same samples, not tested", "sig-na")
                continue
            ids = list(b)
            res = mcnemar([a[k] for k in ids], [b[k] for k in ids])
            out[ref][other] = _describe(res.b, res.c, res.p, res.method, labels[ref])
            out[other][ref] = _describe(res.c, res.b, res.p, res.method, labels[other])
    return out
