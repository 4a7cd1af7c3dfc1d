"""Registers the ``replay`` teacher (default: it serves the released Twitter-2015 chains when they are present)."""

from __future__ import annotations

from mulcot_bench.plugin import ModelCard, ModelSpec, Register, hookimpl
from mulcot_replay.settings import settings_from_env


@hookimpl
def register_models(register: Register) -> None:
    register(
        ModelSpec(
            ModelCard(
                name="replay",
                role="teacher",
                description="Serves saved rationales matched by sample content: the dataset's teacher_cot chains "
                "and files in MULCOT_REPLAY_FILES",
                params=0,
                settings=settings_from_env(),
            ),
            "mulcot_replay.teacher:ReplayTeacher",
        )
    )
