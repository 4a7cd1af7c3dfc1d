"""Cached model calls: predictions, teacher correction and rationale augmentation.

Every call goes through the cache, keyed by the model's identity (or trained-artifact key), the
call's settings and the sample's content, and is stored batch by batch as it is made (committed to the
cache, then appended to the run journal when the cache carries one), so a killed run loses at most the
batch in flight and a re-run resumes by sample content, whatever its batch size.

A model that breaks the contract (raises, returns the wrong number or type of outputs, or hangs past
the run's per-call timeout) raises :class:`~mulcot_bench.faults.ModelFault`: the runner records it as that
model's failure and the run goes on. :class:`~mulcot_bench.errors.ModelUnavailable` passes through as it is.

An item a model could not get any answer for (``Prediction.failed``: connection, 5xx, timeout after its own
retries) is never cached or journalled: the next run asks it again. More failed items than
``$MULCOT_BENCH_MAX_FAILED_SHARE`` (a share of the items asked; default 0: any) raise
:class:`~mulcot_bench.errors.CallsFailed`, a failed model; under it, failed items are scored as invalid. A batch in
which every item failed stops the calls at once (the endpoint is down; asking the rest would only wait).
A model may set ``call_batch`` (an int) to be called, and committed to the cache, in smaller groups than
:data:`BATCH` (the endpoint models: their concurrency), so a killed run loses at most the calls in flight.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mulcot_bench.cache import Cache, key
from mulcot_bench.errors import CallsFailed, ModelUnavailable, UserError, describe
from mulcot_bench.faults import ModelFault, failpoint, guarded
from mulcot_bench.parallel.world import current
from mulcot_bench.rationale import parse, parse_label
from mulcot_bench.redact import redact, redact_obj, secrets
from mulcot_bench.runner.progress import Meter
from mulcot_bench.runner.spread import spread_calls
from mulcot_bench.types import Prediction, Sample

BATCH = 64
#: Which training chains stages 1 and 2b keep. "five-fields" (ours): a chain must parse into the five fields and its
#: Prediction field equal the gold label. "reference" (the released code): teacher chains are kept whatever their
#: format (a first-pass chain when the teacher's label is the gold one, a correction chain when it is not empty),
#: augmented chains when the label parsed from them (first label after "Prediction", else the last) is the gold one.
CHAIN_FILTERS: tuple[str, ...] = ("five-fields", "reference")


def check_chain_filter(keep: str) -> str:
    if keep not in CHAIN_FILTERS:
        raise UserError(f"unknown chain filter {keep!r}; use one of {', '.join(CHAIN_FILTERS)}")
    return keep


def _explained(chain: str, gold: str, keep: str) -> bool:
    """A correction chain kept under ``keep``."""
    if keep == "reference":
        return bool(chain.strip())
    return parse(chain).valid and parse(chain).prediction == gold


def _sampled(chain: str, gold: str, keep: str) -> bool:
    if keep == "reference":
        return parse_label(chain) == gold
    return parse(chain).valid and parse(chain).prediction == gold
FAILED_SHARE_ENV = "MULCOT_BENCH_MAX_FAILED_SHARE"


def max_failed_share() -> float:
    """The share of a call's items that may fail (no answer) before the model is a failed model (default 0)."""
    raw = os.environ.get(FAILED_SHARE_ENV, "").strip()
    if not raw:
        return 0.0
    try:
        share = float(raw)
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise UserError(f"{FAILED_SHARE_ENV}={raw!r} must be a number from 0 to 1 (the share of items that may fail)")
    return share


def call_batch(model: Any) -> int:
    """The batch size a model is called with: its ``call_batch`` where it sets one, else :data:`BATCH`."""
    size = getattr(model, "call_batch", None)
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 1 else BATCH


@dataclass
class CallStats:
    """How many samples a stage served from the cache and how many it sent to the model."""

    cached: int = 0
    computed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def cached_calls(
    cache: Cache,
    ns: str,
    ident: str,
    samples: Sequence[Sample],
    call: Callable[[list[Sample]], list[Prediction]],
    model_name: str,
    extra_key: Callable[[Sample], Any] = lambda s: None,
    progress: str | None = None,
    prepare: Callable[[], Any] | None = None,
) -> tuple[list[Prediction], CallStats]:
    """Run ``call`` on the samples whose result is not cached yet; return one prediction per sample.

    ``prepare`` (build, load or train the model) runs once before the first call, and only if some result is
    missing; it is not under the per-call timeout, and what it raises passes through as it is. What it returns
    (the model) may set ``call_batch``. Items that come back ``failed`` are not cached (see the module).
    In a data-parallel run each rank asks only its interleaved shard and every rank gets all outputs
    (:func:`mulcot_bench.runner.spread.spread_calls`).
    """
    keys = [key(ident, ns, s.content_hash, extra_key(s)) for s in samples]
    fill = Fill(cache, ns, keys, samples, call, model_name, progress or f"{model_name} {ns}")
    if current().size > 1:
        found, (cached, computed, failed) = spread_calls(fill, prepare)
        stats = CallStats(cached, computed, {"failed": failed} if failed else {})
    else:
        found, stats = fill.run(range(len(keys)), prepare)
    return [Prediction.from_json(found[k]) for k in keys], stats


