"""Cached assistant logits: one pass of the frozen assistant, stored as top-k per KD position in safetensors.

The student then trains without the assistant in memory: the reference needs a second GPU for the frozen
assistant during distillation; with the cache, the assistant runs once (it can then be freed) and the student
step reads ``k`` values and ids per position instead of running a forward pass of the larger model.

File layout (one ``.safetensors`` file, no pickle):

* ``values`` ``(P, k)`` the assistant's raw logits at its top-k ids (float32, or float16 with ``half=True``),
* ``indices`` ``(P, k)`` int32 token ids, sorted by decreasing logit,
* ``tail`` ``(P,)`` float32 log of the probability mass at temperature T outside the top k (``-inf`` if none),
* ``tail_plogp`` ``(P,)`` float32 the sum of ``p log p`` over those ids at temperature T (0 if none),
* ``offsets.<task>`` ``(n_items + 1,)`` int64: item ``i`` of a task owns rows ``offsets[i]:offsets[i+1]`` (an item
  without that task has no rows),
* metadata (strings): format, version, k, temperature, vocab_size (the aligned vocabulary the top k was taken
  over), mask, tasks, n_items, and a caller-chosen ``key`` (e.g. the assistant's artifact key and the data).

How the KL is computed from it is in :mod:`mulcot_bench.training.losses` (top k exact, the tail's cross term
as if its mass were spread evenly; exact for the full vocabulary). k = 0 or None, or any k at least the
vocabulary size, stores the full vocabulary.
"""

from __future__ import annotations

import json
from base64 import b64decode, b64encode
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save
from torch import Tensor

from mulcot_bench.atomic import write_bytes
from mulcot_bench.parallel.collect import all_reduce_sum, barrier, gather_ordered, shard
from mulcot_bench.parallel.world import is_main, rank, world_size
from mulcot_bench.training.losses import TopK, topk_from_logits

FORMAT = "mulcot-kd-topk"
VERSION = 1


class TopKWriter:
    """Collects each item's top-k rows per task, then writes one safetensors file."""

    def __init__(
        self,
        tasks: Sequence[str],
        n_items: int,
        k: int | None,
        temperature: float,
        vocab_limit: int | None = None,
        half: bool = False,
    ) -> None:
        self.tasks = list(tasks)
        self.n_items = n_items
        self.k = None if not k else int(k)
        self.temperature = float(temperature)
        self.vocab_limit = vocab_limit
        self.half = half
        self.rows: dict[str, dict[int, TopK]] = {t: {} for t in self.tasks}
        self.vocab_size: int | None = None

    def add(self, task: str, item: int, logits: Tensor) -> None:
        """The assistant's logits ``(n_positions, V)`` at item ``item``'s KD positions of ``task``."""
        if self.vocab_limit is not None:
            logits = logits[..., : self.vocab_limit]
        v = int(logits.shape[-1])
        if self.vocab_size not in (None, v):
            raise ValueError(f"assistant logits changed width from {self.vocab_size} to {v}")
        self.vocab_size = v
        self.rows[task][item] = topk_from_logits(logits.detach(), self.k, self.temperature)

    def add_topk(self, task: str, item: int, top: TopK) -> None:
        """An already compressed item (e.g. gathered from another process)."""
        self.vocab_size = top.vocab_size
        self.rows[task][item] = top

    def tensors(self) -> tuple[dict[str, Tensor], dict[str, str]]:
        values: list[Tensor] = []
        indices: list[Tensor] = []
        tails: list[Tensor] = []
        plogps: list[Tensor] = []
        out: dict[str, Tensor] = {}
        at = 0
        k_used = None
        for task in self.tasks:
            offsets = [at]
            for i in range(self.n_items):
                top = self.rows[task].get(i)
                if top is not None and len(top):
                    values.append(top.values)
                    indices.append(top.indices)
                    tails.append(top.tail)
                    plogps.append(top.tail_plogp)
                    at += len(top)
                    k_used = int(top.values.shape[1])
                offsets.append(at)
            out[f"offsets.{task}"] = torch.tensor(offsets, dtype=torch.int64)
        k_used = k_used or 0
        out["values"] = (
            torch.cat(values).to(torch.float16 if self.half else torch.float32) if values else (torch.zeros(0, k_used))
        )
        out["indices"] = torch.cat(indices).to(torch.int32) if indices else torch.zeros(0, k_used, dtype=torch.int32)
        out["tail"] = torch.cat(tails).float() if tails else torch.zeros(0)
        out["tail_plogp"] = torch.cat(plogps).float() if plogps else torch.zeros(0)
        return {k: v.contiguous() for k, v in out.items()}, {
            "k": str(k_used),
            "temperature": repr(self.temperature),
            "vocab_size": str(self.vocab_size or 0),
            "tasks": json.dumps(self.tasks),
            "n_items": str(self.n_items),
        }

    def save(self, path: Path, mask: str, key: str) -> Path:
        """Write the file atomically (whoever calls it); ``key`` identifies what it was computed from."""
        tensors, meta = self.tensors()
        meta.update(format=FORMAT, version=str(VERSION), mask=mask, key=key)
        write_bytes(Path(path), save(tensors, metadata=meta))
        return Path(path)


