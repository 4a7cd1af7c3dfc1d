"""The run's bookkeeping of costs: the predict calls timed (:class:`CallTimer`), the environment of a measurement,
its signature, and the ``efficiency`` record of an entry (:func:`record`)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mulcot_bench.efficiency import memory
from mulcot_bench.efficiency.machine import machine
from mulcot_bench.efficiency.schema import Efficiency, Latency, Machine, Memory, Parameters, Prediction


def memory_of(peak: memory.PeakMemory) -> Memory:
    return Memory(
        method=memory.method(),
        rss_peak_bytes=peak.rss_peak,
        rss_delta_bytes=peak.rss_delta,
        cuda_peak_bytes=peak.cuda_peak,
        cuda_delta_bytes=peak.cuda_delta,
    )


def _max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass
class CallTimer:
    """Wraps a model's predict call: wall time, items, chain words and peak memory, summed (peaks: the highest)
    over the calls made through :meth:`wrap`."""

    seconds: float = 0.0
    items: int = 0
    calls: int = 0
    words: int = 0
    largest_batch: int = 0
    peak: Memory | None = None

    def wrap(self, call: Callable[[list[Any]], list[Any]]) -> Callable[[list[Any]], list[Any]]:
        def timed(batch: list[Any]) -> list[Any]:
            with memory.PeakMemory() as peak:
                start = time.perf_counter()
                out = call(batch)
                self.seconds += time.perf_counter() - start
            self.items += len(batch)
            self.calls += 1
            self.largest_batch = max(self.largest_batch, len(batch))
            if isinstance(out, list):
                self.words += sum(len((getattr(p, "rationale", None) or "").split()) for p in out)
            self._fold(memory_of(peak))
            return out

        return timed

    def _fold(self, got: Memory) -> None:
        if self.peak is None:
            self.peak = got
            return
        p = self.peak
        self.peak = Memory(
            method=got.method,
            rss_peak_bytes=_max(p.rss_peak_bytes, got.rss_peak_bytes),
            rss_delta_bytes=_max(p.rss_delta_bytes, got.rss_delta_bytes),
            cuda_peak_bytes=_max(p.cuda_peak_bytes, got.cuda_peak_bytes),
            cuda_delta_bytes=_max(p.cuda_delta_bytes, got.cuda_delta_bytes),
        )


def environment() -> dict[str, Any]:
    """Device (``cpu``, or ``cuda:<GPU>`` once torch initialised CUDA), threads (torch's when loaded, else the
    usable cores) and the torch version (None when the process did not load torch)."""
    torch = sys.modules.get("torch")
    cuda = memory._cuda()
    device = "cpu"
    if cuda is not None:
        try:
            device = f"cuda:{cuda.get_device_name()}"
        except Exception:  # noqa: BLE001 - the name is a nicety
            device = "cuda"
    try:
        threads = torch.get_num_threads() if torch is not None else len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        threads = os.cpu_count()
    return {"device": device, "threads": threads, "torch": getattr(torch, "__version__", None)}


def signature(env: dict[str, Any], batch: int | None, timed: int | None, ranks: int = 1) -> str:
    """How a record was measured, ``key:value|...`` like a metric's signature."""
    m = machine()
    parts = {
        "device": env["device"],
        "threads": env["threads"],
        "batch": batch if batch is not None else "none",
        "timed": timed if timed is not None else "none",
        "warmup": 1 if timed else 0,
        "torch": env["torch"] or "not-loaded",
        "cpu": m["cpu"],
        "gpu": "+".join(m["gpus"]) or "none",
        "memory": memory.method(),
        **({"ranks": ranks} if ranks > 1 else {}),
    }
    return "|".join(f"{k}:{v}" for k, v in parts.items())


def record(
    run_id: str,
    timer: CallTimer,
    batch_size: int,
    latency: dict[str, Any] | None,
    parameters: dict[str, Any],
    writes_chains: bool,
    notes: Sequence[str] = (),
    ranks: int = 1,
) -> Efficiency:
    """The record of outputs computed now: the timed calls, the latency probe, the counted parameters."""
    env = environment()
    seconds = timer.seconds
    pred = Prediction(
        items=timer.items,
        wall_seconds=round(seconds, 6),
        batch_size=min(batch_size, max(timer.largest_batch, 1)),
        throughput_per_second=round(timer.items / seconds, 3) if seconds > 0 else None,
        chain_words_per_second=round(timer.words / seconds, 2) if writes_chains and seconds > 0 else None,
        latency=Latency(**latency) if latency else None,
        memory=timer.peak,
    )
    return Efficiency(
        run_id=run_id,
        measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=Machine(**machine()),
        signature=signature(env, pred.batch_size, latency["items"] if latency else None, ranks),
        device=env["device"],
        threads=env["threads"],
        parameters=Parameters(**parameters),
        prediction=pred,
        notes=list(notes),
    )


def unmeasured(run_id: str, why: str) -> Efficiency:
    """A record without figures (outputs from a cache written before costs were recorded): says why."""
    env = environment()
    return Efficiency(
        run_id=run_id,
        measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=Machine(**machine()),
        signature=signature(env, None, None),
        device=env["device"],
        threads=env["threads"],
        notes=[why],
    )
