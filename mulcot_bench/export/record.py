"""What a tracker receives for one entry of a run: params, metrics, tags, artifacts, and the keys that make an
export idempotent. Tracker-neutral (plain strings, floats and paths); nothing here imports a tracker.

Names: a metric is logged under its score key (``macro_f1``), its bootstrap interval as ``macro_f1.low`` and
``macro_f1.high``; the exact display name is the param ``metric.<key>`` ("macro-F1") and the metric's signature
the param ``signature.<metric id>``. Card settings are ``settings.<key>``; provenance is ``provenance.*``,
``package.<name>`` and ``plugin.<name>``; the dataset's fingerprint and protocol are ``dataset.*``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mulcot_bench.atomic import file_sha256
from mulcot_bench.cache import key as stable_hash
from mulcot_bench.errors import UserError
from mulcot_bench.results import Entry, RunResults

TAG = "mulcot"  # tag prefix: mulcot.key, mulcot.run_id, mulcot.dataset, ...
_UNSAFE = re.compile(r"[^\w.\- /]")  # MLflow (and W&B) accept letters, digits, _ . - space and /


@dataclass(frozen=True)
class Artifact:
    """A local file and the artifact folder it goes to ("" for the top level)."""

    path: Path
    folder: str = ""


@dataclass
class EntryRecord:
    """One entry of ``results.json`` as a tracker run."""

    key: str  # idempotency key: run id, dataset, split, model, variant, seed (and a repeat index)
    content: str  # sha256 over what is logged: an export whose content differs replaces the earlier one
    name: str
    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float]
    artifacts: list[Artifact]
    missing: list[str] = field(default_factory=list)  # files the entry names that are not in the run folder
    started_ms: int | None = None
    finished_ms: int | None = None


def safe_key(name: str) -> str:
    """A param or metric name trackers accept (characters outside ``[A-Za-z0-9_.- /]`` become ``_``)."""
    return _UNSAFE.sub("_", name)


def entry_key(run_id: str, entry: Entry, repeat: int = 0) -> str:
    """A stable key for (run id, dataset, split, model, variant, seed); ``repeat`` separates identical tuples."""
    parts = [run_id, entry.dataset, entry.split, entry.model, entry.variant, entry.seed]
    return stable_hash(*parts, *([repeat] if repeat else []))[:32]


def run_name(entry: Entry) -> str:
    """``dataset/model``, with ``@variant`` for ablation rows and `` seed N`` for per-seed rows."""
    name = f"{entry.dataset}/{entry.model}" + (f"@{entry.variant}" if entry.variant else "")
    seed = entry.seed
    return name + (f" seed {seed}" if seed is not None else "")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _millis(stamp: str | None) -> int | None:
    try:
        return int(datetime.fromisoformat((stamp or "").replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def metrics_of(entry: Entry) -> dict[str, float]:
    """Scores with a value, their interval bounds as ``<key>.low`` / ``<key>.high`` and, for an entry over several
    seeds, their standard deviation as ``<key>.sd``."""
    out: dict[str, float] = {}
    for name, value in entry.scores.items():
        if value is None:
            continue
        interval = entry.intervals.get(name)
        pairs = [(name, value)] + ([(f"{name}.low", interval[0]), (f"{name}.high", interval[1])] if interval else [])
        if entry.sd.get(name) is not None:
            pairs.append((f"{name}.sd", entry.sd[name]))
        for key, number in pairs:
            safe = safe_key(key)
            if safe in out:
                raise UserError(f"score keys {key!r} and another both become the metric name {safe!r}; rename one")
            out[safe] = float(number)
    return out


def params_of(results: RunResults, entry: Entry) -> dict[str, str]:
    """The entry's identity, card settings, seed and the run's provenance, as strings."""
    prov = results.provenance
    seed = entry.seed
    params: dict[str, Any] = {
        "model": entry.model,
        "role": entry.role,
        "plugin": entry.plugin,
        "plugin_version": entry.plugin_version,
        "n_params": entry.params,
        "dataset": entry.dataset,
        "split": entry.split,
        "variant": entry.variant,
        "n": entry.n,
        "invalid": entry.invalid,
        "identity": entry.identity,
        "assistant": entry.assistant,
        "cached": entry.cached,
        "seed": prov.seed if seed is None and not entry.seeds else seed,
        "seeds": ",".join(str(e.seed) for e in entry.seeds) or None,
        "predictions_file": entry.predictions_file,
        "not_scored": ",".join(k for k, v in entry.scores.items() if v is None),
        **{f"settings.{k}": v for k, v in entry.settings.items()},
        **{f"stage.{k}": v for k, v in entry.stage.items()},
        **{f"provenance.{k}": v for k, v in prov.model_dump(exclude={"packages", "plugins"}).items()},
        **{f"package.{k}": v for k, v in prov.packages.items()},
        **{f"plugin.{p.name}": p.version for p in prov.plugins},
        **{f"bootstrap.{k}": v for k, v in results.bootstrap.items()},
    }
    dataset = next((d for d in results.datasets if d.name == entry.dataset), None)
    if dataset is not None:
        params.update({"dataset.fingerprint": dataset.fingerprint, "dataset.protocol": dataset.protocol})
        params.update({f"dataset.references.{k}": v for k, v in dataset.references.items() if k != "counts"})
    scored = {k for k, v in entry.scores.items() if v is not None}
    for metric in results.metrics:
        outputs = {k: v for k, v in metric.outputs.items() if k in scored}
        if outputs:
            params[f"signature.{metric.id}"] = metric.signature
            params.update({f"metric.{k}": display for k, display in outputs.items()})
    return {safe_key(k): _text(v) for k, v in params.items()}


def entries_of(results: RunResults) -> list[Entry]:
    """Every entry a tracker logs: each entry of ``results`` and, after an entry over several seeds (``--seeds``),
    each of its per-seed entries."""
    return [one for entry in results.entries for one in (entry, *entry.seeds)]


def entry_records(run_dir: Path, results: RunResults, leaderboard: list[Path]) -> list[EntryRecord]:
    """One record per entry of ``results`` (read from ``run_dir``) and per seed of a ``--seeds`` entry (see
    :func:`entries_of`); ``leaderboard`` files go to every record."""
    run_hash = stable_hash((run_dir / "results.json").read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    records = []
    for entry in entries_of(results):
        base = entry_key(results.run_id, entry)
        repeat = seen.get(base, 0)
        seen[base] = repeat + 1
        records.append(
            _record(run_dir, results, entry, entry_key(results.run_id, entry, repeat), run_hash, leaderboard)
        )
    return records


def _record(
    run_dir: Path, results: RunResults, entry: Entry, key: str, run_hash: str, leaderboard: list[Path]
) -> EntryRecord:
    """One entry's record: tags, params, metrics, artifacts (its predictions file when present) and content."""
    results_file = run_dir / "results.json"
    predictions = run_dir / entry.predictions_file
    artifacts = [Artifact(results_file), *(Artifact(p, "leaderboard") for p in leaderboard)]
    missing = [] if predictions.is_file() else [entry.predictions_file]
    if not missing:
        artifacts.append(Artifact(predictions, str(Path("predictions", entry.predictions_file).parent)))
    tags = {
        f"{TAG}.run_id": results.run_id,
        f"{TAG}.run_dir": str(run_dir.resolve()),
        f"{TAG}.dataset": entry.dataset,
        f"{TAG}.model": entry.model,
        f"{TAG}.role": entry.role,
        f"{TAG}.split": entry.split,
        **({f"{TAG}.variant": entry.variant} if entry.variant else {}),
        **({f"{TAG}.seed": str(entry.seed)} if entry.seed is not None else {}),
        **({f"{TAG}.seeds": ",".join(str(e.seed) for e in entry.seeds)} if entry.seeds else {}),
        **({f"{TAG}.missing_files": ",".join(missing)} if missing else {}),
    }
    params, metrics = params_of(results, entry), metrics_of(entry)
    return EntryRecord(
        key=key,
        content=stable_hash(run_hash, params, metrics, tags, file_sha256(predictions) if not missing else None),
        name=run_name(entry),
        tags=tags,
        params=params,
        metrics=metrics,
        artifacts=artifacts,
        missing=missing,
        started_ms=_millis(results.provenance.started_at),
        finished_ms=_millis(results.provenance.finished_at),
    )