class CachedLogits:
    """A loaded cache file: :meth:`get` returns the :class:`TopK` rows of some items of one task."""

    def __init__(self, tensors: dict[str, Tensor], meta: dict[str, str], path: Path) -> None:
        self.path = path
        self.meta = meta
        self.values = tensors["values"].float()
        self.indices = tensors["indices"].long()
        self.tail = tensors["tail"].float()
        self.tail_plogp = tensors["tail_plogp"].float()
        self.tasks: list[str] = json.loads(meta["tasks"])
        self.offsets = {t: tensors[f"offsets.{t}"] for t in self.tasks}
        self.temperature = float(meta["temperature"])
        self.vocab_size = int(meta["vocab_size"])
        self.k = int(meta["k"])
        self.dense: Tensor | None = None
        if self.k and self.k == self.vocab_size:  # the full vocabulary: plain logits in id order (exact KL path)
            self.dense = torch.empty(len(self.values), self.vocab_size).scatter_(1, self.indices, self.values)

    @classmethod
    def load(cls, path: Path, expect: dict[str, str] | None = None) -> CachedLogits:
        """Read a cache file; ``expect`` metadata (e.g. key, mask) must match or ValueError names the field."""
        path = Path(path)
        with safe_open(str(path), framework="pt") as fh:
            meta = dict(fh.metadata() or {})
            tensors = {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118 - not a dict
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path} is not a {FORMAT} file (format {meta.get('format')!r})")
        if int(meta.get("version", "0")) != VERSION:
            raise ValueError(f"{path} has version {meta.get('version')}, this code reads version {VERSION}")
        for name, want in (expect or {}).items():
            if meta.get(name) != want:
                raise ValueError(f"{path}: cached {name} is {meta.get(name)!r}, expected {want!r}")
        return cls(tensors, meta, path)

    def rows(self, task: str, items: Sequence[int]) -> Tensor:
        off = self.offsets[task]
        parts = [torch.arange(int(off[i]), int(off[i + 1])) for i in items]
        return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)

    def count(self, task: str, item: int) -> int:
        off = self.offsets[task]
        return int(off[item + 1] - off[item])

    def get(self, task: str, items: Sequence[int]) -> TopK | Tensor:
        """The rows of ``items`` (in this order, each item's positions in order).

        A :class:`TopK`, or plain logits ``(N, V)`` when the file holds the full vocabulary.
        """
        idx = self.rows(task, items)
        if self.dense is not None:
            return self.dense[idx]
        return TopK(
            self.values[idx], self.indices[idx], self.tail[idx], self.tail_plogp[idx], self.temperature, self.vocab_size
        )


