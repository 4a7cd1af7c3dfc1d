"""A model's parameter count (total and trainable) and the size of its saved weights on disk.

A model says its own count with the optional hook ``parameter_counts()`` returning ``{"total": int, "trainable":
int}`` (either may be None when unknown; the hook may return None: not known yet), for a model whose weights are
not (only) torch modules: scikit-learn, a lookup table, frozen encoders beside a trained head. Without it, the torch
modules found on the model object (the model itself, its attributes, and theirs one level down; each tensor counted
once) are counted, trainable meaning ``requires_grad``. Else the ``params`` (and ``trainable_params``) its ``fit``
reported; else the count is not reported. torch is never imported here: a model built on torch has loaded it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

HOOK = "parameter_counts"
#: a card under-states its size when the counted trainable parameters exceed its declared count by more than this
TOLERANCE = 0.10
MAX_ITEMS = 1000  # a list or dict longer than this is data: not searched for modules


def _modules(obj: Any, depth: int = 2) -> Iterator[Any]:
    """torch modules on ``obj``: itself, or in its attributes (and in lists, tuples and dicts of them)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    module = torch.nn.Module
    if isinstance(obj, module):
        yield obj
        return
    if depth == 0:
        return
    values: list[Any]
    if isinstance(obj, Mapping | list | tuple) and len(obj) > MAX_ITEMS:
        return  # a table of data, not of modules
    if isinstance(obj, Mapping):
        values = list(obj.values())
    elif isinstance(obj, list | tuple):
        values = list(obj)
    else:
        try:
            values = list(vars(obj).values())
        except TypeError:  # no __dict__: an int, a string
            return
    for value in values:
        if isinstance(value, str | bytes | int | float | bool) or value is None:
            continue
        yield from _modules(value, depth - 1)


def count_torch_parameters(model: Any) -> tuple[int, int] | None:
    """(total, trainable) over the torch modules found on ``model`` (None: none found)."""
    seen: dict[int, Any] = {}
    found = False
    for module in _modules(model):
        found = True
        for p in module.parameters():
            seen.setdefault(id(p), p)
    if not found:
        return None
    total = sum(int(p.numel()) for p in seen.values())
    trainable = sum(int(p.numel()) for p in seen.values() if p.requires_grad)
    return total, trainable


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def counts(model: Any, fit_report: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``{"total", "trainable", "source"}`` of a built (fitted or loaded) model; counts None when not reported."""
    hook = getattr(model, HOOK, None)
    got = hook() if callable(hook) else None
    if isinstance(got, Mapping) and (_int(got.get("total")) is not None or _int(got.get("trainable")) is not None):
        return {"total": _int(got.get("total")), "trainable": _int(got.get("trainable")), "source": f"{HOOK}()"}
    found = count_torch_parameters(model)
    if found is not None:
        return {"total": found[0], "trainable": found[1], "source": "torch modules on the model"}
    report = fit_report or {}
    total = _int(report.get("params"))
    if total is not None:
        trainable = _int(report.get("trainable_params"))
        return {"total": total, "trainable": total if trainable is None else trainable, "source": "fit report"}
    return {"total": None, "trainable": None, "source": "not reported"}


def understated(declared: int | None, counted: dict[str, Any]) -> str | None:
    """A warning when a card declares fewer parameters than were counted (trainable ones, else the total)."""
    counted_n = counted.get("trainable") if counted.get("trainable") is not None else counted.get("total")
    if declared is None or counted_n is None or counted_n <= declared * (1 + TOLERANCE):
        return None
    return (
        f"the card declares {declared:,} parameters but {counted_n:,} "
        f"{'trainable ' if counted.get('trainable') is not None else ''}were counted ({counted['source']}); "
        "correct the card's params"
    )


def disk_bytes(folder: str | os.PathLike[str] | None) -> int | None:
    """Total size of the files under a saved model's folder (None: nothing saved)."""
    if folder is None:
        return None
    root = Path(folder)
    if root.is_file():
        return root.stat().st_size
    if not root.is_dir():
        return None
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())
