"""Registers the tiny distillation chain: synthetic teacher -> tiny VLM assistant -> tiny VLM student.

Cards carry every setting (resolved from :mod:`mulcot_tiny.settings`) so the cache identity of a
model changes whenever anything that shapes its output does. Nothing heavy is imported here.
"""

from __future__ import annotations

from mulcot_bench.plugin import ModelCard, ModelSpec, Register, hookimpl
from mulcot_tiny.settings import TEACHER_DEFAULTS, vlm_settings

_VLM = "mulcot_tiny.model:TinyVLM"
ASSISTANT = "tiny-vlm-assistant"
#: built for the embedded set: ``run`` without ``-m`` leaves them out of real datasets (on Twitter-2015 they learn
#: the majority class only, in over half of the run's time); ``-m`` runs them anywhere
SCOPE = ("synthetic",)


@hookimpl
def register_models(register: Register) -> None:
    register(
        ModelSpec(
            ModelCard(
                "synthetic-teacher",
                "teacher",
                "Reads the synthetic generating attributes with noise and writes "
                "five-field chains (stands in for Qwen2.5-VL-72B on the embedded set)",
                settings=dict(TEACHER_DEFAULTS),
                datasets=SCOPE,
            ),
            "mulcot_tiny.teacher:SyntheticTeacher",
        )
    )
    register(
        ModelSpec(
            ModelCard(
                ASSISTANT,
                "assistant",
                "From-scratch CNN + transformer decoder, multi-task (reasoning + label)",
                settings=vlm_settings("assistant"),
                datasets=SCOPE,
            ),
            _VLM,
        )
    )
    register(
        ModelSpec(
            ModelCard(
                "tiny-vlm-student",
                "student",
                "Smaller tiny VLM distilled from the assistant's logits ((1-lambda) CE + lambda KL(T) on both tasks)",
                settings=vlm_settings("student"),
                assistant=ASSISTANT,
                datasets=SCOPE,
            ),
            _VLM,
        )
    )
    register(
        ModelSpec(
            ModelCard(
                "tiny-vlm-student-nokd",
                "baseline",
                "The same student trained multi-task on the same data without KD (lambda = 0): the key ablation",
                settings=vlm_settings("student", kd_lambda=0.0),
                assistant=ASSISTANT,
                datasets=SCOPE,
            ),
            _VLM,
        )
    )
