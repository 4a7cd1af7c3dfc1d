"""Registers the ``replay`` teacher (default: it serves the released Twitter-2015 chains when they are present)."""

from __future__ import annotations

from collections.abc import Callable

from mulcot_bench.plugin.hookspecs import hookimpl
from mulcot_bench.plugin.specs import ModelSpec
from mulcot_bench.types import ModelCard
from mulcot_replay.settings import settings_from_env


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
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
