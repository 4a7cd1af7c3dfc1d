"""The result cache: JSON values in SQLite, plus a folder of trained-model artifacts.

Keys are content hashes built with :func:`key`; callers put everything that changes an output into
them (model identity and settings, seed, sample content). Values are JSON, never pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CACHE_ENV = "MULCOT_BENCH_CACHE"


def default_cache_dir() -> Path:
    """``$MULCOT_BENCH_CACHE``, else ``$XDG_CACHE_HOME/mulcot-bench``, else ``~/.cache/mulcot-bench``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mulcot-bench"


def key(*parts: Any) -> str:
    """A stable sha256 over JSON-encoded parts (dict keys sorted)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class Cache:
    """A namespaced key-value store of JSON values; safe for several processes (WAL, busy timeout)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.hits = 0
        self.misses = 0
        folder.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(folder / "cache.sqlite3", timeout=60, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=60000")
        self._db.execute("CREATE TABLE IF NOT EXISTS kv (ns TEXT, k TEXT, v TEXT, PRIMARY KEY (ns, k))")

    def get_many(self, ns: str, keys: Iterable[str]) -> dict[str, Any]:
        """The cached values among ``keys`` (missing keys are absent from the result)."""
        keys = list(keys)
        found: dict[str, Any] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT k, v FROM kv WHERE ns = ? AND k IN ({marks})", [ns, *chunk])
            found.update((k, json.loads(v)) for k, v in rows)
        self.hits += len(found)
        self.misses += len(keys) - len(found)
        return found

    def get(self, ns: str, k: str) -> Any | None:
        return self.get_many(ns, [k]).get(k)

    def put_many(self, ns: str, items: dict[str, Any]) -> None:
        """Store values in one transaction (written as they are made, so nothing done is lost)."""
        rows = [(ns, k, json.dumps(v, sort_keys=True)) for k, v in items.items()]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO kv (ns, k, v) VALUES (?, ?, ?)", rows)

    def put(self, ns: str, k: str, value: Any) -> None:
        self.put_many(ns, {k: value})

    def artifact(self, k: str) -> Path | None:
        """The folder of a finished artifact, or None."""
        path = self.folder / "artifacts" / k
        return path if (path / ".complete").exists() else None

    def store_artifact(self, k: str, save) -> Path:  # noqa: ANN001 - save(folder) writes the files
        """Write an artifact into a temporary folder, mark it complete, and move it into place."""
        final = self.folder / "artifacts" / k
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{k[:12]}.", dir=final.parent))
        try:
            save(tmp)
            (tmp / ".complete").write_text("ok\n")
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return final

    def close(self) -> None:
        self._db.close()
