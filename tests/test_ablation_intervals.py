"""Modality-ablation rows, bootstrap intervals in results, per-sample scores and reported rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mulcot_bench.cache import Cache
from mulcot_bench.data.synthetic import generate
from mulcot_bench.plugin.registry import build_registry
from mulcot_bench.reported import reported_entries
from mulcot_bench.runner.orchestrate import run_dataset
from mulcot_bench.runner.pipeline import DatasetPipeline, blank
from mulcot_bench.scoring.scorer import Scorer

SENSES = '''
from mulcot_bench.plugin.hookspecs import hookimpl
from mulcot_bench.rationale import FIELDS, render_chain
from mulcot_bench.plugin.specs import ModelSpec
from mulcot_bench.types import ModelCard, Prediction

LABELS = ("positive", "neutral", "negative")


def chain(label):
    return render_chain({f: "x" for f in FIELDS[:-1]} | {"Prediction": label})


class Reader:
    """Sees only the text (``sense`` text) or only whether there is an image (``sense`` image)."""
    def __init__(self, card):
        self.card = card
    def predict(self, samples):
        out = []
        for s in samples:
            if self.card.settings["sense"] == "text":
                label = LABELS[len(s.text) % 3]
            else:
                label = "positive" if s.image else "negative"
            out.append(Prediction(label, chain(label)))
        return out


@hookimpl
def register_models(register):
    register(ModelSpec(ModelCard("reads-text", "baseline", "text only", settings={"sense": "text"}), Reader))
    register(ModelSpec(ModelCard("reads-image", "baseline", "image only", settings={"sense": "image"}), Reader))
'''


@pytest.fixture()
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "senses.py").write_text(SENSES)
    monkeypatch.setenv("MULCOT_BENCH_BLOCK_PLUGINS", "tiny,baselines")
    registry = build_registry([folder])
    data = generate(seed=5, train=20, dev=10, test=40)
    cache = Cache(tmp_path / "cache")
    pipe = DatasetPipeline(registry, data, cache, 42, ["reads-text", "reads-image"])
    run_dir = tmp_path / "run"
    failures: list = []
    entries = run_dataset(pipe, Scorer(registry, cache, resamples=200), run_dir, failures, ["text-only", "image-only"])
    assert failures == []
    return {(e.model, e.variant): e for e in entries}, run_dir, data


def _labels(run_dir: Path, entry) -> list[str]:  # noqa: ANN001
    lines = (run_dir / entry.predictions_file).read_text().splitlines()
    return [json.loads(line)["label"] for line in lines]


def test_ablation_rows_blank_one_modality(run) -> None:  # noqa: ANN001
    entries, run_dir, data = run
    assert set(entries) == {(m, v) for m in ("reads-text", "reads-image") for v in (None, "text-only", "image-only")}
    files = {e.predictions_file for e in entries.values()}
    assert len(files) == 6 and any("@text-only" in f for f in files)
    text = {v: _labels(run_dir, entries[("reads-text", v)]) for v in (None, "text-only", "image-only")}
    image = {v: _labels(run_dir, entries[("reads-image", v)]) for v in (None, "text-only", "image-only")}
    # blanking what a model does not read changes nothing; blanking what it reads changes its answers
    assert text["text-only"] == text[None] and text["image-only"] != text[None]
    assert set(text["image-only"]) == {"positive"}  # len("") % 3 == 0
    assert image["image-only"] == image[None] == ["positive"] * len(data.test)
    assert image["text-only"] == ["negative"] * len(data.test)


def test_blank_keeps_target_and_rejects_unknown_variant() -> None:
    data = generate(seed=5, train=5, dev=5, test=5)
    s = blank(data.test, "image-only")[0]
    assert s.text == "" and s.target == data.test[0].target and s.image == data.test[0].image
    t = blank(data.test, "text-only")[0]
    assert t.image is None and t.text == data.test[0].text
    assert t.content_hash != data.test[0].content_hash != s.content_hash
    with pytest.raises(Exception, match="unknown ablation 'audio-only'"):
        blank(data.test, "audio-only")


def test_intervals_bracket_scores_and_per_sample_scores_average_to_them(run) -> None:  # noqa: ANN001
    entries, run_dir, _ = run
    entry = entries[("reads-text", None)]
    for name in ("accuracy", "macro_f1", "weighted_f1", "bleu4", "bleu4_sentence", "rouge_l"):
        low, high = entry.intervals[name]
        assert low < entry.scores[name] < high, name
    assert entry.intervals["chain_consistency"] == [1.0, 1.0]  # every chain states the answer: no spread
    lines = [json.loads(line) for line in (run_dir / entry.predictions_file).read_text().splitlines()]
    per = [line["scores"] for line in lines]
    assert sum(p["accuracy"] for p in per) / len(per) == pytest.approx(entry.scores["accuracy"])
    assert sum(p["bleu4_sentence"] for p in per) / len(per) == pytest.approx(entry.scores["bleu4_sentence"])
    assert sum(p["bertscore_f1"] for p in per) / len(per) == pytest.approx(entry.scores["bertscore_f1"], abs=1e-6)


def test_reported_rows_are_kept_apart_with_citations() -> None:
    rows = reported_entries(["twitter2015", "synthetic"])
    assert {r.dataset for r in rows} == {"twitter2015"}
    assert {"TomBERT", "CLMLF"} <= {r.model for r in rows}
    tombert = next(r for r in rows if r.model == "TomBERT")
    assert tombert.scores["accuracy"] == pytest.approx(77.15) and "NOT reproduced" in tombert.note
    assert tombert.citation
    assert reported_entries(["synthetic"]) == []
