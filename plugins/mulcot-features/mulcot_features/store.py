"""A content-addressed store of feature arrays: one ``.npy`` file per key, written atomically, read without pickle."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from mulcot_bench.plugin import default_cache_dir, write_bytes


def features_root(cache_dir: Path | None = None) -> Path:
    """Where encoders keep their features: ``<cache_dir>/features``, by default under the mulcot-bench cache."""
    return (cache_dir if cache_dir is not None else default_cache_dir()) / "features"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FeatureStore:
    """Arrays keyed by a hex digest, sharded by its first two characters; counts reads, writes and misses."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.reads = 0
        self.writes = 0
        self.misses = 0

    def path(self, digest: str) -> Path:
        return self.folder / digest[:2] / f"{digest}.npy"

    def get(self, digest: str) -> np.ndarray | None:
        """The stored array, or None. A damaged file counts as a miss and is rewritten by the next ``put``."""
        path = self.path(digest)
        try:
            array = np.load(path, allow_pickle=False)
        except (FileNotFoundError, ValueError, OSError, EOFError):
            self.misses += 1
            return None
        self.reads += 1
        return array

    def put(self, digest: str, array: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
        write_bytes(self.path(digest), buffer.getvalue())
        self.writes += 1


class BackgroundWrites:
    """Puts into a store from one worker thread, so each file's fsync overlaps the next batch's encoding.

    Use as a context manager: leaving it waits for every write and raises the first error, so nothing is
    reported as cached before it is on disk. Writes stay atomic and durable (``mulcot_bench.atomic``).
    """

    def __init__(self, store: FeatureStore) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feature-writes")
        self._pending: list = []

    def put(self, digest: str, array: np.ndarray) -> None:
        self._pending.append(self._pool.submit(self.store.put, digest, array))

    def __enter__(self) -> BackgroundWrites:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)
        for future in self._pending:
            future.result()  # re-raises a failed write
