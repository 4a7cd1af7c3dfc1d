"""Where the ranks of a run keep the cache: one shared SQLite file, or one shard file per rank.

* ``shared``: every rank reads and writes ``cache.sqlite3`` (WAL, busy timeout). Right when the cache folder is on
  a machine's local disk: the ranks of that machine share it safely.
* ``sharded``: rank r writes only ``cache.rank<r>.sqlite3`` (opened by that process alone, so no shared-memory
  index: safe on a network file system) and reads the main file read-only; rank 0 merges the shard files into
  ``cache.sqlite3`` when the run ends (and at the start, what a killed run left).
* ``auto`` (the default): ``sharded`` when the cache folder is on a network file system (``/proc/mounts``) or the
  ranks span machines (``LOCAL_WORLD_SIZE`` < ``WORLD_SIZE``), else ``shared``. One process is always ``shared``.

``shared`` on a network file system with several ranks is refused: SQLite's locking is unsafe there.
"""

from __future__ import annotations

import os
from pathlib import Path

from mulcot_bench.errors import UserError
from mulcot_bench.parallel.world import World

LAYOUT_ENV = "MULCOT_BENCH_CACHE_LAYOUT"
LAYOUTS = ("auto", "shared", "sharded")
MOUNTS = Path("/proc/mounts")
#: file systems whose byte-range locks SQLite cannot trust across processes or machines
NETWORK_FS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "lustre", "gpfs", "beegfs", "ceph", "glusterfs",
     "fuse.glusterfs", "fuse.sshfs", "fuse.s3fs", "fuse.gcsfuse", "fuse.juicefs", "9p", "ocfs2", "gfs2", "panfs",
     "orangefs", "pvfs2", "wekafs"}
)  # fmt: skip


def _unescape(field: str) -> str:
    """A /proc/mounts field with its octal escapes (``\\040`` for a space) decoded."""
    return field.encode("latin-1").decode("unicode_escape") if "\\" in field else field


def mounts(text: str) -> list[tuple[str, str]]:
    """(mount point, file system type) of every line of a ``/proc/mounts`` text."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            out.append((_unescape(parts[1]), parts[2]))
    return out


def fs_type(folder: Path, table: list[tuple[str, str]] | None = None) -> str | None:
    """The file system type of the mount holding ``folder`` (the longest matching mount point; None if unknown)."""
    if table is None:
        try:
            table = mounts(MOUNTS.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return None
    path = Path(os.path.abspath(folder)).resolve()  # links in the part that exists followed (it may not exist yet)
    best: tuple[int, str] | None = None
    for point, kind in table:
        p = Path(point)
        if (path == p or p in path.parents) and (best is None or len(point) >= best[0]):
            best = (len(point), kind)
    return best[1] if best else None


def choose(requested: str | None, world: World, folder: Path, kind: str | None = None) -> str:
    """``shared`` or ``sharded`` for this world and cache folder (``kind``: its file system type, read if None)."""
    asked = (requested or os.environ.get(LAYOUT_ENV, "") or "auto").strip()
    if asked not in LAYOUTS:
        raise UserError(f"cache layout {asked!r} (--cache-layout or ${LAYOUT_ENV}): use one of {', '.join(LAYOUTS)}")
    if world.size == 1:
        return "shared"
    kind = fs_type(folder) if kind is None else kind
    network = kind in NETWORK_FS
    if asked == "shared" and network:
        where = f"ranks on {world.size // world.local_size or 2} machines" if world.multi_node else "several ranks"
        raise UserError(
            f"--cache-layout shared: the cache folder {folder} is on a network file system ({kind}), where SQLite "
            f"locking is unsafe for {where}; use --cache-layout sharded (or auto) or a cache folder on local disk"
        )
    if asked == "auto":
        return "sharded" if network or world.multi_node else "shared"
    return asked
