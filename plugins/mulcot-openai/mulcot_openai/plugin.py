"""Registers ``openai`` (teacher) and ``openai-zero-shot`` (baseline); both opt-in (``default=False``).

The endpoint is read from the environment when the plugin loads (see :mod:`mulcot_openai.settings`);
nothing is contacted and no HTTP library is imported until a model is used.
"""

from __future__ import annotations

from mulcot_bench.plugin import ModelCard, ModelSpec, Register, hookimpl
from mulcot_openai.settings import RUNTIME_OPTIONS, TEACHER_KINDS, ZERO_SHOT_KINDS, card_settings


@hookimpl
def register_models(register: Register) -> None:
    register(
        ModelSpec(
            ModelCard(
                name="openai",
                role="teacher",
                description="Teacher on an OpenAI-compatible chat endpoint (MULCOT_OPENAI_BASE_URL, _MODEL)",
                settings=card_settings(TEACHER_KINDS),
                runtime=dict(RUNTIME_OPTIONS),
                default=False,
            ),
            "mulcot_openai.model:OpenAITeacher",
        )
    )
    register(
        ModelSpec(
            ModelCard(
                name="openai-zero-shot",
                role="baseline",
                description="Zero-shot: the reasoning and label prompts sent to an OpenAI-compatible chat endpoint",
                settings=card_settings(ZERO_SHOT_KINDS),
                runtime=dict(RUNTIME_OPTIONS),
                default=False,
            ),
            "mulcot_openai.model:OpenAIZeroShot",
        )
    )
