"""Where things live: the data root, the cache folder, and file-name-safe names (a leaf: imports nothing here).

Each folder has an environment variable and an XDG default; plugins read these, never the runner.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

DATA_ROOT_ENV = "MULCOT_BENCH_DATA_ROOT"
CACHE_ENV = "MULCOT_BENCH_CACHE"


def default_data_root() -> Path:
    """``$MULCOT_BENCH_DATA_ROOT``, else ``$XDG_DATA_HOME/mulcot-bench/data``, else ``~/.local/share/...``."""
    if os.environ.get(DATA_ROOT_ENV):
        return Path(os.environ[DATA_ROOT_ENV])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mulcot-bench" / "data"


def default_cache_dir() -> Path:
    """``$MULCOT_BENCH_CACHE``, else ``$XDG_CACHE_HOME/mulcot-bench``, else ``~/.cache/mulcot-bench``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mulcot-bench"


def safe_name(text: str) -> str:
    """A file-name-safe version of a user or plugin string."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "unnamed"
