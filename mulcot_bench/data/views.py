"""Views of a loaded dataset: the released-rationales protocol variant and seeded subsets.

A view returns new :class:`~mulcot_bench.data.loaded.LoadedSplits` with a note saying what it did, so the
dataset record (and its fingerprint, which covers every sample) names the variant wherever its numbers appear.
"""

from __future__ import annotations

import random
from dataclasses import replace

from mulcot_bench.data.loaded import LoadedSplits
from mulcot_bench.errors import UserError
from mulcot_bench.types import Sample, Splits

PROTOCOLS = ("auto", "reference", "released-rationales")  # auto: see choose_protocol
HOLDOUT_FRACTION = 0.2  # share of the dev items kept for model selection under released-rationales
Limits = tuple[int | None, int | None, int | None]  # most (train, dev, test) samples of a subset; None: all


def as_loaded(data: Splits) -> LoadedSplits:
    """The same splits as :class:`LoadedSplits` (the synthetic loader returns plain :class:`Splits`)."""
    if isinstance(data, LoadedSplits):
        return data
    return LoadedSplits(data.name, data.level, data.train, data.dev, data.test)


def released_rationales(data: Splits, seed: int) -> LoadedSplits:
    """The protocol the released Twitter-2015 data allows (reference chains on dev and test only).

    Train becomes train + 80% of dev (the dev items carry their reference chains, the train items none, so
    they train the label task only); the other 20% of dev (seeded) is the validation split; test is unchanged.
    """
    loaded = as_loaded(data)
    if not any(s.rationale for s in data.dev):
        note = f"protocol released-rationales not applied: {data.name} has no reference chains on dev"
        return replace(loaded, notes=[*loaded.notes, note])
    order = list(range(len(data.dev)))
    random.Random(seed).shuffle(order)
    cut = max(1, round(len(order) * HOLDOUT_FRACTION))
    held = set(order[:cut])
    moved = [s for i, s in enumerate(data.dev) if i not in held]
    holdout = [s for i, s in enumerate(data.dev) if i in held]
    note = (
        f"protocol released-rationales (seed {seed}): train = {len(data.train)} train items (label task only) + "
        f"{len(moved)} dev items with reference chains; validation = {len(holdout)} held-out dev items; test as "
        "released"
    )
    return replace(loaded, train=[*data.train, *moved], dev=holdout, notes=[*loaded.notes, note])


def subset(data: Splits, limits: Limits, seed: int) -> LoadedSplits:
    """At most ``limits`` = (train, dev, test) samples per split (None: the whole split), drawn with a seeded
    shuffle, in file order."""
    loaded = as_loaded(data)
    picked: dict[str, list[Sample]] = {}
    for split, limit in zip(("train", "dev", "test"), limits, strict=True):
        items = data.split(split)
        if limit is None or limit >= len(items):
            picked[split] = items
            continue
        keep = sorted(random.Random(f"{seed}-{split}").sample(range(len(items)), limit))
        picked[split] = [items[i] for i in keep]
    counts = ", ".join(f"{k} {len(v)}/{len(data.split(k))}" for k, v in picked.items())
    note = f"subset (seed {seed}): {counts}"
    return replace(loaded, train=picked["train"], dev=picked["dev"], test=picked["test"], notes=[*loaded.notes, note])


def has_released_chains(data: Splits) -> bool:
    """True when the release carries reference chains on dev but none on train (as Twitter-2015's does)."""
    return any(s.rationale for s in data.dev) and not any(s.rationale for s in data.train)


def choose_protocol(protocol: str, data: Splits, teacher_serves_train: bool) -> str:
    """The data view a dataset runs under: ``auto`` is ``released-rationales`` where no teacher serves the train
    split and the release has chains on dev (so the teacher -> assistant -> student chain can still be distilled),
    else ``reference``; ``reference`` and ``released-rationales`` are taken as they are."""
    if protocol not in PROTOCOLS:
        raise UserError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    if protocol != "auto":
        return protocol
    return "released-rationales" if has_released_chains(data) and not teacher_serves_train else "reference"


def apply_views(data: Splits, protocol: str, limits: Limits | None, seed: int) -> Splits:
    """The protocol first (it moves dev items into train), then the subset."""
    if protocol not in PROTOCOLS or protocol == "auto":
        raise UserError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    if protocol == "released-rationales":
        data = released_rationales(data, seed)
    if limits is not None:
        data = subset(data, limits, seed)
    return data
