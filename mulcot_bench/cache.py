"""The result cache: JSON values in SQLite, plus a folder of trained-model artifacts.

Keys are content hashes built with :func:`key`; callers put everything that changes an output into
them (model identity and settings, seed, sample content). Values are JSON, never pickle.

Several processes may share one cache folder: SQLite runs in WAL mode with a busy timeout and every
write is one ``BEGIN IMMEDIATE`` transaction (a writer waits for the lock instead of failing), and an
artifact is moved into place whole, after its files are fsynced; when two processes train the same
artifact, the first one in place wins and the other's copy is discarded (same key, same content).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mulcot_bench.atomic import fsync_dir
from mulcot_bench.paths import CACHE_ENV, default_cache_dir  # noqa: F401 - where plugins found them before

if TYPE_CHECKING:
    from mulcot_bench.journal import Journal

DB_NAME = "cache.sqlite3"
BUSY_TIMEOUT_S = 600  # a writer waits this long for another process's transaction before failing
STALE_TMP_S = 24 * 3600  # temporary artifact folders older than this are left by killed runs: removed


def key(*parts: Any) -> str:
    """A stable sha256 over JSON-encoded parts (dict keys sorted)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def fsync_tree(folder: Path) -> None:
    """fsync every file under ``folder``, then every folder (so names and contents are on disk)."""
    dirs = [folder]
    for path in folder.rglob("*"):
        if path.is_dir():
            dirs.append(path)
        elif path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    for d in dirs:
        fsync_dir(d)


def select(db: sqlite3.Connection, ns: str, keys: list[str]) -> dict[str, str]:
    """Key -> stored JSON text of the ``keys`` found in one cache database's ``ns``."""
    found: dict[str, str] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(db.execute(f"SELECT k, v FROM kv WHERE ns = ? AND k IN ({marks})", [ns, *chunk]))
    return found


class Cache:
    """A namespaced key-value store of JSON values; safe for several processes (WAL, busy timeout)."""

    def __init__(self, folder: Path, db_name: str = DB_NAME, exclusive: bool = False) -> None:
        """``db_name``: the SQLite file in ``folder``; ``exclusive``: this process alone opens it (no shared-memory
        index, so WAL is safe on a network file system: the per-rank shard files of :mod:`mulcot_bench.parallel`)."""
        self.folder = folder
        self.hits = 0
        self.misses = 0
        self.journal: Journal | None = None  # the run journal model outputs are also appended to, if any
        folder.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(folder / db_name, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        if exclusive:
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed batch survives a power cut, not only a kill
        self._set_up()
        self._clean_stale()

    def _set_up(self) -> None:
        """WAL mode and the table. SQLite does not call the busy handler while another process switches a new
        database to WAL, so two processes opening a fresh cache at once retry here instead of failing."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        delay = 0.005
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("CREATE TABLE IF NOT EXISTS kv (ns TEXT, k TEXT, v TEXT, PRIMARY KEY (ns, k))")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.25)

    def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """One write transaction, taking the write lock up front so a waiting writer never deadlocks."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(sql, rows)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def get_many(self, ns: str, keys: Iterable[str]) -> dict[str, Any]:
        """The cached values among ``keys`` (missing keys are absent from the result)."""
        keys = list(keys)
        found = {k: json.loads(v) for k, v in self.rows(ns, keys).items()}
        self.hits += len(found)
        self.misses += len(keys) - len(found)
        return found

    def rows(self, ns: str, keys: list[str]) -> dict[str, str]:
        """The stored JSON text of those ``keys`` that are cached (no hit or miss counted)."""
        return select(self._db, ns, keys)

    def get(self, ns: str, k: str) -> Any | None:
        return self.get_many(ns, [k]).get(k)

    def put_many(self, ns: str, items: dict[str, Any]) -> None:
        """Store values in one committed transaction (written as they are made, so nothing done is lost)."""
        rows = [(ns, k, json.dumps(v, sort_keys=True)) for k, v in items.items()]
        if rows:
            self._write("INSERT OR REPLACE INTO kv (ns, k, v) VALUES (?, ?, ?)", rows)

    def absorb(self, path: Path) -> None:
        """Copy every row of another cache database file into this one (its rows win), in one transaction; a file
        without the table (its process was killed before making it) adds nothing."""
        self._db.execute("ATTACH DATABASE ? AS other", (str(path),))
        try:
            if self._db.execute("SELECT 1 FROM other.sqlite_master WHERE name = 'kv'").fetchone():
                self._write("INSERT OR REPLACE INTO kv (ns, k, v) SELECT ns, k, v FROM other.kv", [()])
        finally:
            self._db.execute("DETACH DATABASE other")

    def checkpoint(self) -> None:
        """Move the write-ahead log into the database file and empty it (the file alone then holds every row)."""
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def put(self, ns: str, k: str, value: Any) -> None:
        self.put_many(ns, {k: value})

    def artifact(self, k: str) -> Path | None:
        """The folder of a finished artifact, or None."""
        path = self.folder / "artifacts" / k
        return path if (path / ".complete").exists() else None

    def store_artifact(self, k: str, save: Callable[[Path], Any]) -> Path:
        """Write an artifact into a temporary folder, fsync it, mark it complete and move it into place.

        An artifact already in place (another process finished the same key first) is kept and ours
        discarded: readers of a finished artifact never see it change under them.
        """
        final = self.folder / "artifacts" / k
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{k[:12]}.", dir=final.parent))
        try:
            save(tmp)
            (tmp / ".complete").write_text("ok\n")
            fsync_tree(tmp)
            if final.exists() and not (final / ".complete").exists():
                shutil.rmtree(final, ignore_errors=True)  # an incomplete folder (not written by this class)
            try:
                os.rename(tmp, final)
            except OSError:
                if self.artifact(k) is None:  # not a lost race: a real error
                    raise
            fsync_dir(final.parent)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return final

    def _clean_stale(self) -> None:
        """Remove temporary artifact folders left by killed runs (only old ones: a live run may own new ones)."""
        folder = self.folder / "artifacts"
        if not folder.is_dir():
            return
        now = time.time()
        for path in folder.glob(".*"):
            try:
                if path.is_dir() and now - path.stat().st_mtime > STALE_TMP_S:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                continue

    def close(self) -> None:
        self._db.close()
