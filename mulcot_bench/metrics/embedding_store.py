"""Reference chains' MiniLM embeddings on disk, so the processes of one run embed each reference once.

A run that fans out as jobs scores each job's chains in its own process against the same test references; each
process would otherwise run MiniLM over all 1,037 Twitter-2015 reference chains again (about 3.5 minutes on one
core). The shared pass (:mod:`mulcot_bench.metrics.minilm_pass`) therefore writes the embeddings of the references
it computed (the token embeddings BERTScore matches and the sentence embedding the MiniLM cosine reads) to
``<cache>/embeddings/<pass key>/`` and looks every text up there before embedding it.

Each write is one ``.npz`` file (numpy arrays only, read with ``allow_pickle=False``) holding a batch of texts:
``keys`` (the sha256 of each text), ``offsets`` (where each text's token rows start in ``tokens``), ``tokens``
(float32, one row per word piece) and ``sentences`` (float32, one row per text). The folder's key names the model
package, its word-piece limit, the layer read and the torch version, so embeddings from another model or library
are never mixed in. Files are written atomically; two processes writing the same batch write the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mulcot_bench.atomic import write_bytes

FOLDER = "embeddings"


def text_key(text: str) -> str:
    """The sha256 of a text (its name in the store)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingStore:
    """Token and sentence embeddings of texts under one folder, loaded lazily and kept in memory once read."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._index: dict[str, tuple[Path, int]] = {}  # text key -> (file, row)
        self._seen: set[Path] = set()
        self._lock = threading.Lock()  # the index
        self._writing = threading.Lock()  # the threads of this process, before the file lock between processes
        self.loaded = 0  # texts served from disk (tests and benchmarks)
        self.saved = 0

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock (an exclusive ``flock`` on ``.lock`` in its folder, shared by the processes of a
        run) while embedding texts others may need; where ``fcntl`` is missing, only this process's lock."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._writing, (self.folder / ".lock").open("a") as fh:
            try:
                import fcntl
            except ImportError:  # not a POSIX system: two processes may embed the same texts, with the same result
                yield
                return
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _refresh(self) -> None:
        """Index the files written since the last look (by this or another process)."""
        import numpy as np

        for path in sorted(self.folder.glob("*.npz")) if self.folder.is_dir() else []:
            if path in self._seen:
                continue
            with np.load(path, allow_pickle=False) as data:
                keys = data["keys"].astype(str)
            for row, k in enumerate(keys):
                self._index.setdefault(str(k), (path, row))
            self._seen.add(path)

    def load(self, texts: Iterable[str]) -> dict[str, tuple[Any, Any]]:
        """text -> (token embeddings [n, d], sentence embedding [d]) as float32 numpy arrays, for the texts stored."""
        import numpy as np

        wanted = {text_key(t): t for t in texts}
        with self._lock:
            self._refresh()
            by_file: dict[Path, list[tuple[int, str]]] = {}
            for k, text in wanted.items():
                if k in self._index:
                    path, row = self._index[k]
                    by_file.setdefault(path, []).append((row, text))
        out: dict[str, tuple[Any, Any]] = {}
        for path, rows in by_file.items():
            with np.load(path, allow_pickle=False) as data:
                offsets, tokens, sentences = data["offsets"], data["tokens"], data["sentences"]
                for row, text in rows:
                    out[text] = (tokens[offsets[row] : offsets[row + 1]].copy(), sentences[row].copy())
        self.loaded += len(out)
        return out

    def save(self, items: dict[str, tuple[Any, Any]]) -> Path | None:
        """Write ``text -> (token embeddings, sentence embedding)`` as one file (named by its texts' keys)."""
        import numpy as np

        if not items:
            return None
        ordered = sorted((text_key(t), t) for t in items)
        tokens = [np.asarray(items[t][0], dtype=np.float32) for _, t in ordered]
        offsets = np.cumsum([0] + [len(t) for t in tokens]).astype(np.int64)
        buf = io.BytesIO()
        np.savez(
            buf,
            keys=np.array([k for k, _ in ordered], dtype="S64"),
            offsets=offsets,
            tokens=np.concatenate(tokens),
            sentences=np.stack([np.asarray(items[t][1], dtype=np.float32) for _, t in ordered]),
        )
        name = hashlib.sha256("".join(k for k, _ in ordered).encode()).hexdigest()[:32]
        path = self.folder / f"{name}.npz"
        write_bytes(path, buf.getvalue())
        self.saved += len(items)
        return path


def store_key(*parts: object) -> str:
    """A folder name from the pass's identity (model, limits, layer, library versions)."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:24]
