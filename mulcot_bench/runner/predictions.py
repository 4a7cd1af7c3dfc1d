"""The predictions files of a run folder: one JSONL line per test sample and model."""

from __future__ import annotations

import json
from pathlib import Path

from mulcot_bench.atomic import write_text
from mulcot_bench.paths import safe_name
from mulcot_bench.redact import redact_obj
from mulcot_bench.runner.pipeline import ModelRun
from mulcot_bench.types import Splits


def prediction_records(data: Splits, run: ModelRun) -> list[dict[str, object]]:
    """One record per test sample: id, text, target, image, gold, prediction, rationale, reference, raw."""
    return [
        {
            "id": s.id,
            "text": s.text,
            "target": s.target,
            "image": s.image_ref,
            "gold": s.label,
            "label": p.label,
            "probs": p.probs,
            "rationale": p.rationale,
            "reference": s.rationale,
            "raw": p.raw,
        }
        for s, p in zip(data.test, run.predictions, strict=True)
    ]


def write_predictions(
    run_dir: Path, dataset: str, run: ModelRun, records: list[dict[str, object]], seed: int | None = None
) -> str:
    """One JSONL per (model, variant, dataset[, seed]), written atomically; returns its path in the run folder."""
    stem = safe_name(run.spec.name) + (f"@{run.variant}" if run.variant else "") + (f".seed{seed}" if seed else "")
    rel = Path("predictions") / safe_name(dataset) / f"{stem}.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in redact_obj(records)]
    write_text(run_dir / rel, "\n".join(lines) + "\n")
    return rel.as_posix()
