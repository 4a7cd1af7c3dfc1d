"""A small smol-vlm assistant -> student run on Twitter-2015 with the released rationales, on CPU.

The MulCoT-RD release has teacher chains for the dev and test splits only, so this run trains on a seeded
subset of the dev items that carry a chain (the reasoning task and the label task), selects the epoch on a
held-out slice of dev (label accuracy), and evaluates a subset of test (labels from the label prompt, chains
from the reasoning prompt, compared with the released test chains). This is the "released-rationales"
variant of the protocol at toy size: its numbers show that the chain trains and writes five-field
rationales, not what the models can reach.

``run`` is what ``benchmarks/smol_vlm_twitter2015.py`` calls and what the test suite runs reduced.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mulcot_bench.plugin import FitContext, Prediction, Sample, parse, write_text

PROTOCOL = "released-rationales (train and select on dev chains, evaluate on test; Twitter-2015)"


@dataclass
class Sizes:
    """Subset sizes and the settings every model of the run shares (overrides of the card defaults)."""

    train: int = 12
    dev: int = 4
    test: int = 4
    overrides: dict[str, Any] = field(default_factory=dict)
    student_overrides: dict[str, Any] = field(default_factory=dict)  # over ``overrides``, for the student only


def split_released(data: Any, sizes: Sizes, seed: int) -> tuple[list[Sample], list[Sample], list[Sample], dict]:
    """Seeded train / held-out dev slices of the dev items with a chain, and a seeded test subset."""
    with_chain = [s for s in data.dev if s.rationale]
    test_pool = [s for s in data.test if s.rationale]
    if sizes.train + sizes.dev > len(with_chain):
        raise ValueError(f"asked for {sizes.train}+{sizes.dev} dev items with chains; only {len(with_chain)} exist")
    rng = random.Random(seed)
    order = rng.sample(range(len(with_chain)), sizes.train + sizes.dev)
    train = [with_chain[i] for i in order[: sizes.train]]
    dev = [with_chain[i] for i in order[sizes.train :]]
    test = [test_pool[i] for i in sorted(rng.sample(range(len(test_pool)), min(sizes.test, len(test_pool))))]
    counts = {
        "dev_items": len(data.dev),
        "dev_with_chain": len(with_chain),
        "test_items": len(data.test),
        "test_with_chain": len(test_pool),
        "train_used": len(train),
        "dev_used": len(dev),
        "test_used": len(test),
    }
    return train, dev, test, counts


def score(samples: list[Sample], preds: list[Prediction]) -> dict[str, Any]:
    """Accuracy, invalid labels, five-field chains and chain/label agreement on the evaluated items."""
    n = len(samples)
    chains = [parse(p.rationale or "") for p in preds]
    return {
        "n": n,
        "accuracy": sum(1 for s, p in zip(samples, preds, strict=True) if p.label == s.label) / n if n else None,
        "invalid_labels": sum(1 for p in preds if p.label is None),
        "five_field_chains": sum(1 for c in chains if c.valid),
        "chain_label_agrees": sum(1 for c, p in zip(chains, preds, strict=True) if c.valid and c.prediction == p.label),
    }


def _rows(samples: list[Sample], preds: list[Prediction]) -> str:
    lines = []
    for s, p in zip(samples, preds, strict=True):
        row = {"id": s.id, "text": s.text, "target": s.target, "gold": s.label, "predicted": p.label,
               "probs": p.probs, "raw": p.raw, "rationale": p.rationale, "reference": s.rationale,
               "five_fields": parse(p.rationale or "").valid}
        lines.append(json.dumps(row, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def run(
    data: Any, sizes: Sizes, seed: int, out: Path | None, log: Any = print, keep: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Train the assistant, then the student (KD from the live assistant), predict the test subset, report.

    ``keep``, when given, receives the fitted models by name and the three subsets (``"subsets"``).
    """
    from mulcot_hf.model import SmolVLM
    from mulcot_hf.settings import smol_card

    t0 = time.perf_counter()
    train, dev, test, counts = split_released(data, sizes, seed)
    assistant = SmolVLM(smol_card("smol-vlm-assistant", "assistant", **sizes.overrides))
    student_settings = {**sizes.overrides, **sizes.student_overrides}
    student = SmolVLM(smol_card("smol-vlm-student", "student", assistant="smol-vlm-assistant", **student_settings))
    summary: dict[str, Any] = {"protocol": PROTOCOL, "seed": seed, "counts": counts, "models": {}}
    fitted = None
    for model in (assistant, student):
        name = model.card.name
        ctx = FitContext(seed=seed, dataset="twitter2015", level="aspect", assistant=fitted)
        start = time.perf_counter()
        report = model.fit(train, dev, ctx)
        fit_s = time.perf_counter() - start
        log(f"[{name}] fit {fit_s:.1f} s; losses {report['losses']}; dev accuracy {report['dev_accuracy']}")
        start = time.perf_counter()
        preds = model.predict(test)
        predict_s = time.perf_counter() - start
        scores = score(test, preds)
        log(f"[{name}] predict {predict_s:.1f} s on {len(test)} items; {scores}")
        summary["models"][name] = {
            "fit_seconds": round(fit_s, 1),
            "predict_seconds": round(predict_s, 1),
            "scores": scores,
            "report": report,
            "settings": model.settings,
        }
        if out is not None:
            write_text(out / "predictions" / f"{name}.jsonl", _rows(test, preds))
        fitted = assistant
        if keep is not None:
            keep[name] = model
    if keep is not None:
        keep["subsets"] = (train, dev, test)
    summary["wall_seconds"] = round(time.perf_counter() - t0, 1)
    if out is not None:
        write_text(out / "summary.json", json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    return summary
