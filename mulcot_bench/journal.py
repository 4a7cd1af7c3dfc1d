"""The run journal: every model output appended to ``runs/<run-id>/journal/<model>.jsonl`` as it is made.

Durable progress has two copies. The SQLite cache is the one a run reads: each batch's outputs are
committed in one transaction the moment the model returns them, keyed by model identity, call and the
sample's content hash, so a re-run (any batch size, any number of processes) asks the model only for
samples whose output is missing. The journal is the run folder's own append-only copy, written right after
each commit with one ``write`` (``O_APPEND``) and an fsync: one line per sample with the model, the call,
the sample id, its content hash, the cache key and the output. It lets anyone follow a long run
(``tail -f``), audit what each model answered and when, and resume a run whose cache is gone: ``run``
with the same ``--run-id`` replays the journal into the cache first (:meth:`Journal.replay`).

A kill can cut the last line short; replay skips such a line and counts it (its batch is then asked again).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mulcot_bench.paths import safe_name

if TYPE_CHECKING:
    from mulcot_bench.types import Sample


class Store(Protocol):
    """What replay needs of the cache (:class:`mulcot_bench.cache.Cache`): read and write many keys."""

    def get_many(self, ns: str, keys: list[str]) -> dict[str, Any]: ...

    def put_many(self, ns: str, items: dict[str, Any]) -> None: ...


@dataclass
class ReplayCounts:
    """What :meth:`Journal.replay` found: lines read, outputs restored to the cache, lines skipped."""

    lines: int = 0
    restored: int = 0
    skipped: int = 0
    skipped_where: list[str] = field(default_factory=list)


class Journal:
    """An append-only JSONL log per model under one folder (``runs/<run-id>/journal``)."""

    def __init__(self, folder: Path, tag: str = "") -> None:
        """``tag`` names the writer's own files (``<model><tag>.jsonl``: each rank of a data-parallel run has one);
        replay reads every file of the folder."""
        self.folder = folder
        self.tag = tag

    def path(self, model: str) -> Path:
        return self.folder / f"{safe_name(model)}{self.tag}.jsonl"

    def append(
        self, model: str, ns: str, samples: list[Sample], keys: list[str], outputs: list[dict[str, Any]]
    ) -> None:
        """Append one line per sample (its output as JSON) in one write, then fsync: on disk when this returns."""
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        lines = [
            json.dumps(
                {"model": model, "ns": ns, "id": s.id, "sample": s.content_hash, "key": k, "output": out, "at": stamp},
                ensure_ascii=False,
                sort_keys=True,
            )
            for s, k, out in zip(samples, keys, outputs, strict=True)
        ]
        if not lines:
            return
        path = self.path(model)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            data = ("\n".join(lines) + "\n").encode("utf-8")
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        finally:
            os.close(fd)

    def records(self) -> tuple[list[dict[str, Any]], ReplayCounts]:
        """Every complete line of every model's journal; cut-short or malformed lines are counted."""
        counts = ReplayCounts()
        out: list[dict[str, Any]] = []
        if not self.folder.is_dir():
            return out, counts
        for path in sorted(self.folder.glob("*.jsonl")):
            for lineno, line in enumerate(path.read_bytes().split(b"\n"), 1):
                if not line.strip():
                    continue
                counts.lines += 1
                try:
                    rec = json.loads(line)
                    ok = isinstance(rec, dict) and all(isinstance(rec.get(k), str) for k in ("ns", "key"))
                    ok = ok and isinstance(rec.get("output"), dict)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    ok = False
                if not ok:
                    counts.skipped += 1
                    counts.skipped_where.append(f"{path.name}:{lineno}")
                    continue
                out.append(rec)
        return out, counts

    def replay(self, cache: Store) -> ReplayCounts:
        """Put every journalled output the cache lacks back into it; returns the counts."""
        recs, counts = self.records()
        by_ns: dict[str, dict[str, Any]] = {}
        for rec in recs:
            by_ns.setdefault(rec["ns"], {})[rec["key"]] = rec["output"]
        for ns, items in by_ns.items():
            have = cache.get_many(ns, list(items))
            missing = {k: v for k, v in items.items() if k not in have}
            cache.put_many(ns, missing)
            counts.restored += len(missing)
        return counts
