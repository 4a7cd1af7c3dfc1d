"""A :class:`~mulcot_bench.scoring.compare.Comparison` as plain text for the terminal, or as JSON."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from mulcot_bench.scoring.compare import Comparison
from mulcot_bench.scoring.stats import EXACT_BELOW, Interval


def _p(value: float) -> str:
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def _ci(interval: Interval, scale: float, sign: bool = False) -> str:
    fmt = "+.2f" if sign else ".2f"
    return f"{interval.value * scale:{fmt}} [{interval.low * scale:.2f}, {interval.high * scale:.2f}]"


def format_comparison(result: Comparison, resamples: int, seed: int) -> str:
    """A table of A, B and A - B (fractions shown x100, BLEU as is) with CIs and p-values, then McNemar."""
    a, b = result.model_a, result.model_b
    lines = [
        f"{result.dataset}: A = {a}, B = {b}; n = {result.n} (reasoning: {result.n_reasoning} with a reference)"
        + (f"; paired by seed and sample over seeds {', '.join(map(str, result.seeds))}" if result.seeds else ""),
        f"95% percentile CIs from {resamples} paired bootstrap resamples (seed {seed}); p: two-sided paired bootstrap"
        f" (smallest possible p = {2 / (resamples + 1):.2g})",
        f"{'metric':<42}{'A [95% CI]':<26}{'B [95% CI]':<26}{'A - B [95% CI]':<28}p",
    ]
    for row in result.rows:
        scale = 1.0 if row.percent else 100.0
        r = row.result
        lines.append(
            f"{row.name:<42}{_ci(r.a, scale):<26}{_ci(r.b, scale):<26}{_ci(r.diff, scale, sign=True):<28}{_p(r.p)}"
        )
    m = result.mcnemar
    stat = f", chi2 = {m.statistic:.3f}" if m.statistic is not None else ""
    lines.append(
        f"McNemar on correctness: A right & B wrong = {m.b}, A wrong & B right = {m.c}; {m.method}"
        f" (exact below {EXACT_BELOW} discordant){stat}; p = {_p(m.p)}"
    )
    lines += _cost_lines(result)
    lines.extend(f"note: {note}" for note in result.notes)
    return "\n".join(lines) + "\n"


def _figure(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 or float(value).is_integer() else f"{value:.3g}"


def _cost_lines(result: Comparison) -> list[str]:
    """The two entries' costs beside the score differences: A, B and the ratio A / B."""
    if not result.costs:
        return []
    out = [f"{'cost (each entry as recorded)':<42}{'A':<26}{'B':<26}A / B"]
    for row in result.costs:
        ratio = f"{row.ratio:.3g}x" if row.ratio is not None else "-"
        out.append(f"{row.name:<42}{_figure(row.a):<26}{_figure(row.b):<26}{ratio}")
    return out


def comparison_json(result: Comparison, resamples: int, seed: int) -> dict[str, Any]:
    """The comparison as plain data: values as computed (fractions, BLEU on 0-100; ``percent`` says which)."""
    rows = []
    for row in result.rows:
        r = row.result
        rows.append({"metric": row.name, "percent": row.percent, "a": asdict(r.a), "b": asdict(r.b),
                     "diff": asdict(r.diff), "p": r.p})  # fmt: skip
    return {
        "dataset": result.dataset,
        "model_a": result.model_a,
        "model_b": result.model_b,
        "n": result.n,
        "n_reasoning": result.n_reasoning,
        "seeds": list(result.seeds),
        "bootstrap": {"resamples": resamples, "seed": seed, "level": 0.95},
        "rows": rows,
        "mcnemar": asdict(result.mcnemar),
        "costs": [asdict(row) for row in result.costs],
        "notes": list(result.notes),
    }
