"""The three sentiment labels, in the fixed order every metric uses."""

from __future__ import annotations

LABELS: tuple[str, ...] = ("positive", "neutral", "negative")


def check_label(label: str, where: str) -> str:
    """Return ``label`` if it is one of :data:`LABELS`, else raise a clear ValueError."""
    if label not in LABELS:
        raise ValueError(f"{where}: label {label!r} is not one of {', '.join(LABELS)}")
    return label