def build_cache(
    path: Path,
    tasks: Sequence[str],
    n_items: int,
    logits_fn: Callable[[str, list[int]], list[Tensor]],
    *,
    k: int | None,
    temperature: float,
    mask: str,
    key: str,
    vocab_limit: int | None = None,
    batch: int = 32,
    half: bool = False,
) -> CachedLogits:
    """Compute (or reuse) the cache file at ``path``; with several processes each computes its shard.

    ``logits_fn(task, items)`` returns, for each item, the assistant's logits ``(n_positions, V)`` at its KD
    positions (an empty tensor for an item without the task). An existing file with the same key, mask, k
    and temperature is reused (a resumed run does not recompute it).
    """
    path = Path(path)
    want = {"key": key, "mask": mask, "temperature": repr(float(temperature))}
    found: CachedLogits | None = None
    if path.is_file():
        try:
            found = CachedLogits.load(path, want)
        except (ValueError, OSError):
            found = None
    if _everyone(found is not None):  # reuse only when every rank can read the same file
        assert found is not None
        return found
    writer = TopKWriter(tasks, n_items, k, temperature, vocab_limit, half)
    several = world_size() > 1
    mine = shard(range(n_items), rank(), world_size())
    local: list[dict[str, Any]] = []  # this rank's rows, as JSON for the gather (with several processes)
    with torch.no_grad():
        for task in tasks:
            for s in range(0, len(mine), batch):
                chunk = mine[s : s + batch]
                for item, logits in zip(chunk, logits_fn(task, chunk), strict=True):
                    if logits.numel():
                        writer.add(task, item, logits)
                        if several:
                            local.append({"task": task, "item": item, "top": topk_to_json(writer.rows[task][item])})
    if several:
        for part in gather_ordered([local], world_size(), "gathering the assistant's logits"):  # one list per rank
            for row in part:
                writer.add_topk(row["task"], row["item"], topk_from_json(row["top"]))
    tensors, meta = writer.tensors()
    meta.update(format=FORMAT, version=str(VERSION), mask=mask, key=key)
    if is_main():
        write_bytes(path, save(tensors, metadata=meta))
    barrier("writing the assistant's logits")
    return CachedLogits(tensors, meta, path)  # every rank holds the same rows, whether or not it sees the file


def _everyone(flag: bool) -> bool:
    """True when ``flag`` holds on every rank."""
    return all_reduce_sum([0.0 if flag else 1.0])[0] == 0.0


def tensor_to_json(t: Tensor) -> dict[str, Any]:
    """A tensor as JSON: its dtype, shape and raw bytes in base64 (exact, ``-inf`` included; read on the CPU)."""
    t = t.detach().contiguous().cpu()
    raw = t.reshape(-1).view(torch.uint8).numpy().tobytes()
    return {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape), "data": b64encode(raw).decode()}


def tensor_from_json(data: dict[str, Any]) -> Tensor:
    """The tensor :func:`tensor_to_json` encoded (on the CPU)."""
    dtype = getattr(torch, data["dtype"])
    raw = b64decode(data["data"])
    if not raw:
        return torch.empty(data["shape"], dtype=dtype)
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(dtype).reshape(data["shape"])


def topk_to_json(top: TopK) -> dict[str, Any]:
    """One item's :class:`TopK` rows as JSON (what the ranks gather)."""
    tensors = {name: tensor_to_json(getattr(top, name)) for name in ("values", "indices", "tail", "tail_plogp")}
    return {**tensors, "temperature": top.temperature, "vocab_size": top.vocab_size}


def topk_from_json(data: dict[str, Any]) -> TopK:
    """The :class:`TopK` that :func:`topk_to_json` encoded."""
    tensors = [tensor_from_json(data[name]) for name in ("values", "indices", "tail", "tail_plogp")]
    return TopK(*tensors, float(data["temperature"]), int(data["vocab_size"]))
