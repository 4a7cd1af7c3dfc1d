"""The quality-cost front: the points no other point beats on both quality (higher is better) and cost (lower)."""

from __future__ import annotations

from collections.abc import Sequence


def front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the (cost, quality) points on the front, by rising cost.

    A point is on it when no other point costs at most as much and scores at least as well, better in one of the
    two; two identical points are both on it."""
    out = []
    for i, (cost, quality) in enumerate(points):
        beaten = any(
            c <= cost and q >= quality and (c < cost or q > quality) for j, (c, q) in enumerate(points) if j != i
        )
        if not beaten:
            out.append(i)
    return sorted(out, key=lambda i: (points[i][0], -points[i][1]))
