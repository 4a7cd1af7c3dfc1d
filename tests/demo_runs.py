"""A made-up but valid run folder (``results.json`` + predictions) for tests, benchmarks and demos.

``demo_run(root, models=10, datasets=5, n=200)`` writes ``root/<run id>/`` with a teacher, an assistant,
students (one with text-only and image-only ablation rows), baselines, reported rows, a failure, a missing
dataset, bootstrap-like intervals, stage reports, per-sample scores and, optionally, small images. The
``synthetic`` dataset (``synthetic=True`` adds it) holds the embedded set's real test samples (ids, texts,
targets, image references, reference chains; no image files, as a run writes none). The label scores are
computed from the written predictions, so the report's counts and tests agree with them.
Nothing here is a measurement: never cite these numbers.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

from mulcot_bench.atomic import write_text
from mulcot_bench.data.synthetic import generate
from mulcot_bench.labels import LABELS
from mulcot_bench.rationale import render_chain
from mulcot_bench.results import (
    DatasetRecord,
    Entry,
    Failure,
    MetricRecord,
    PluginRecord,
    Provenance,
    ReportedEntry,
    RunResults,
)

XSS_TEXT = "<script>alert(1)</script> and <img src=x onerror=alert(2)>"
DATASETS = (
    ("twitter2015", "Twitter-2015", "aspect", ["accuracy", "macro_f1"]),
    ("mvsa_single", "MVSA-Single", "post", ["accuracy", "weighted_f1"]),
    ("twitter2017", "Twitter-2017", "aspect", ["accuracy", "macro_f1"]),
    ("mvsa_multiple", "MVSA-Multiple", "post", ["accuracy", "weighted_f1"]),
    ("synthetic", "Synthetic (embedded)", "aspect", ["accuracy", "macro_f1"]),
)
METRICS = [
    MetricRecord(id="accuracy", kind="label", outputs={"accuracy": "accuracy"}, signature="demo|accuracy"),
    MetricRecord(id="macro_f1", kind="label", outputs={"macro_f1": "macro-F1"}, signature="demo|f1|average=macro"),
    MetricRecord(
        id="weighted_f1", kind="label", outputs={"weighted_f1": "weighted-F1"}, signature="demo|f1|average=weighted"
    ),
    MetricRecord(
        id="bleu4", kind="rationale", outputs={"bleu4": "BLEU-4 (corpus, sacrebleu)"}, signature="demo|bleu|tok:13a"
    ),
    MetricRecord(
        id="bertscore",
        kind="rationale",
        outputs={"bertscore_p": "BERTScore-P", "bertscore_r": "BERTScore-R", "bertscore_f1": "BERTScore-F1"},
        signature="demo|bertscore|layer=6",
        summary=["bertscore_f1"],
    ),
    MetricRecord(
        id="bleu4_sentence",
        kind="rationale",
        outputs={"bleu4_sentence": "BLEU-4 (sentence avg, effective order)"},
        signature="demo|sentence bleu",
        summary=[],
    ),
    MetricRecord(
        id="per_class",
        kind="label",
        outputs={
            f"{m}_{c}": f"{name} ({c})"
            for c in LABELS
            for m, name in (("precision", "precision"), ("recall", "recall"), ("f1", "F1"))
        },
        signature="demo|per class",
        summary=[],
    ),
]


@dataclass(frozen=True)
class Model:
    name: str
    role: str
    skill: float  # chance of a right label
    rationale: bool
    params: int | None
    assistant: str | None = None


LONG = "-with-a-deliberately-long-name-for-layout-checks"


def _models(count: int, long_names: bool = False) -> list[Model]:
    base = [
        Model("demo-teacher", "teacher", 0.86, True, None),
        Model("demo-assistant", "assistant", 0.78, True, 1_100_000),
        Model("demo-student", "student", 0.74, True, 480_000, "demo-assistant"),
        Model("demo-student-nokd", "baseline", 0.71, True, 480_000, "demo-assistant"),
        Model("majority", "baseline", 0.0, False, 0),
        Model("text-tfidf-lr", "baseline", 0.55, False, 4_200),
    ]
    extra = [
        Model(f"demo-student-{i}", "student", 0.6 + 0.03 * (i % 5), True, 200_000 * i, "demo-assistant")
        for i in range(2, max(2, count - len(base) + 2))
    ]
    roster = (base + extra)[:count]
    if long_names:
        roster = [Model(m.name + LONG, m.role, m.skill, m.rationale, m.params, m.assistant and m.assistant + LONG)
                  for m in roster]
    return roster


def _f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _label_scores(gold: list[str], pred: list[str | None]) -> tuple[dict[str, float], dict[str, dict[str, int]]]:
    scores: dict[str, float] = {"accuracy": sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)}
    f1s, support = [], []
    for c in LABELS:
        tp = sum(g == c and p == c for g, p in zip(gold, pred, strict=True))
        fp = sum(g != c and p == c for g, p in zip(gold, pred, strict=True))
        fn = sum(g == c and p != c for g, p in zip(gold, pred, strict=True))
        p_, r_, f_ = _f1(tp, fp, fn)
        scores.update({f"precision_{c}": p_, f"recall_{c}": r_, f"f1_{c}": f_})
        f1s.append(f_)
        support.append(sum(g == c for g in gold))
    scores["macro_f1"] = sum(f1s) / len(f1s)
    scores["weighted_f1"] = sum(f * s for f, s in zip(f1s, support, strict=True)) / max(1, sum(support))
    confusion = {g: {p: 0 for p in (*LABELS, "invalid")} for g in LABELS}
    for g, p in zip(gold, pred, strict=True):
        confusion[g][p if p in LABELS else "invalid"] += 1
    return scores, confusion


def _interval(p: float | None, n: int, percent: bool = False) -> list[float] | None:
    if p is None:
        return None
    if percent:
        return [max(0.0, p - 4.0), min(100.0, p + 4.0)]
    half = 1.96 * math.sqrt(max(p * (1 - p), 1e-4) / n)
    return [max(0.0, p - half), min(1.0, p + half)]


def _chain(target: str, label: str, rng: random.Random, said: str | None = None) -> str:
    return render_chain(
        {
            "Text_analysis": f"The post talks about {target} in a {rng.choice(['warm', 'flat', 'bitter'])} tone.",
            "Image_analysis": f"The picture shows {rng.choice(['a smiling face', 'a grey sky', 'a crowd'])}.",
            "Conflict_resolution": "Text and image " + rng.choice(["agree", "disagree"]) + ".",
            "Final_conclusion": f"The sentiment toward {target} is {said or label}.",
            "Prediction": said or label,
        }
    )


def _image(path: Path, label: str, i: int) -> None:
    from PIL import Image

    colour = {"positive": (60, 170, 90), "neutral": (150, 150, 160), "negative": (200, 60, 50)}[label]
    im = Image.new("RGB", (48, 36), colour)
    im.putpixel((i % 48, (i // 48) % 36), (255, 255, 255))
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, "PNG")


def demo_run(
    root: Path,
    models: int = 10,
    datasets: int = 5,
    n: int = 200,
    seed: int = 7,
    run_id: str = "demo-run",
    images: bool = False,
    xss: bool = False,
    sample_scores: bool = True,
    started_at: str = "2026-01-01T10:00:00+00:00",
    synthetic: bool = False,
    long_names: bool = False,
) -> Path:
    """Write a demo run folder under ``root`` and return it (see the module docstring)."""
    rng = random.Random(seed)
    run_dir = Path(root) / run_id
    data_root = Path(root) / "data"
    specs = [
        DATASETS[i] if i < len(DATASETS) else (f"demo{i}", f"Demo {i}", "post", ["accuracy", "macro_f1"])
        for i in range(datasets)
    ]
    if synthetic and not any(spec[0] == "synthetic" for spec in specs):
        specs.append(DATASETS[4])
    roster = _models(models, long_names)
    student = roster[2].name if len(roster) > 2 else None
    records, entries, reported = [], [], []
    failures = [Failure(what="model", dataset=specs[0][0], model="broken-model", reason="RuntimeError: demo failure")]
    for d, (name, title, level, headline) in enumerate(specs):
        folder = data_root / name
        gold = [LABELS[rng.randrange(3)] for _ in range(n)]
        samples = []
        embedded = generate(test=n, train=0, dev=0).test if name == "synthetic" else []
        for i, s in enumerate(embedded):
            gold[i] = s.label
            samples.append(
                {"id": s.id, "text": s.text, "target": s.target, "image": s.image_ref, "reference": s.rationale}
            )
        for i in range(len(samples), n):
            target = f"@target{i % 17}"
            text = f"demo post {i} about {target}: " + rng.choice(["love it", "meh", "awful", "not bad", "so-so"])
            if xss and d == 0 and i == 0:
                text = XSS_TEXT
            image = f"images/{i:05d}.png"
            if images:
                _image(folder / image, gold[i], i)
            samples.append(
                {
                    "id": f"{name}-{i:05d}",
                    "text": text,
                    "target": target,
                    "image": image,
                    "reference": _chain(target, gold[i], rng),
                }
            )
        records.append(
            DatasetRecord(
                name=name,
                title=title,
                level=level,
                status="embedded" if name == "synthetic" else "present",
                path=str(folder) if images and name != "synthetic" else None,
                fingerprint=f"{rng.getrandbits(128):032x}",
                counts={"train": 5 * n, "dev": n, "test": n},
                label_counts={"test": {c: gold.count(c) for c in LABELS}},
                headline=headline,
            )
        )
        for m in roster:
            for variant in (None, "text-only", "image-only") if m.name == student else (None,):
                skill = m.skill - (0.12 if variant else 0.0) - 0.02 * d
                lines, preds = [], []
                for i, s in enumerate(samples):
                    if m.role == "baseline" and m.name == "majority":
                        label: str | None = "neutral"
                    elif rng.random() < 0.02 and m.rationale:
                        label = None
                    elif rng.random() < skill:
                        label = gold[i]
                    else:
                        label = rng.choice([c for c in LABELS if c != gold[i]])
                    said = label if rng.random() > 0.05 else LABELS[(LABELS.index(label or "neutral") + 1) % 3]
                    rationale = _chain(s["target"], gold[i], rng, said) if m.rationale else None
                    record = {
                        **{k: s[k] for k in ("id", "text", "target", "image")},
                        "gold": gold[i],
                        "label": label,
                        "probs": {c: round(rng.random(), 3) for c in LABELS} if not m.rationale else None,
                        "rationale": rationale,
                        "reference": s["reference"],
                        "raw": "I cannot tell." if label is None else None,
                    }
                    if sample_scores and m.rationale:
                        record["scores"] = {"bleu4_sentence": round(rng.uniform(10, 70), 2)}
                    lines.append(json.dumps(record, ensure_ascii=False))
                    preds.append(label)
                file = f"predictions/{name}/{m.name}{'.' + variant if variant else ''}.jsonl"
                write_text(run_dir / file, "\n".join(lines) + "\n")
                scores: dict[str, float | None]
                label_scores, confusion = _label_scores(gold, preds)
                scores = dict(label_scores)
                bleu = round(rng.uniform(20, 60), 2) if m.rationale else None
                bert = round(rng.uniform(0.85, 0.93), 4) if m.rationale else None
                scores.update(bleu4=bleu, bertscore_p=bert, bertscore_r=bert, bertscore_f1=bert, bleu4_sentence=bleu)
                intervals = {
                    k: iv
                    for k in ("accuracy", "macro_f1", "weighted_f1", "bertscore_f1")
                    if (iv := _interval(scores.get(k), n)) is not None
                }
                if bleu is not None:
                    intervals["bleu4"] = _interval(bleu, n, percent=True) or []
                entries.append(
                    Entry(
                        model=m.name,
                        role=m.role,
                        plugin="demo",
                        plugin_version="0.0.0",
                        params=m.params,
                        dataset=name,
                        split="test",
                        n=n,
                        invalid=sum(p is None for p in preds),
                        scores=scores,
                        predictions_file=file,
                        identity=f"{m.name}-{name}-{variant}",
                        assistant=m.assistant,
                        stage=_stage(m, n, rng),
                        confusion=confusion,
                        variant=variant,
                        intervals=intervals,
                    )
                )
        if level == "post":
            reported.append(
                ReportedEntry(
                    model="MultiSentiNet",
                    dataset=name,
                    scores={"accuracy": 69.84, "weighted_f1": 69.63},
                    citation="MultiSentiNet (CIKM 2017)",
                    note="As reported in the literature, NOT reproduced by mulcot-bench.",
                )
            )
        else:
            reported.append(
                ReportedEntry(
                    model="TomBERT",
                    dataset=name,
                    scores={"accuracy": 77.15, "macro_f1": 71.75},
                    citation="TomBERT (IJCAI 2019)",
                    note="As reported in the literature, NOT reproduced by mulcot-bench.",
                )
            )
    records.append(
        DatasetRecord(
            name="demo_missing",
            title="Missing demo set",
            level="post",
            status="missing",
            how_to_get="Put the demo set under <data root>/demo_missing (it never exists: this shows a missing set).",
        )
    )
    results = RunResults(
        run_id=run_id,
        provenance=Provenance(
            mulcot_bench_version="0.1.0",
            python="3.11",
            platform="demo",
            packages={"scikit-learn": "demo", "sacrebleu": "demo"},
            plugins=[PluginRecord(name="demo", source="demo", distribution="demo", version="0.0.0")],
            git_commit="0000000demo",
            seed=seed,
            command="tests/demo_runs.py demo_run",
            started_at=started_at,
            finished_at=started_at,
        ),
        metrics=METRICS,
        datasets=records,
        entries=entries,
        failures=failures,
        skipped={"demo skip": 1},
        reported=reported,
        bootstrap={"resamples": 1000, "seed": seed, "level": 0.95, "method": "demo (normal approximation)"},
    )
    results.write(run_dir)
    return run_dir


def _stage(m: Model, n: int, rng: random.Random) -> dict[str, object]:
    if m.role == "teacher":
        kept = int(5 * n * 0.85)
        return {
            "train": 5 * n,
            "kept_as_predicted": kept,
            "corrected": 5 * n - kept,
            "label_only": 0,
            "rejected": 0,
            "wall_seconds": round(rng.uniform(1, 5), 3),
        }
    if not m.rationale:
        return {"n_train": 5 * n, "params": m.params, "wall_seconds": round(rng.uniform(0, 2), 3)}
    stage: dict[str, object] = {
        "n_train": 5 * n,
        "epochs": 3,
        "losses": [round(2.0 / (e + 1), 3) for e in range(3)],
        "selected_epoch": 3,
        "wall_seconds": round(rng.uniform(10, 60), 3),
    }
    if m.role == "assistant":
        stage["augmentation"] = {"sampled": 5 * n, "kept": int(4 * n), "temperature": 0.7}
    return stage
