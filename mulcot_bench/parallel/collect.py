"""Interleaved shards and the collectives of a data-parallel run, moving JSON bytes in tensors (never pickle).

torch's ``*_object`` collectives pickle their objects; here every value is JSON-encoded, sent as a ``uint8`` tensor
(padded to the longest rank's), and decoded, on gloo (CPU) and nccl (on the rank's GPU) alike. A collective that
breaks because another rank died raises :class:`RankLost`, one line that names this rank and says how to resume.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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


def all_gather_json(value: Any, what: str = "a gather") -> list[Any]:
    """Every rank's ``value`` (JSON-encodable), in rank order, on every rank; ``[value]`` when not distributed."""
    if current().size == 1 or not joined_here():
        return [value]
    import torch
    import torch.distributed as dist

    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
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
