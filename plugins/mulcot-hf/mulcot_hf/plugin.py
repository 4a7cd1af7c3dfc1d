"""Registers smol-vlm and qwen2.5-vl assistants and students (all opt-in). Nothing heavy is imported here."""

from __future__ import annotations

from mulcot_bench.plugin import ModelSpec, Register, hookimpl
from mulcot_hf.settings import qwen_card, smol_card

SMOL = "mulcot_hf.model:SmolVLM"
QWEN = "mulcot_hf.model:QwenVL"
SMOL_ASSISTANT = "smol-vlm-assistant"
QWEN_ASSISTANT = "qwen2.5-vl-assistant"


@hookimpl
def register_models(register: Register) -> None:
    register(ModelSpec(smol_card(SMOL_ASSISTANT, "assistant"), SMOL))
    register(ModelSpec(smol_card("smol-vlm-student", "student", assistant=SMOL_ASSISTANT), SMOL))
    register(ModelSpec(qwen_card(QWEN_ASSISTANT, "assistant"), QWEN))
    register(ModelSpec(qwen_card("qwen2.5-vl-student", "student", assistant=QWEN_ASSISTANT), QWEN))
