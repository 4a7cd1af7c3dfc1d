"""Fast tests of the tiny VLM: tokenizer, KD loss, determinism, save/load, predict and sample contracts."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
import torch
from mulcot_tiny.model import TinyVLM, target_spans
from mulcot_tiny.tokenizer import Tokenizer, pretokenize
from mulcot_tiny.training import distill_loss, kd_kl
from PIL import Image

from mulcot_bench.labels import LABELS
from mulcot_bench.rationale import render
from mulcot_bench.types import FitContext, ModelCard, Prediction, Sample

TINY = {
    "d_model": 32,
    "layers": 1,
    "heads": 2,
    "visual_tokens": 2,
    "cnn_channels": 4,
    "epochs": 2,
    "batch_size": 4,
    "warmup_steps": 2,
    "max_new_tokens": 24,
    "max_len": 160,
    "eval_batch_size": 5,
}
COLOURS = {"positive": (240, 170, 70), "neutral": (140, 140, 140), "negative": (25, 35, 80)}


def _png(rgb: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), rgb).save(buf, format="PNG")
    return buf.getvalue()


def _samples(n: int, prefix: str = "s") -> list[Sample]:
    out = []
    for i in range(n):
        label = LABELS[i % 3]
        chain = render(
            {
                "Text_analysis": f"The text about @brand{i % 4} is {label}.",
                "Image_analysis": "The image looks plain.",
                "Conflict_resolution": "They agree.",
                "Final_conclusion": f"The sentiment is {label}.",
                "Prediction": label,
            }
        )
        out.append(
            Sample(
                id=f"{prefix}{i}",
                text=f"@brand{i % 4} was {'great' if label == 'positive' else 'awful'} today #{i}",
                label=label,
                target=f"@brand{i % 4}",
                image=None if i % 5 == 4 else _png(COLOURS[label]),
                rationale=None if i % 6 == 5 else chain,
            )
        )
    return out


def _model(role: str = "assistant", name: str = "tiny", **extra: object) -> TinyVLM:
    return TinyVLM(ModelCard(name, role, "test model", settings={**TINY, **extra}))  # type: ignore[arg-type]


def _ctx(assistant: object = None) -> FitContext:
    return FitContext(seed=7, dataset="hand", level="aspect", assistant=assistant)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def fitted() -> tuple[TinyVLM, list[Sample]]:
    model = _model()
    model.fit(_samples(12), _samples(5, "d"), _ctx())
    return model, _samples(7, "t")


# tokenizer ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        '\n\n"Prediction": "neutral"',
        "naïve café — 日本語 🙂👍🏽 \u200b\tend  ",
        "",
        "   ",
        "RT @novaphone was GREAT!!! :) #weekend\r\n",
        "\x00\x7f\ufffd e\u0301",
    ],
)
def test_tokenizer_round_trip(text: str, tmp_path: Path) -> None:
    tok = Tokenizer.train(["hello world", '"Prediction": "neutral"', "hello there"], min_freq=1, keep=LABELS)
    assert "".join(pretokenize(text)) == text
    assert tok.decode(tok.encode(text)) == text
    tok.save(tmp_path / "tok.json")
    again = Tokenizer.load(tmp_path / "tok.json")
    assert again.itos == tok.itos and again.encode(text) == tok.encode(text)


def test_tokenizer_pieces_and_labels() -> None:
    tok = Tokenizer.train(['"Prediction": "positive"'] * 3, min_freq=2, keep=LABELS)
    ids = tok.encode('\n\n"Prediction": "negative"')
    assert [tok.itos[i] for i in ids] == ["\n", "\n", '"', "Prediction", '"', ":", ' "', "negative", '"']
    assert tok.encode("<pad>") != [tok.pad_id]  # specials cannot be injected by text


def test_target_spans() -> None:
    text = "ok @Brand was great, @brand again; notabrand"
    assert [text[a:b] for a, b in target_spans(text, "@brand")] == [" @Brand", " @brand"]
    assert [text[a:b] for a, b in target_spans(text, "brand")] == ["Brand", "brand"]
    assert target_spans(text, "  ") == [] and target_spans(text, "nothing") == []


# losses ---------------------------------------------------------------------------------------------
def _hand_kl(student: list[list[float]], teacher: list[list[float]], t: float) -> float:
    total = 0.0
    for s_row, t_row in zip(student, teacher, strict=True):
        zs = sum(math.exp(x / t) for x in s_row)
        zt = sum(math.exp(x / t) for x in t_row)
        for s, q in zip(s_row, t_row, strict=True):
            p_t = math.exp(q / t) / zt
            p_s = math.exp(s / t) / zs
            total += p_t * (math.log(p_t) - math.log(p_s))
    return total / len(student)


def _hand_ce(student: list[list[float]], gold: list[int]) -> float:
    total = 0.0
    for row, g in zip(student, gold, strict=True):
        total += math.log(sum(math.exp(x) for x in row)) - row[g]
    return total / len(student)


def test_kd_loss_matches_hand_computation() -> None:
    s = [[1.0, -0.5, 2.0, 0.0], [0.3, 0.2, -1.0, 1.5], [-2.0, 0.0, 0.5, 0.5]]
    t = [[0.5, 0.5, 1.0, -1.0], [2.0, -0.3, 0.0, 0.1], [0.0, 1.0, -1.0, 3.0]]
    gold = [2, 3, 0]
    st, tt, gt = torch.tensor(s), torch.tensor(t), torch.tensor(gold)
    ce, kl = _hand_ce(s, gold), _hand_kl(s, t, 2.0)
    assert float(distill_loss(st, gt, tt, lam=0.0, temperature=2.0)) == pytest.approx(ce, rel=1e-5)
    assert float(distill_loss(st, gt, None, lam=0.0)) == pytest.approx(ce, rel=1e-5)
    assert float(distill_loss(st, gt, tt, lam=1.0, temperature=2.0)) == pytest.approx(kl, rel=1e-5)
    assert float(kd_kl(st, tt, 2.0)) == pytest.approx(kl, rel=1e-5)
    mixed = 0.7 * ce + 0.3 * kl
    assert float(distill_loss(st, gt, tt, lam=0.3, temperature=2.0)) == pytest.approx(mixed, rel=1e-5)
    with pytest.raises(ValueError):
        distill_loss(st, gt, None, lam=0.3)


# fit / predict / save -------------------------------------------------------------------------------
def test_fit_is_deterministic() -> None:
    state = []
    for _ in range(2):
        model = _model()
        report = model.fit(_samples(10), _samples(3, "d"), _ctx())
        assert model.net is not None
        state.append({k: v.clone() for k, v in model.net.state_dict().items()})
    assert report["n_train"] == 10 and report["n_with_rationale"] == 9 and len(report["dev_accuracy"]) == 2
    assert report["params"] == model.params and 1 <= report["selected_epoch"] <= 2
    assert state[0].keys() == state[1].keys()
    assert all(torch.equal(state[0][k], state[1][k]) for k in state[0])


def test_predict_contract(fitted: tuple[TinyVLM, list[Sample]]) -> None:
    model, test = fitted
    preds = model.predict(test)
    assert len(preds) == len(test) and all(isinstance(p, Prediction) for p in preds)
    for p in preds:
        assert p.probs is not None and set(p.probs) == set(LABELS)
        assert sum(p.probs.values()) == pytest.approx(1.0, abs=1e-5)
        assert p.label is None or p.label in LABELS
        assert isinstance(p.raw, str) and isinstance(p.rationale, str)
    assert model.predict([]) == []


def test_sample_is_seeded(fitted: tuple[TinyVLM, list[Sample]]) -> None:
    model, test = fitted
    a = model.sample(test, temperature=0.7, seed=3)
    b = model.sample(test, temperature=0.7, seed=3)
    assert len(a) == len(test) and [p.rationale for p in a] == [p.rationale for p in b]
    assert all(p.label is None or p.label in LABELS for p in a)


def test_save_load_same_predictions(fitted: tuple[TinyVLM, list[Sample]], tmp_path: Path) -> None:
    model, test = fitted
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "weights.safetensors").is_file()
    again = _model().load(tmp_path / "m")
    assert again.params == model.params
    assert [p.to_json() for p in again.predict(test)] == [p.to_json() for p in model.predict(test)]


def test_kd_student(fitted: tuple[TinyVLM, list[Sample]]) -> None:
    assistant, test = fitted
    student = _model("student", "student", d_model=16, heads=2, epochs=1)
    report = student.fit(_samples(8), _samples(3, "d"), _ctx(assistant))
    assert report["kd"]["lambda"] == pytest.approx(0.3) and student.tokenizer is assistant.tokenizer
    assert len(student.predict(test)) == len(test)


def test_kd_student_rejects_bad_assistant() -> None:
    class Other:
        card = ModelCard("other", "assistant", "not tiny")

        def predict(self, samples: list[Sample]) -> list[Prediction]:
            return [Prediction(label=None) for _ in samples]

    with pytest.raises(ValueError, match="TinyVLM"):
        _model("student").fit(_samples(6), [], _ctx(Other()))
    with pytest.raises(ValueError, match="assistant"):
        _model("student").fit(_samples(6), [], _ctx())
    with pytest.raises(ValueError, match="not fitted"):
        _model("student").fit(_samples(6), [], _ctx(_model()))


def test_unknown_setting_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown"):
        _model(d_modle=3)
