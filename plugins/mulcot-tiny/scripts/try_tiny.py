"""Train the tiny assistant, a KD student and a no-KD student on the synthetic set; print times and scores.

Usage: ``python plugins/mulcot-tiny/scripts/try_tiny.py [--assistant k=v,...] [--student k=v,...] [--augment]``

Per model: parameters, fit and predict wall time, test accuracy and macro-F1 (labels from the label prompt),
the rate of greedy chains with all five fields in order, how often the chain's own Prediction equals the label,
and two diagnostics read from the synthetic set's meta: how often the chain states the right text sentiment
and the right image mood. The no-KD student also gets the assistant in its context, only so that both students
share one tokenizer (kd_lambda=0: no distillation). Timings are wall-clock on whatever else runs on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from typing import Any

from mulcot_tiny.model import TinyVLM

from mulcot_bench.plugin import LABELS, FitContext, ModelCard, Prediction, Sample, macro_f1, parse, synthetic


def _settings(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        out[key.strip()] = json.loads(value)
    return out


_LOOKS = {"cheerful": "positive", "plain": "neutral", "gloomy": "negative"}


def _chain_parts(chain: str | None) -> tuple[str | None, str | None]:
    """The text sentiment and image mood a generated chain states (None when it states none)."""
    fields = parse(chain or "").fields
    text = fields.get("Text_analysis", "")
    sentiment = "neutral" if "no opinion" in text else next((x for x in LABELS if x in text), None)
    look = re.search(r"looks (\w+)", fields.get("Image_analysis", ""))
    return sentiment, _LOOKS.get(look.group(1)) if look else None


def _scores(gold: list[Sample], preds: list[Prediction]) -> dict[str, float]:
    labels = [p.label for p in preds]
    acc = sum(1 for s, p in zip(gold, labels, strict=True) if s.label == p) / len(gold)
    valid = sum(1 for p in preds if p.rationale is not None and parse(p.rationale).valid) / len(preds)
    agree = sum(1 for p in preds if p.rationale and parse(p.rationale).prediction == p.label) / len(preds)
    unparsed = sum(1 for p in preds if p.label is None)
    parts = [_chain_parts(p.rationale) for p in preds]
    text_acc = sum(1 for s, (t, _) in zip(gold, parts, strict=True) if s.meta.get("text_sentiment") == t) / len(gold)
    image_acc = sum(1 for s, (_, m) in zip(gold, parts, strict=True) if s.meta.get("image_mood") == m) / len(gold)
    return {
        "accuracy": round(acc, 4),
        "macro_f1": round(macro_f1([s.label for s in gold], labels), 4),
        "valid_chain_rate": round(valid, 4),
        "chain_label_agreement": round(agree, 4),
        "unparsed": unparsed,
        "chain_text_acc": round(text_acc, 4),
        "chain_image_acc": round(image_acc, 4),
    }


def _run(
    name: str, model: TinyVLM, train: list[Sample], dev: list[Sample], test: list[Sample], ctx: FitContext
) -> None:
    report = model.fit(train, dev, ctx)
    t0 = time.perf_counter()
    preds = model.predict(test)
    predict_s = time.perf_counter() - t0
    scores = _scores(test, preds)
    print(
        f"{name:<18} params={model.params:>9,d} fit={report['wall_seconds']:6.1f}s predict={predict_s:5.2f}s "
        f"acc={scores['accuracy']:.3f} macroF1={scores['macro_f1']:.3f} valid={scores['valid_chain_rate']:.3f} "
        f"chain=label {scores['chain_label_agreement']:.3f} unparsed={scores['unparsed']} "
        f"chain text/image acc {scores['chain_text_acc']:.3f}/{scores['chain_image_acc']:.3f} "
        f"epoch={report['selected_epoch']}/{report['epochs']}"
    )
    st = model.settings
    print(
        f"{'':<18} d_model={st['d_model']} layers={st['layers']} epochs={st['epochs']} lr={st['lr']} "
        f"kd_lambda={st['kd_lambda']} last-epoch losses={report['task_losses'][-1]}"
    )
    print(f"{'':<18} dev_acc={report['dev_accuracy']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assistant", default="", help="assistant settings, e.g. d_model=128,layers=3")
    parser.add_argument("--student", default="", help="student settings (both students)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--augment", action="store_true", help="add the assistant's correct sampled chains")
    parser.add_argument("--skip-students", action="store_true")
    args = parser.parse_args()

    data = synthetic.generate()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"synthetic: {data.counts()}, labels {[sum(s.label == x for s in data.test) for x in LABELS]} (test)")
    ctx = FitContext(seed=args.seed, dataset="synthetic", level="aspect")
    assistant = TinyVLM(ModelCard("tiny-assistant", "assistant", "tiny assistant", settings=_settings(args.assistant)))
    _run("assistant", assistant, data.train, data.dev, data.test, ctx)
    t0 = time.perf_counter()
    sampled = assistant.sample(data.train, temperature=0.7, seed=args.seed)
    sample_s = time.perf_counter() - t0
    kept = [s.with_rationale(p.rationale) for s, p in zip(data.train, sampled, strict=True) if p.label == s.label]
    valid = sum(1 for p in sampled if p.rationale and parse(p.rationale).valid) / len(sampled)
    print(f"sample(600, T=0.7): {sample_s:.2f}s, valid={valid:.3f}, label==gold {len(kept)}/{len(sampled)}")
    if args.skip_students:
        return
    train = data.train + kept if args.augment else data.train
    student_settings = _settings(args.student)
    kd_ctx = FitContext(seed=args.seed, dataset="synthetic", level="aspect", assistant=assistant)
    kd = TinyVLM(ModelCard("tiny-student-kd", "student", "KD student", settings=student_settings))
    _run("student (KD)", kd, train, data.dev, data.test, kd_ctx)
    plain_settings = {**student_settings, "kd_lambda": 0.0}
    plain = TinyVLM(ModelCard("tiny-student", "student", "no-KD student", settings=plain_settings))
    _run("student (no KD)", plain, train, data.dev, data.test, kd_ctx)


if __name__ == "__main__":
    main()
