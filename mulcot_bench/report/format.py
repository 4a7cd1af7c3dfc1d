"""Small display formatters for the leaderboard: score scale, numbers, parameters, readable values."""

from __future__ import annotations

import json
from typing import Any

DASH = "\u2014"  # shown for "not applicable" / unknown


def is_percent_native(metric_id: str, key: str = "") -> bool:
    """True when a metric's values are already on a 0-100 scale (BLEU), so they are shown as they are.

    This is the one place that decides score scale: a metric whose id (or output key) starts with
    ``bleu`` reports 0-100; every other metric reports a fraction in [0, 1] and is shown x100.
    """
    return metric_id.lower().startswith("bleu") or key.lower().startswith("bleu")


def format_score(value: float | None, metric_id: str, key: str = "") -> str:
    """A score for display: x100 with one decimal for fractions, as-is with one decimal for BLEU, a dash for None."""
    if value is None:
        return DASH
    shown = value if is_percent_native(metric_id, key) else value * 100.0
    return f"{shown:.1f}"


def format_params(params: int | None) -> str:
    """A parameter count, compactly: ``1.2M``, ``35k``, ``812``, or a dash when unknown."""
    if params is None:
        return DASH
    n = abs(params)
    sign = "-" if params < 0 else ""
    units = (("B", 1_000_000_000), ("M", 1_000_000), ("k", 1_000))
    for i, (suffix, size) in enumerate(units):
        if n < size:
            continue
        value = n / size
        text = f"{value:.1f}" if value < 10 else f"{value:.0f}"
        if float(text) >= 1000 and i > 0:  # rounding rolled over, e.g. 999_999 -> 1000k -> 1M
            suffix = units[i - 1][0]
            text = "1"
        return f"{sign}{text.removesuffix('.0')}{suffix}"
    return f"{sign}{n}"


def readable(value: Any) -> str:
    """A recorded value as a person reads it: ``dev 20, test 20`` for a mapping, ``[2.0, 1.0]`` for a list,
    strings as they are, other scalars as JSON writes them (``true``, ``null``, ``0.001``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return ", ".join(f"{k} {_nested(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_nested(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False, default=str)


def _nested(value: Any) -> str:
    return f"({readable(value)})" if isinstance(value, dict) else readable(value)


def short_hash(value: str | None, length: int = 12) -> str:
    """The first ``length`` characters of a fingerprint (after an optional ``algo:`` prefix), or a dash."""
    if not value:
        return DASH
    _, _, digest = value.rpartition(":")
    return digest[:length]
