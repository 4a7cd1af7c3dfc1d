"""Every predictions line records what the model was asked (``prompt``), and a prompt reference renders exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mulcot_bench.data import synthetic
from mulcot_bench.plugin.specs import resolve
from mulcot_bench.prompts import render_prompt
from mulcot_bench.prompts.asked import KINDS, prompt_ref, render_ref
from mulcot_bench.report.predictions import read_predictions
from mulcot_bench.types import ModelCard, Sample

FAKE = Path(__file__).parent / "fake_plugins" / "counting.py"
SHIPPED = ("majority", "text-tfidf-lr", "synthetic-teacher")


def _samples() -> list[Sample]:
    """Aspect-level synthetic samples, a post-level copy, one without an image and one with an empty text."""
    test = synthetic.generate(seed=3, train=4, dev=2, test=6).test
    post = Sample("p1", "A calm day at #eastbeach, nothing more.", "neutral")
    return [*test, post, Sample("t1", test[0].text, "positive", target=test[0].target), Sample(
        "e1", "", "negative", target="#x", image=test[1].image)]


def _roundtrip(record: dict[str, Any]) -> dict[str, Any]:
    """The record as read back from a predictions line."""
    return json.loads(json.dumps(record))


def _run(tmp: Path, models: tuple[str, ...]) -> Path:
    """A synthetic run of ``models`` (plus the fake plugin folder); its run folder."""
    (tmp / "plugins").mkdir()
    (tmp / "plugins" / "counting.py").write_text(FAKE.read_text())
    cmd = [sys.executable, "-m", "mulcot_bench", "run", "-d", "synthetic", "--synthetic-size", "60,20,40",
           "--bootstrap", "0", "--jobs", "1", "--plugins-dir", str(tmp / "plugins"), "--cache-dir",
           str(tmp / "cache"), "--runs-dir", str(tmp / "runs"), "--run-id", "r"]
    for m in models:
        cmd += ["-m", m]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MULCOT_BENCH_JOBS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp / "runs" / "r"


def test_synthetic_run_records_every_prompt(tmp_path: Path) -> None:
    run = _run(tmp_path, (*SHIPPED, "count-rule"))
    results = json.loads((run / "results.json").read_text())
    entries = {e["model"]: e for e in results["entries"]}
    assert set(SHIPPED) | {"count-rule"} <= set(entries)
    for name in SHIPPED:
        lines = [json.loads(x) for x in (run / entries[name]["predictions_file"]).read_text().splitlines()]
        assert len(lines) == 40 and all(isinstance(x["prompt"], dict) for x in lines), name
        assert {x["prompt"]["kind"] for x in lines} <= set(KINDS)
        assert entries[name]["prompt_note"] is None
    tfidf = [json.loads(x) for x in (run / entries["text-tfidf-lr"]["predictions_file"]).read_text().splitlines()]
    assert all(x["prompt"]["inputs"]["text"] == f"{x['target']} | {x['text']}" for x in tfidf)
    # a third-party model that declares nothing: null, and a note that says so (never a made-up prompt)
    fake = [json.loads(x) for x in (run / entries["count-rule"]["predictions_file"]).read_text().splitlines()]
    assert all(x["prompt"] is None for x in fake)
    assert "declares no asked" in entries["count-rule"]["prompt_note"]


def test_old_predictions_files_without_prompt_still_read(tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text(json.dumps({"id": "a", "gold": "positive", "label": "neutral"}) + "\n")
    assert read_predictions(tmp_path, "p.jsonl").records[0].get("prompt") is None


@pytest.mark.parametrize("prompt_set", ["project", "reference"])
@pytest.mark.parametrize("kind", ["reasoning", "label", "teacher_predict"])
def test_prompt_ref_renders_what_render_prompt_gives(kind: str, prompt_set: str) -> None:
    for s in _samples():
        level = "aspect" if s.target else "post"
        ref = _roundtrip(prompt_ref(kind, s, level, prompt_set=prompt_set))
        assert render_ref(ref) == render_prompt(kind, s, level, prompt_set=prompt_set)


def test_prompt_ref_refuses_a_changed_template(tmp_path: Path) -> None:
    path = tmp_path / "label.j2"
    path.write_text("Say {{ labels | join('/') }} about {{ text }}")
    s = _samples()[0]
    ref = _roundtrip(prompt_ref("label", s, "aspect", template=path))
    assert render_ref(ref) == render_prompt("label", s, "aspect", template=path)
    path.write_text("Other {{ text }}")
    with pytest.raises(Exception, match="changed"):
        render_ref(ref)


def _openai(name: str, settings: dict[str, Any]) -> Any:
    from mulcot_openai.settings import TEACHER_KINDS, ZERO_SHOT_KINDS, card_settings

    kinds = TEACHER_KINDS if name == "openai" else ZERO_SHOT_KINDS
    env = {"MULCOT_OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "MULCOT_OPENAI_MODEL": "fake-vlm", **settings}
    role = "teacher" if name == "openai" else "baseline"
    card = ModelCard(name, role, "test", settings=card_settings(kinds, env))
    factory = "mulcot_openai.model:OpenAITeacher" if name == "openai" else "mulcot_openai.model:OpenAIZeroShot"
    return resolve(factory)(card)


@pytest.mark.parametrize("name", ["openai", "openai-zero-shot"])
def test_openai_prompt_refs_render_the_sent_prompt(name: str, tmp_path: Path) -> None:
    pytest.importorskip("mulcot_openai")
    (tmp_path / "reasoning.j2").write_text("Reason about {{ target or 'the post' }}: {{ text }} ({{ level }})")
    for env in ({}, {"MULCOT_OPENAI_PROMPT_DIR": str(tmp_path), "MULCOT_OPENAI_IMAGES": "off"}):
        model = _openai(name, env)
        for s in _samples():
            record = _roundtrip(type(model).asked(model.card, s))
            assert record["kind"] == "template" and list(record["prompts"]) == list(type(model).kinds)
            assert record["image"] == (s.image is not None and env.get("MULCOT_OPENAI_IMAGES") != "off")
            for kind, ref in record["prompts"].items():
                sent = model.payload(model.prompt(kind, s), s)["messages"][0]["content"]
                text = sent if isinstance(sent, str) else sent[-1]["text"]
                assert render_ref(ref) == text
        model.client.close()


def test_hf_prompt_refs_render_the_model_prompt() -> None:
    pytest.importorskip("mulcot_hf")
    from mulcot_hf.settings import qwen_card, smol_card

    for card, factory in ((smol_card("smol-vlm-student", "student"), "mulcot_hf.model:SmolVLM"),
                          (qwen_card("qwen2.5-vl-assistant", "assistant"), "mulcot_hf.model:QwenVL")):
        cls = resolve(factory)
        model = cls(card)  # resolves settings only; no weights are loaded
        for s in _samples():
            record = _roundtrip(cls.asked(card, s))
            assert record["kind"] == "template" and set(record["prompts"]) == {"label", "reasoning"}
            for task, ref in record["prompts"].items():
                assert render_ref(ref) == model.prompt(s, task)


def test_tiny_vlm_records_the_prompt_it_encodes() -> None:
    pytest.importorskip("mulcot_tiny")
    from mulcot_tiny.plugin import ASSISTANT
    from mulcot_tiny.settings import vlm_settings
    from mulcot_tiny.tokenizer import Tokenizer

    card = ModelCard(ASSISTANT, "assistant", "test", settings=vlm_settings("assistant"))
    cls = resolve("mulcot_tiny.model:TinyVLM")
    model = cls(card)
    samples = _samples()
    model.tokenizer = Tokenizer.train([s.text for s in samples] + [s.target or "" for s in samples], min_freq=1)
    for s in samples:
        record = _roundtrip(cls.asked(card, s))
        assert record["kind"] == "input" and record["image"] == (s.image is not None)
        for task in ("label", "reasoning"):
            ids, _ = model._prompt(s, task)
            assert model.tokenizer.decode(ids, skip_special=False) == record["inputs"][task]


def test_encoder_and_feature_models_record_their_input() -> None:
    pytest.importorskip("mulcot_encoder")
    from mulcot_encoder.plugin import FACTORY, cards

    cls = resolve(FACTORY)
    for card in cards():
        for s in _samples():
            record = _roundtrip(cls.asked(card, s))
            want = f"[CLS] {s.target} [SEP] {s.text} [SEP]" if s.target else f"[CLS] {s.text} [SEP]"
            assert record == {**record, "kind": "input", "inputs": {"text": want}, "image": s.image is not None}
    pytest.importorskip("mulcot_features")
    from mulcot_features.models import text_input
    from mulcot_features.plugin import FACTORY as FEATURES

    feats = resolve(FEATURES)
    s = _samples()[0]
    minilm = ModelCard("minilm-lr", "baseline", "t", settings={"features": ["text"], "text_input": "{target}: {text}",
                                                               "target_embedding": True})
    effnet = ModelCard("effnet-lr", "baseline", "t", settings={"features": ["image"]})
    assert feats.asked(minilm, s)["inputs"] == {"text": text_input(s, "{target}: {text}"), "target": s.target}
    assert feats.asked(effnet, s)["inputs"] == {} and feats.asked(effnet, s)["image"] is True


def test_replay_records_a_replay() -> None:
    pytest.importorskip("mulcot_replay")
    cls = resolve("mulcot_replay.teacher:ReplayTeacher")
    s = _samples()[0]
    record = cls.asked(ModelCard("replay", "teacher", "t", settings={}), s)
    assert record["kind"] == "replay" and record["key"] == s.content_hash
