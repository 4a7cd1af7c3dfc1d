"""Read a row's predictions JSONL and classify each sample (wrong, inconsistent, invalid).

A line is a JSON object with at least ``id``, ``gold`` and ``label``; ``text``, ``target``, ``image``,
``probs``, ``rationale``, ``reference``, ``raw`` and a per-sample ``scores`` dict are optional. A line that
is not a JSON object is counted and reported, never silently dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mulcot_bench.labels import LABELS
from mulcot_bench.rationale import parse, parse_label


@dataclass
class Flags:
    """What is wrong with one prediction."""

    wrong: bool
    invalid: bool
    inconsistent: bool
    chain_label: str | None


@dataclass
class Predictions:
    """The readable records of one predictions file, and what could not be read."""

    path: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None  # the file as a whole (missing, outside the run folder)
    bad_lines: list[int] = field(default_factory=list)  # 1-based line numbers that are not JSON objects

    @property
    def ok(self) -> bool:
        return self.problem is None


def chain_label(rationale: str | None) -> str | None:
    """The label a chain states: its Prediction field (:func:`mulcot_bench.rationale.parse`); for a chain with
    no Prediction field, the reference answer parser (:func:`mulcot_bench.rationale.parse_label`)."""
    if not rationale:
        return None
    chain = parse(rationale)
    if "Prediction" in chain.fields:
        return chain.prediction
    return parse_label(rationale)


def flags(record: dict[str, Any]) -> Flags:
    """``invalid``: no parseable label; ``wrong``: label != gold (invalid counts as wrong, as in the metrics);
    ``inconsistent``: the model wrote a chain whose Prediction differs from its label answer."""
    label = record.get("label")
    invalid = label not in LABELS
    rationale = record.get("rationale")
    stated = chain_label(rationale) if isinstance(rationale, str) else None
    inconsistent = isinstance(rationale, str) and (invalid or stated != label)
    return Flags(
        wrong=invalid or label != record.get("gold"), invalid=invalid, inconsistent=inconsistent, chain_label=stated
    )


def read_predictions(run_dir: Path, relative: str) -> Predictions:
    """The predictions file ``relative`` to ``run_dir``; a file outside the run folder is not read."""
    root = run_dir.resolve()
    path = (root / relative).resolve() if relative else root
    out = Predictions(path)
    if not relative or not path.is_relative_to(root):
        out.problem = f"predictions file {relative!r} is outside the run folder; not read"
        return out
    if not path.is_file():
        out.problem = f"predictions file {relative} is missing from run folder {run_dir}"
        return out
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                out.bad_lines.append(i)
                continue
            if not isinstance(record, dict) or "gold" not in record:
                out.bad_lines.append(i)
                continue
            out.records.append(record)
    return out


def correctness(records: list[dict[str, Any]]) -> dict[str, bool]:
    """Sample id -> label == gold (an unparseable label is wrong)."""
    return {str(r.get("id")): (r.get("label") in LABELS and r.get("label") == r.get("gold")) for r in records}
