"""The model contract (mulcot-bench's check_model) for the three registered models, at tiny sizes."""

from __future__ import annotations

from enc_testutil import TINY, card
from mulcot_encoder.plugin import FACTORY

from mulcot_bench.plugin import ModelSpec, check_model


def test_registers_the_family(mulcot_registry) -> None:  # noqa: ANN001
    roles = {n: mulcot_registry.model(n).card.role for n in ("enc-assistant", "enc-student", "enc-student-nokd")}
    assert roles == {"enc-assistant": "assistant", "enc-student": "student", "enc-student-nokd": "baseline"}
    student = mulcot_registry.model("enc-student").card
    nokd = mulcot_registry.model("enc-student-nokd").card
    assert student.assistant == nokd.assistant == "enc-assistant"
    assert student.settings["kd_lambda"] > 0 and nokd.settings["kd_lambda"] == 0
    assert {k: v for k, v in student.settings.items() if k != "kd_lambda"} == \
        {k: v for k, v in nokd.settings.items() if k != "kd_lambda"}
    assert mulcot_registry.model("enc-assistant").card.settings["d_model"] > student.settings["d_model"]


def test_contract_on_the_tiny_synthetic_set(mulcot_registry, mulcot_data) -> None:  # noqa: ANN001
    assistant_spec = ModelSpec(card("enc-assistant"), FACTORY)
    check_model("enc-assistant", registry=mulcot_registry, data=mulcot_data)  # registered sizes
    from mulcot_bench.plugin import FitContext

    assistant = assistant_spec.build()
    assistant.fit(mulcot_data.train, mulcot_data.dev, FitContext(seed=0, dataset="synthetic", level="aspect"))
    for name in ("enc-student", "enc-student-nokd"):
        spec = ModelSpec(card(name), FACTORY)
        check_model(spec, registry=mulcot_registry, data=mulcot_data, assistant=assistant)
    assert TINY["d_model"] == assistant.card.settings["d_model"]
