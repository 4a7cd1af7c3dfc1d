"""Interleaved shards and the collectives of a data-parallel run, moving JSON bytes in tensors (never pickle).

torch's ``*_object`` collectives pickle their objects; here every value is JSON-encoded, sent as a ``uint8`` tensor
(padded to the longest rank's), and decoded, on gloo (CPU) and nccl (on the rank's GPU) alike. A collective that
breaks because another rank died raises :class:`RankLost`, one line that names this rank and says how to resume.

The trainer's helpers are here too: :func:`sharded_map` (a function over this rank's shard of ``range(n)``,
gathered in order on every rank), :func:`union_keys`, :func:`all_reduce_sum` (a float64 tensor sum) and
:func:`sync_buffers`. Without a joined group every collective is the single-process identity.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from mulcot_bench.errors import UserError
from mulcot_bench.parallel.world import current, joined_here, resume_hint, said

T = TypeVar("T")


class RankLost(UserError):
    """Another process of the group stopped (killed, crashed): this one cannot go on."""


def shard(items: Sequence[T], rank: int, size: int) -> list[T]:
    """The interleaved shard ``items[rank::size]`` (deterministic: the same on every launch of that size)."""
    return list(items[rank::size])


def unshard(parts: Sequence[Sequence[T]], n: int) -> list[T]:
    """The ``n`` items back in their order from every rank's :func:`shard` (``parts[r]`` is rank r's)."""
    size = len(parts)
    out: list[Any] = [None] * n
    for r, part in enumerate(parts):
        positions = range(r, n, size)
        if len(part) != len(positions):
            raise ValueError(f"rank {r} sent {len(part)} items for a shard of {len(positions)}")
        for i, value in zip(positions, part, strict=True):
            out[i] = value
    return out


def distributed() -> bool:
    """Whether this process is one of several in a joined group (else every collective is the identity)."""
    return current().size > 1 and joined_here()


def _device() -> Any:
    """Where the group's tensors live: the rank's GPU under nccl, else the CPU."""
    import torch
    import torch.distributed as dist

    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def all_gather_json(value: Any, what: str = "a gather") -> list[Any]:
    """Every rank's ``value`` (JSON-encodable), in rank order, on every rank; ``[value]`` when not distributed."""
    if not distributed():
        return [value]
    import torch
    import torch.distributed as dist

    device = _device()
    data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")  # key order kept
    size = dist.get_world_size()
    try:
        length = torch.tensor([len(data)], dtype=torch.int64, device=device)
        lengths = [torch.zeros_like(length) for _ in range(size)]
        dist.all_gather(lengths, length)
        longest = int(max(int(n.item()) for n in lengths))
        mine = torch.zeros(longest, dtype=torch.uint8)
        mine[: len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        mine = mine.to(device)
        bufs = [torch.empty_like(mine) for _ in range(size)]
        dist.all_gather(bufs, mine)
    except RuntimeError as exc:  # gloo/nccl: a peer closed its connection or timed out
        raise lost(what) from exc
    return [json.loads(b[: int(n.item())].cpu().numpy().tobytes()) for b, n in zip(bufs, lengths, strict=True)]


def lost(what: str) -> RankLost:
    """The one line a rank says when the group broke under it."""
    said()
    return RankLost(
        f"rank {current().rank} of {current().size} lost the other processes during {what}: another rank stopped "
        f"(the launcher's report names it); {resume_hint()}"
    )


def broadcast_json(value: Any, what: str = "a broadcast") -> Any:
    """Rank 0's ``value`` on every rank."""
    return all_gather_json(value if current().main else None, what)[0]


def any_rank(flag: bool, what: str = "an agreement") -> bool:
    """True on every rank when ``flag`` is true on some rank."""
    return any(all_gather_json(bool(flag), what))


def barrier(what: str = "a barrier") -> None:
    """Wait for every rank (a tiny gather, so a dead rank surfaces as :class:`RankLost`)."""
    all_gather_json(0, what)


def gather_ordered(local: Sequence[T], n: int, what: str = "a gather") -> list[T]:
    """Every rank's results for its :func:`shard` of ``range(n)``, put back in order, on every rank.

    The results travel as JSON: convert anything else (tensors, arrays, dataclasses) before, and back after.
    """
    return unshard(all_gather_json(list(local), what), n)


def sharded_map(fn: Callable[[list[int]], Sequence[T]], n: int, what: str = "a sharded call") -> list[T]:
    """``fn`` over this rank's shard of ``range(n)`` (one call), gathered in order on every rank (JSON values)."""
    rank, size = (current().rank, current().size) if distributed() else (0, 1)
    idx = shard(range(n), rank, size)
    local = list(fn(idx)) if idx else []
    if len(local) != len(idx):
        raise ValueError(f"sharded call returned {len(local)} results for {len(idx)} items")
    return gather_ordered(local, n, what)


def union_keys(keys: Sequence[str] | dict[str, Any], what: str = "a union of names") -> list[str]:
    """The sorted union of every rank's ``keys`` (the same list on every rank)."""
    if not distributed():
        return sorted(keys)
    return sorted({k for part in all_gather_json(sorted(keys), what) for k in part})


def all_reduce_sum(values: Sequence[float], what: str = "a sum") -> list[float]:
    """Element-wise sum of ``values`` over the ranks (a float64 tensor)."""
    if not distributed():
        return [float(v) for v in values]
    import torch
    import torch.distributed as dist

    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_device())
    try:
        dist.all_reduce(t)
    except RuntimeError as exc:
        raise lost(what) from exc
    return t.tolist()


def sync_buffers(module: Any, what: str = "copying rank 0's buffers") -> None:
    """Copy rank 0's buffers (e.g. BatchNorm running statistics) into every rank's ``module`` (a torch module)."""
    if not distributed():
        return
    import torch.distributed as dist

    try:
        for buf in module.buffers():
            dist.broadcast(buf.data, src=0)
    except RuntimeError as exc:
        raise lost(what) from exc
