"""What ``run`` is asked to do (every field has a CLI option) and what it hands back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mulcot_bench.results import ConfigRecord, RunResults
from mulcot_bench.scoring.stats import DEFAULT_RESAMPLES


@dataclass
class RunOptions:
    """What ``run`` does; every field has a CLI option."""

    datasets: list[str] | None = None
    models: list[str] | None = None
    data_root: Path | None = None
    runs_dir: Path = Path("runs")
    reports_dir: Path = Path("reports")
    cache_dir: Path | None = None
    seed: int = 42
    seeds: list[int] | None = None  # ``--seeds``: train and evaluate every trainable model per seed, then aggregate
    teacher: str | None = None
    dataset_options: dict[str, dict[str, object]] = field(default_factory=dict)
    run_id: str | None = None
    command: str = ""
    model_timeout: float | None = None  # seconds per model call (None: $MULCOT_BENCH_MODEL_TIMEOUT or no limit)
    ablations: list[str] = field(default_factory=list)
    protocol: str = "auto"  # auto, reference, released-rationales (mulcot_bench.data.views.choose_protocol)
    chain_filter: str = "five-fields"  # which training chains stages 1 and 2b keep (runner.stages.CHAIN_FILTERS)
    train_chains: str = "teacher"  # "dataset": train on the chains the dataset carries, no teacher asked (stage 1)
    limits: tuple[int | None, int | None, int | None] | None = None  # most train, dev, test samples (None: all)
    bootstrap: int = DEFAULT_RESAMPLES
    allow_partial: bool = False  # run a known release that loaded short of its manifest (recorded, printed)
    require_images: bool = False  # refuse text-only copies (no images at all) instead of running them text-only
    checkpoints: dict[str, Path] = field(default_factory=dict)  # model -> folder its save() wrote (not trained)
    train: bool = True  # False (``eval``, ``run --no-train``): a trainable model without a checkpoint is refused
    report: bool = True  # False (``--no-report``, a launcher's job): write results.json, render no leaderboard
    teacher_row: bool = True  # False (``--no-teacher-row``, a launcher's job but one): the teacher serves, unscored
    augment_for: list[str] = field(default_factory=list)  # an assistant's job: stage 2b for these learners' jobs
    device: str = "auto"  # data-parallel runs: cpu (gloo), cuda (nccl), auto (nccl where a GPU is seen)
    cache_layout: str | None = None  # auto, shared, sharded (None: $MULCOT_BENCH_CACHE_LAYOUT or auto)
    config: ConfigRecord | None = None  # ``--config FILE``: the options file read (recorded in the provenance)


@dataclass
class RunOutcome:
    """A finished run: its folder, its results and its leaderboard (None when not rendered)."""

    run_dir: Path
    results: RunResults
    report: Path | None
    main: bool = True  # False on the other ranks of a data-parallel run: they write no results and print nothing
