"""The predictions files of a run folder: one JSONL line per test sample and model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mulcot_bench.atomic import write_text
from mulcot_bench.paths import safe_name
from mulcot_bench.plugin.specs import ModelSpec, resolve
from mulcot_bench.redact import redact_obj
from mulcot_bench.runner.pipeline import ModelRun, blank
from mulcot_bench.types import Sample, Splits


def asker(spec: ModelSpec) -> Callable[..., Any] | None:
    """The model's ``asked(card, sample) -> dict`` (on its factory), or None where it declares none."""
    found = getattr(resolve(spec.factory), "asked", None)
    return found if callable(found) else None


def asked_records(spec: ModelSpec, samples: list[Sample]) -> tuple[list[dict[str, Any] | None], str | None]:
    """What the model was asked about each sample (see :mod:`mulcot_bench.prompts.asked`), and a note for
    results.json where that is not known (no ``asked`` declared, or it failed): those records are None."""
    ask = asker(spec)
    if ask is None:
        return [None] * len(samples), (
            f"model {spec.name!r} declares no asked(card, sample): its predictions lines carry \"prompt\": null "
            "(what it was asked is not known)"
        )
    try:
        records = [ask(spec.card, s) for s in samples]
    except Exception as exc:  # a plugin's bug costs the record, never the run
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return [None] * len(samples), f"model {spec.name!r}: asked(card, sample) failed ({reason}); \"prompt\": null"
    bad = next((r for r in records if not isinstance(r, dict) or not isinstance(r.get("kind"), str)), False)
    if bad is not False:
        return [None] * len(samples), (
            f"model {spec.name!r}: asked(card, sample) returned {type(bad).__name__}, not a dict with a \"kind\"; "
            "\"prompt\": null"
        )
    return records, None


def prediction_records(data: Splits, run: ModelRun) -> tuple[list[dict[str, object]], str | None]:
    """One record per test sample (id, text, target, image, gold, prediction, rationale, reference, raw, and
    ``prompt``: what the model was asked, of the variant's samples), and the note where prompts are unknown."""
    prompts, note = asked_records(run.spec, blank(data.test, run.variant))
    records: list[dict[str, object]] = [
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
            "prompt": prompt,
        }
        for s, p, prompt in zip(data.test, run.predictions, prompts, strict=True)
    ]
    return records, note


def write_predictions(
    run_dir: Path, dataset: str, run: ModelRun, records: list[dict[str, object]], seed: int | None = None
) -> str:
    """One JSONL per (model, variant, dataset[, seed]), written atomically; returns its path in the run folder."""
    stem = safe_name(run.spec.name) + (f"@{run.variant}" if run.variant else "") + (f".seed{seed}" if seed else "")
    rel = Path("predictions") / safe_name(dataset) / f"{stem}.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in redact_obj(records)]
    write_text(run_dir / rel, "\n".join(lines) + "\n")
    return rel.as_posix()
