"""Helpers shared by the speed benchmarks: the data root, Twitter-2015's distinct images, timing and load lines."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def default_data_root() -> Path:
    """``$MULCOT_BENCH_DATA_ROOT``, else ``../shared/data`` beside the repository."""
    return Path(os.environ.get("MULCOT_BENCH_DATA_ROOT") or REPO.parent / "shared" / "data")


def missing_twitter(root: Path, name: str = "twitter2015") -> bool:
    """True (after one line on stderr naming the folder and what to do) when ``root`` has no ``name`` folder."""
    if (root / name).is_dir():
        return False
    print(f"no {name} under {root}; pass --data-root (the folder holding {name}/)", file=sys.stderr)
    return True


def twitter_images(root: Path, name: str = "twitter2015") -> list[bytes]:
    """The distinct images of every split of a Twitter set, in first-seen order (one per image id)."""
    from mulcot_bench.data.loaders import load_twitter

    data = load_twitter(root / name, name)
    seen = {s.meta["image_id"]: s.image for sp in ("train", "dev", "test") for s in data.split(sp) if s.image}
    return list(seen.values())


def load_line() -> str:
    """The 1-minute load average against the CPU count, for every printed figure on a shared machine."""
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"


def free_cores() -> int:
    """CPUs not busy with other work right now (at least one): the CPU count less the 1-minute load average."""
    return max(1, round((os.cpu_count() or 1) - os.getloadavg()[0]))


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()`` and its wall seconds."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start
