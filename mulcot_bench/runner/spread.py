"""A cached call spread over the ranks of a data-parallel run.

The call's distinct items are dealt out interleaved (``items[rank::world]``, the same on every launch of that size);
each rank looks its shard up in its cache and asks the model only for what is missing there (caching and
journalling it itself); then every rank gets every output, in order. When any rank has something missing, every
rank runs ``prepare`` (so a model that trains with DDP trains on all ranks together), and an error on any rank is
raised on every rank, naming the rank, so all ranks record the same failure and go on in step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from mulcot_bench.errors import CallsFailed, ModelUnavailable, UserError, describe
from mulcot_bench.faults import ModelFault, ModelTimeout
from mulcot_bench.parallel.collect import RankLost, all_gather_json, any_rank, shard
from mulcot_bench.parallel.world import current

#: the errors a rank's shard may end with that every rank raises again as the same type
RERAISED: dict[str, type[Exception]] = {
    cls.__name__: cls for cls in (ModelFault, ModelTimeout, ModelUnavailable, CallsFailed, UserError)
}


class Shardable(Protocol):
    """What is spread: :class:`mulcot_bench.runner.stages.Fill`."""

    cache: Any
    ns: str
    keys: list[str]
    model_name: str

    def missing(self, positions: Sequence[int]) -> tuple[dict[str, Any], list[int]]: ...

    def run(self, positions: Sequence[int], prepare: Any, force_prepare: bool = False) -> tuple[dict[str, Any], Any]:
        ...


def spread_calls(fill: Shardable, prepare: Callable[[], Any] | None) -> tuple[dict[str, Any], list[int]]:
    """Every output of ``fill`` on every rank (key -> JSON), each rank having computed its shard's missing ones;
    with the counts over all ranks: cached, computed, failed."""
    world = current()
    what = f"{fill.ns} of {fill.model_name}"
    first: dict[str, int] = {}
    for i, k in enumerate(fill.keys):
        first.setdefault(k, i)
    mine = shard(list(first.values()), world.rank, world.size)
    _, todo = fill.missing(mine)
    needed = any_rank(bool(todo), what)
    try:
        found, stats = fill.run(mine, prepare, force_prepare=needed)
        payload: dict[str, Any] = {
            "found": {fill.keys[i]: found[fill.keys[i]] for i in mine},
            "stats": [stats.cached, stats.computed, stats.extra.get("failed", 0)],
        }
    except RankLost:
        raise
    except Exception as exc:  # noqa: BLE001 - handed to every rank below, raised there as the same type
        payload = {"error": [type(exc).__name__, str(exc) or describe(exc)]}
    parts = all_gather_json(payload, what)
    errors = [(r, p["error"]) for r, p in enumerate(parts) if "error" in p]
    if errors:
        rank, (kind, text) = errors[0]
        raise same_error(kind, text, rank, fill.model_name)
    merged: dict[str, Any] = {}
    total = [0, 0, 0]
    for part in parts:
        merged.update(part["found"])
        total = [a + b for a, b in zip(total, part["stats"], strict=True)]
    if world.main:  # rank 0 keeps every output (the others' too: their cache may be on another machine)
        fresh = {k: v for k, v in merged.items() if "failed" not in v}
        have = fill.cache.rows(fill.ns, list(fresh))
        fill.cache.put_many(fill.ns, {k: v for k, v in fresh.items() if k not in have})
    return merged, total


def same_error(kind: str, text: str, rank: int, model: str) -> Exception:
    """The error rank ``rank`` ended with (type name, message), to raise on every rank."""
    cls = RERAISED.get(kind)
    return cls(f"{text} (rank {rank})") if cls else ModelFault(f"model {model!r} failed on rank {rank}: {kind}: {text}")


def trains_alone(model: Any) -> bool:
    """In a data-parallel run, whether rank 0 alone trains ``model``: it has no DDP support (``distributed_fit``)
    and can be shared through the artifact cache (``save``/``load``)."""
    ddp = bool(getattr(model, "distributed_fit", False))
    return current().size > 1 and not ddp and hasattr(model, "save") and hasattr(model, "load")


def rank0_trains(train: Callable[[], None], stored: Callable[[], Any], model: Any, name: str) -> None:
    """Rank 0 runs ``train`` (which stores the artifact) while the others wait, then they load what it stored;
    a rank that cannot see it (its cache is on another machine's disk) trains too. An error is every rank's."""
    world = current()
    error: list[str] | None = None
    failure: Exception | None = None
    if world.main:
        try:
            train()
        except RankLost:
            raise
        except Exception as exc:  # noqa: BLE001 - every rank raises it after the gather below
            failure, error = exc, [type(exc).__name__, str(exc) or describe(exc)]
    first = all_gather_json(error, f"waiting for rank 0 to train {name}")[0]
    if failure is not None:
        raise failure
    if first is not None:
        raise same_error(first[0], first[1], 0, name)
    if not world.main:
        folder = stored()
        if folder is None:
            train()
        else:
            model.load(folder)
