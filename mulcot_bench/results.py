"""The typed results schema of a run folder (``results.json``), with provenance.

Results are JSON first: the leaderboard renders from these files only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from mulcot_bench.atomic import write_text
from mulcot_bench.efficiency.schema import Efficiency, Machine

SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PluginRecord(_Strict):
    name: str
    source: str
    distribution: str | None = None
    version: str | None = None
    error: str | None = None
    registered: dict[str, list[str]] = Field(default_factory=dict)


class JobRecord(_Strict):
    """One job of a fanned-out run (``run --launcher``): what it ran, where, and how it ended."""

    name: str
    dataset: str
    models: list[str]
    job_id: str | None = None
    command: list[str]
    log: str | None = None  # the launcher's log file of the job (its stderr)
    status: str  # "done" (its results.json was read) or "failed"


class LauncherRecord(_Strict):
    """How a run was fanned out: the launcher, its settings and every job."""

    name: str  # "local" or "submitit"
    settings: dict[str, str] = Field(default_factory=dict)
    jobs: list[JobRecord] = Field(default_factory=list)


class ConfigRecord(_Strict):
    """``run --config FILE``: the options file, as read (its values are the run's defaults; flags override them)."""

    path: str  # resolved
    sha256: str  # of the file's bytes
    content: dict[str, Any]  # the parsed TOML


class Provenance(_Strict):
    mulcot_bench_version: str
    python: str
    platform: str
    packages: dict[str, str | None]
    plugins: list[PluginRecord]
    git_commit: str | None = None
    seed: int
    seeds: list[int] = Field(default_factory=list)  # ``--seeds``: every training seed (``seed`` is the first)
    command: str
    started_at: str
    finished_at: str | None = None
    launcher: LauncherRecord | None = None  # ``run --launcher``: the jobs whose results were merged (None: one process)
    config: ConfigRecord | None = None  # ``run --config FILE``: the options file (None: none)
    machine: Machine | None = None  # the hardware this run ran on (entries' costs may come from another: cached)


class MetricRecord(_Strict):
    """A metric's identity: exact display names of its outputs and its signature."""

    id: str
    kind: str
    outputs: dict[str, str]
    signature: str
    summary: list[str] | None = None  # outputs shown in the leaderboard's main table (None: all)
    lower_is_better: list[str] = Field(default_factory=list)  # outputs where the lowest value is the best


class DatasetRecord(_Strict):
    name: str
    title: str
    level: str
    status: str  # "present", "embedded" or "missing"
    path: str | None = None
    fingerprint: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    label_counts: dict[str, dict[str, int]] = Field(default_factory=dict)
    how_to_get: str | None = None
    headline: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    protocol: str = "reference"  # or "released-rationales" (see mulcot_bench.data.views)
    chain_filter: str = "five-fields"  # or "reference": which training chains were kept (mulcot_bench.runner.stages)
    # where the test split's reasoning references come from: source ("released", "teacher", "released+teacher",
    # "none"), counts, and the teacher's name and identity when it wrote some
    references: dict[str, Any] = Field(default_factory=dict)
    # "multimodal", or "text" for a text-only copy (no images at all): a different test set, never ranked together
    modality: str = "multimodal"


class Entry(_Strict):
    """One model on one dataset split: its scores and where its predictions are."""

    model: str
    role: str
    plugin: str
    plugin_version: str | None = None
    params: int | None = None
    dataset: str
    split: str
    n: int
    invalid: int
    scores: dict[str, float | None]
    predictions_file: str
    identity: str
    settings: dict[str, Any] = Field(default_factory=dict)
    runtime: dict[str, Any] = Field(default_factory=dict)  # runtime options (-o): how it ran, not in the identity
    assistant: str | None = None
    stage: dict[str, Any] = Field(default_factory=dict)
    cached: bool = False
    confusion: dict[str, dict[str, int]] | None = None  # gold -> predicted (or "invalid") -> count
    variant: str | None = None  # None: full input; "text-only" (image blanked) or "image-only" (text blanked)
    inputs: list[str] | None = None  # what the model read when less than its card says (["text"]: a text-only copy)
    intervals: dict[str, list[float]] = Field(default_factory=dict)  # output -> [low, high], bootstrap 95%
    checkpoint: str | None = None  # the trained weights: the folder loaded (``eval``) or saved to (the cache)
    seed: int | None = None  # the training seed of this entry (None: an aggregate over ``seeds``, or untrained)
    seeds: list[Entry] = Field(default_factory=list)  # ``--seeds``: one entry per seed; scores are their mean
    sd: dict[str, float | None] = Field(default_factory=dict)  # ``--seeds``: sample standard deviation over seeds
    # why the predictions lines carry "prompt": null (the model declares no asked(card, sample)); None: recorded
    prompt_note: str | None = None
    # what the model cost (parameters, training, prediction) and where it was measured; a cached entry keeps the
    # figures of the run that computed its outputs (None: results written before costs were recorded)
    efficiency: Efficiency | None = None


class ReportedEntry(_Strict):
    """A published figure (percent), shown as "reported" and never mixed with measured entries."""

    model: str
    dataset: str
    scores: dict[str, float]
    citation: str
    note: str


class Failure(_Strict):
    """Something that did not run, with the reason; always shown, never hidden."""

    what: str
    dataset: str | None = None
    model: str | None = None
    reason: str
    seed: int | None = None  # ``--seeds``: the seed it failed under


class RunResults(_Strict):
    schema_version: int = SCHEMA_VERSION
    run_id: str
    provenance: Provenance
    metrics: list[MetricRecord]
    datasets: list[DatasetRecord]
    entries: list[Entry]
    failures: list[Failure] = Field(default_factory=list)
    skipped: dict[str, int] = Field(default_factory=dict)
    reported: list[ReportedEntry] = Field(default_factory=list)
    bootstrap: dict[str, Any] = Field(default_factory=dict)  # resamples, seed, level, method of ``intervals``
    _run_dir: Path | None = PrivateAttr(default=None)
    _report: Path | None = PrivateAttr(default=None)

    @property
    def run_dir(self) -> Path | None:
        """The run folder these results were written to or read from (None when not known)."""
        return self._run_dir

    @property
    def report(self) -> Path | None:
        """The leaderboard's ``index.html`` when one was rendered with them (None otherwise)."""
        return self._report

    def located(self, run_dir: Path | None, report: Path | None = None) -> RunResults:
        """These results, knowing their run folder and leaderboard (returned for chaining)."""
        self._run_dir, self._report = run_dir, report
        return self

    def to_pandas(self, per_seed: bool = False) -> Any:
        """A long ``pandas.DataFrame``: one row per (dataset, model, variant, metric output) of the measured entries.

        Columns: dataset, split, model, role, variant, seed, metric, value, low, high, sd, n. With ``per_seed``,
        a ``--seeds`` run also gives each seed's rows (``seed`` set) after the aggregate's (``seed`` None).
        """
        import pandas as pd

        rows = []
        for entry in self.entries:
            for one in [entry, *(entry.seeds if per_seed else [])]:
                for metric, value in one.scores.items():
                    low, high = one.intervals.get(metric, (None, None))
                    rows.append(
                        {"dataset": one.dataset, "split": one.split, "model": one.model, "role": one.role,
                         "variant": one.variant, "seed": one.seed, "metric": metric, "value": value,
                         "low": low, "high": high, "sd": one.sd.get(metric), "n": one.n}
                    )  # fmt: skip
        columns = ["dataset", "split", "model", "role", "variant", "seed", "metric", "value", "low", "high", "sd", "n"]
        frame = pd.DataFrame(rows, columns=columns)
        frame["seed"] = frame["seed"].astype("Int64")  # None stays missing, never a float
        return frame

    def write(self, run_dir: Path) -> Path:
        path = run_dir / "results.json"
        write_text(path, json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=False) + "\n")
        return path

    @classmethod
    def read(cls, run_dir: Path) -> RunResults:
        return cls.model_validate_json((run_dir / "results.json").read_text()).located(run_dir)