@dataclass
class Fill:
    """One cached call over some of its items: what :func:`cached_calls` and each rank's shard of it run."""

    cache: Cache
    ns: str
    keys: list[str]
    samples: Sequence[Sample]
    call: Callable[[list[Sample]], list[Prediction]]
    model_name: str
    progress: str

    def missing(self, positions: Sequence[int]) -> tuple[dict[str, Any], list[int]]:
        """The cached outputs among ``positions``, and the positions to ask (a repeated key once)."""
        found = self.cache.get_many(self.ns, [self.keys[i] for i in positions])
        todo: list[int] = []
        queued: set[str] = set()
        for i in positions:
            k = self.keys[i]
            if k not in found and k not in queued:  # two samples with the same content are asked once
                todo.append(i)
                queued.add(k)
        return found, todo

    def run(
        self, positions: Sequence[int], prepare: Callable[[], Any] | None, force_prepare: bool = False
    ) -> tuple[dict[str, Any], CallStats]:
        """Outputs (key -> JSON) of ``positions``, asking the model for the missing ones; ``prepare`` runs when
        some are missing, or with ``force_prepare`` (another rank needs the model: training may be collective)."""
        found, todo = self.missing(positions)
        stats = CallStats(cached=len(positions) - len(todo), computed=len(todo))
        if not todo and not force_prepare:
            return found, stats
        limit = max_failed_share()
        model = prepare() if prepare is not None else None
        if not todo:
            return found, stats
        size = call_batch(model)
        secret = secrets()  # an output that echoes an API key is stored, journalled and scored redacted
        failed: dict[str, str] = {}
        bar = Meter(self.progress, len(todo))
        keys, samples, ns = self.keys, self.samples, self.ns
        for start in range(0, len(todo), size):
            idx = todo[start : start + size]
            batch = [samples[i] for i in idx]
            out = _checked_call(self.call, batch, self.model_name, ns)
            answered = [(i, p) for i, p in zip(idx, out, strict=True) if p.failed is None]
            failed.update({keys[i]: redact(p.failed, secret) for i, p in zip(idx, out, strict=True) if p.failed})
            fresh = {keys[i]: redact_obj(p.to_json(), secret) for i, p in answered}
            if fresh:
                self.cache.put_many(ns, fresh)
                if self.cache.journal is not None:
                    self.cache.journal.append(
                        self.model_name, ns, [samples[i] for i, _ in answered], list(fresh), list(fresh.values())
                    )
                failpoint(f"calls-committed-rank{current().rank}")
            found.update(fresh)
            bar.update(len(idx))
            if not answered and (limit == 0 or len(failed) > limit * len(todo)):
                break  # nothing in this batch got an answer: the endpoint is down, the rest would only wait
        bar.close()
        if failed:
            stats.extra["failed"] = len(failed)
            asked = len(todo)
            if len(failed) > limit * asked:
                first = next(iter(failed.values()))
                raise CallsFailed(
                    f"model {self.model_name!r}: {len(failed)} of {asked} {ns} requests got no answer ({first}); "
                    "none of them was cached or scored, and the next run asks them again"
                )
            found.update({k: Prediction(label=None, failed=why).to_json() for k, why in failed.items()})
        return found, stats


