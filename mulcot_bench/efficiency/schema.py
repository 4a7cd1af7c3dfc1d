"""The ``efficiency`` record of an entry in results.json: what the model cost, how and where it was measured."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Machine(_Strict):
    """The hardware of a measurement (:func:`mulcot_bench.efficiency.machine.machine`)."""

    id: str
    cpu: str
    cores: int | None = None
    memory_gib: float | None = None
    gpus: list[str] = Field(default_factory=list)
    arch: str = ""
    os: str = ""


class Memory(_Strict):
    """Peak memory of a phase, bytes: resident set size (peak, and peak above the phase's start) and, on a GPU,
    CUDA memory allocated by torch (peak, and above the start). ``method``: :func:`.memory.method`."""

    method: str
    rss_peak_bytes: int | None = None
    rss_delta_bytes: int | None = None
    cuda_peak_bytes: int | None = None
    cuda_delta_bytes: int | None = None


class Parameters(_Strict):
    """Counted parameters (:func:`.params.counts`), the card's declared count, and the saved weights' size."""

    total: int | None = None
    trainable: int | None = None
    source: str = "not reported"
    declared: int | None = None
    disk_bytes: int | None = None  # the saved model's folder (None: nothing saved, e.g. untrained)
    warning: str | None = None  # the card under-states the counted size


class Training(_Strict):
    """The ``fit`` that produced the trained model (possibly in an earlier run: ``run_id``, ``machine_id``)."""

    wall_seconds: float | None = None  # the stage report's wall time of fit
    memory: Memory | None = None
    run_id: str | None = None
    machine_id: str | None = None


class Latency(_Strict):
    """Batch size 1 over a fixed seeded subset of the split (:mod:`.probe`), after ``warmup_calls`` calls."""

    median_ms: float
    p95_ms: float
    items: int
    warmup_calls: int = 1
    seconds: float = 0.0  # the whole probe's wall time, warm-up included (what it added to the run)


class Prediction(_Strict):
    """Predicting the split at the model's own batch size (``items``: those the model was asked in this run;
    the rest came from the cache)."""

    items: int
    wall_seconds: float
    batch_size: int
    throughput_per_second: float | None = None
    chain_words_per_second: float | None = None  # chain writers: whitespace-separated words of the chains / s
    latency: Latency | None = None
    memory: Memory | None = None


class Efficiency(_Strict):
    """An entry's costs, from the run that computed its outputs (``run_id``, ``measured_at``, ``machine``):
    a cached entry keeps them. ``signature`` says how, like a metric's: device, threads, batch size, items
    timed, torch version, CPU and GPU model, memory method."""

    run_id: str
    measured_at: str
    machine: Machine
    signature: str
    device: str = "cpu"
    threads: int | None = None
    parameters: Parameters = Field(default_factory=Parameters)
    training: Training | None = None  # None: not trained (teacher, rules, a loaded checkpoint)
    prediction: Prediction | None = None  # None: not measured (see notes)
    notes: list[str] = Field(default_factory=list)

    @property
    def ms_per_sample(self) -> float | None:
        """Median latency at batch size 1 (ms), None when not measured."""
        lat = self.prediction.latency if self.prediction else None
        return lat.median_ms if lat else None

    @property
    def peak_bytes(self) -> int | None:
        """Peak memory of prediction: CUDA allocated on a GPU, else resident set size above the start of the call."""
        mem = self.prediction.memory if self.prediction else None
        if mem is None:
            return None
        return mem.cuda_peak_bytes if mem.cuda_peak_bytes is not None else mem.rss_delta_bytes
