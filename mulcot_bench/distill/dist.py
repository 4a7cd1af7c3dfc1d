"""torch.distributed helpers: the process group from the launcher's environment, sharding and gathering.

``torchrun --nproc_per_node N`` and ``accelerate launch`` both set ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_from_env` joins that group (gloo on CPU, nccl on CUDA).
Without them every helper here is the single-process identity, so the same code runs alone or in a group.

Samples are sharded round-robin (``rank::world``) and gathered back into their original order on every
rank (``all_gather_object``; the objects travel between this run's own processes only, nothing is stored).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def _dist() -> Any | None:
    """``torch.distributed`` when a process group is initialised, else None (torch imported lazily)."""
    if "torch" not in sys.modules:  # nothing can be initialised without torch loaded
        return None
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def rank() -> int:
    d = _dist()
    return d.get_rank() if d is not None else 0


def world_size() -> int:
    d = _dist()
    return d.get_world_size() if d is not None else 1


def is_main() -> bool:
    """True on rank 0 (and when not distributed): the process that writes files."""
    return rank() == 0


def launched() -> bool:
    """True when a launcher (torchrun, accelerate) asked for more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(backend: str | None = None) -> bool:
    """Join the launcher's process group if there is one and none is joined yet; True when distributed.

    ``backend`` defaults to nccl when CUDA is available, else gloo (``MULCOT_BENCH_DIST_BACKEND`` overrides);
    see :func:`mulcot_bench.parallel.world.start`.
    """
    if not launched():
        return False
    from mulcot_bench.parallel.world import start

    return start(backend=backend).size > 1


def shutdown(clean: bool = True) -> None:
    """Leave the group (:func:`mulcot_bench.parallel.world.finish`; ``clean`` False: without a barrier)."""
    from mulcot_bench.parallel.world import finish

    finish(clean)


def barrier() -> None:
    d = _dist()
    if d is not None:
        d.barrier()


def shard(n: int) -> list[int]:
    """This rank's indices of ``range(n)``: ``rank::world``."""
    return list(range(rank(), n, world_size()))


def broadcast(obj: T) -> T:
    """Rank 0's ``obj`` on every rank."""
    d = _dist()
    if d is None:
        return obj
    box = [obj]
    d.broadcast_object_list(box, src=0)
    return box[0]


def gather_ordered(local: Sequence[T], n: int) -> list[T]:
    """Every rank's results for its :func:`shard` of ``range(n)``, put back in order, on every rank."""
    d = _dist()
    if d is None:
        return list(local)
    parts: list[Any] = [None] * d.get_world_size()
    d.all_gather_object(parts, list(local))
    out: list[Any] = [None] * n
    for r, part in enumerate(parts):
        for i, value in zip(range(r, n, len(parts)), part, strict=True):
            out[i] = value
    return out


def sharded_map(fn: Callable[[list[int]], Sequence[T]], n: int) -> list[T]:
    """``fn`` over this rank's shard of ``range(n)`` (one call), gathered in order on every rank."""
    idx = shard(n)
    local = list(fn(idx)) if idx else []
    if len(local) != len(idx):
        raise ValueError(f"sharded call returned {len(local)} results for {len(idx)} items")
    return gather_ordered(local, n)


def all_reduce_sum(values: Sequence[float]) -> list[float]:
    """Element-wise sum of ``values`` over the ranks (float64)."""
    d = _dist()
    if d is None:
        return [float(v) for v in values]
    import torch

    t = torch.tensor([float(v) for v in values], dtype=torch.float64)
    d.all_reduce(t)
    return t.tolist()


def union_keys(keys: Sequence[str] | dict[str, Any]) -> list[str]:
    """The sorted union of every rank's ``keys`` (the same list on every rank)."""
    d = _dist()
    if d is None:
        return sorted(keys)
    parts: list[Any] = [None] * d.get_world_size()
    d.all_gather_object(parts, sorted(keys))
    return sorted({k for part in parts for k in part})


def sync_buffers(module: Any) -> None:
    """Copy rank 0's buffers (e.g. BatchNorm running statistics) into every rank's ``module``."""
    d = _dist()
    if d is None:
        return
    for buf in module.buffers():
        d.broadcast(buf.data, src=0)