def _checked_call(
    call: Callable[[list[Sample]], list[Prediction]], batch: list[Sample], model_name: str, ns: str
) -> list[Prediction]:
    """One model call under the run's timeout; anything but one Prediction per sample is a :class:`ModelFault`."""
    where = f"{ns} on samples {batch[0].id}..{batch[-1].id}" if len(batch) > 1 else f"{ns} on sample {batch[0].id}"
    try:
        out = guarded(model_name, ns, lambda: call(batch))
    except (ModelFault, ModelUnavailable):
        raise
    except Exception as exc:
        first = describe(exc, 300)
        raise ModelFault(f"model {model_name!r} raised in {where}: {first}") from exc
    if not isinstance(out, list) or len(out) != len(batch):
        got = len(out) if isinstance(out, list) else type(out).__name__
        raise ModelFault(f"model {model_name!r} returned {got} outputs for {len(batch)} samples in {where}")
    wrong = next((p for p in out if not isinstance(p, Prediction)), None)
    if wrong is not None:
        raise ModelFault(
            f"model {model_name!r} returned a {type(wrong).__name__} where a Prediction was expected in {where}"
        )
    return out


def teacher_rationales(
    cache: Cache,
    ident: str,
    teacher: Callable[[], Any],
    name: str,
    train: Sequence[Sample],
    attempts: int = 3,
    keep: str = "five-fields",
) -> tuple[list[Sample], dict[str, int]]:
    """Stage 1: predict; where wrong, ask the teacher to explain the gold label (bounded retries).

    ``keep`` (:data:`CHAIN_FILTERS`) says which chains are kept; the calls (and their cache) do not depend on it.

    Returns the training samples with the teacher's chain as rationale (rejected ones dropped and counted;
    ones the teacher does not serve at all kept without a chain, for the label task only, and counted).
    """
    preds, _ = cached_calls(
        cache, "teacher-predict", ident, train, lambda b: teacher().predict(b), name, prepare=teacher
    )
    chains: dict[int, str] = {}
    wrong: list[int] = []
    for i, (s, p) in enumerate(zip(train, preds, strict=True)):
        if p.label == s.label and p.rationale and (keep == "reference" or parse(p.rationale).valid):
            chains[i] = p.rationale
        else:
            wrong.append(i)
    # An item the teacher has nothing for (no label, no chain, no raw reply: a replay miss) is not asked to explain
    # and stays as a label-only item; an item it answered but could not justify is rejected, as in the reference.
    # An item whose request was given up (no answer: only when $MULCOT_BENCH_MAX_FAILED_SHARE allows some) is
    # rejected, never a label-only item and never asked to explain; it is not cached, so the next run asks it again.
    gave_up = {i for i in wrong if preds[i].failed is not None}
    unserved = {
        i
        for i in wrong
        if i not in gave_up and preds[i].label is None and not preds[i].rationale and preds[i].raw is None
    }
    corrected = 0
    todo = [i for i in wrong if i not in unserved and i not in gave_up]
    for attempt in range(attempts):
        if not todo:
            break
        subset = [train[i] for i in todo]
        explained, _ = cached_calls(
            cache,
            "teacher-explain",
            ident,
            subset,
            lambda b: teacher().explain(b, [s.label for s in b]),
            name,
            extra_key=lambda s, a=attempt: (s.label, a),
            prepare=teacher,
        )
        still = []
        for i, p in zip(todo, explained, strict=True):
            chain = p.rationale or ""
            if _explained(chain, train[i].label or "", keep):
                chains[i] = chain
                corrected += 1
            else:
                still.append(i)
        todo = still
    kept = [
        train[i].with_rationale(chains[i]) if i in chains else train[i].with_rationale(None)
        for i in range(len(train))
        if i in chains or i in unserved
    ]
    counts = {
        "train": len(train),
        "kept_as_predicted": len(train) - len(wrong),
        "corrected": corrected,
        "label_only": len(unserved),
        "rejected": len(todo) + len(gave_up),
    }
    if gave_up:
        counts["gave_up"] = len(gave_up)
    return kept, counts


def augment(
    cache: Cache,
    artifact: str,
    assistant: Callable[[], Any],
    name: str,
    train: Sequence[Sample],
    temperature: float,
    seed: int,
    keep: str = "five-fields",
) -> tuple[list[Sample], dict[str, int]]:
    """Stage 2b: the assistant samples one more chain per item; only chains predicting the gold label are kept
    (``keep``: :data:`CHAIN_FILTERS`)."""
    ns = "assistant-sample"
    sampled, _ = cached_calls(
        cache,
        ns,
        artifact,
        train,
        lambda b: assistant().sample(b, temperature=temperature, seed=seed),
        name,
        extra_key=lambda s: (temperature, seed),
        prepare=assistant,
    )
    extra = []
    for s, p in zip(train, sampled, strict=True):
        chain = p.rationale or ""
        if _sampled(chain, s.label or "", keep):
            extra.append(s.with_rationale(chain))
    return extra, {"sampled": len(train), "augmented": len(extra), "rejected": len(train) - len(extra)}
