"""The ``sharded`` cache layout: one SQLite file per rank, merged by rank 0 into the main file.

During a sharded run no process writes ``cache.sqlite3``: each rank writes ``cache.rank<r>.sqlite3`` (opened by that
process alone) and reads the main file read-only as an immutable snapshot (no locks taken, so a network file system
is fine). Rank 0 merges every shard file it finds into the main file before the ranks open theirs (what a killed run
left) and after they closed them (what this run made), then removes them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

from mulcot_bench.cache import DB_NAME, Cache, select
from mulcot_bench.parallel.collect import barrier
from mulcot_bench.parallel.world import World

SHARD_GLOB = "cache.rank*.sqlite3"


def shard_name(rank: int) -> str:
    return f"cache.rank{rank}.sqlite3"


class ShardCache(Cache):
    """A rank's cache in the sharded layout: writes go to its shard file; reads try it, then the main file."""

    def __init__(self, folder: Path, rank: int) -> None:
        super().__init__(folder, shard_name(rank), exclusive=True)
        main = folder / DB_NAME
        self._main = (
            sqlite3.connect(f"file:{quote(str(main))}?mode=ro&immutable=1", uri=True) if main.exists() else None
        )

    def rows(self, ns: str, keys: list[str]) -> dict[str, str]:
        found = super().rows(ns, keys)
        if self._main is not None and len(found) < len(keys):
            found.update(select(self._main, ns, [k for k in keys if k not in found]))
        return found

    def close(self) -> None:
        if self._main is not None:
            self._main.close()
        super().close()


def merge_shards(folder: Path) -> int:
    """Copy every shard file's rows into the main file (newer rows win), checkpoint it, remove the shard files.

    Only rank 0 calls this, while no rank has a shard file open. Returns the number of shard files merged.
    """
    shards = sorted(folder.glob(SHARD_GLOB))
    main = Cache(folder)  # the main file as every run opens it (WAL): only rank 0 writes it now
    try:
        for path in shards:
            main.absorb(path)
        main.checkpoint()  # readers of the next sharded run open the file alone, without its WAL
    finally:
        main.close()
    for path in shards:
        for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            part.unlink(missing_ok=True)
    return len(shards)


def open_cache(folder: Path, layout: str, world: World) -> Cache:
    """This rank's cache for ``layout``; in the sharded layout rank 0 first merges what a killed run left."""
    if layout != "sharded":
        return Cache(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if world.main:
        merge_shards(folder)
    barrier("opening the cache")
    return ShardCache(folder, world.rank)


def close_cache(cache: Cache, layout: str, world: World) -> int:
    """Close this rank's cache; in the sharded layout rank 0 merges every rank's shard file (returns how many)."""
    cache.close()
    if layout != "sharded":
        return 0
    barrier("closing the cache")
    return merge_shards(cache.folder) if world.main else 0
