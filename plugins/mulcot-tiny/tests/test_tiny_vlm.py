"""Fast tests of the tiny VLM: tokenizer, KD loss, determinism, save/load, predict and sample contracts."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from mulcot_tiny.model import TinyVLM
from mulcot_tiny.tokenizer import Tokenizer, distance_tags, pretokenize, target_spans
from mulcot_tiny.training import example_batch, pad_left, target_logits
from mulcot_tiny.vlm import VLMConfig, VLMNet
from PIL import Image

from mulcot_bench.labels import LABELS
from mulcot_bench.rationale import render_chain
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
        chain = render_chain(
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
                target=None if i % 7 == 6 else f"@brand{i % 4}",  # None: a post-level sample
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
    assert [tok.itos[i] for i in ids] == ['\n\n"Prediction": "', "negative", '"']
    assert pretokenize('"Prediction":"x"') == ['"', "Prediction", '"', ":", '"', "x", '"']  # not the rendered header
    assert tok.encode("<pad>") != [tok.pad_id]  # specials cannot be injected by text


def test_target_spans() -> None:
    text = "ok @Brand was great, @brand again; notabrand"
    assert [text[a:b] for a, b in target_spans(text, "@brand")] == [" @Brand", " @brand"]
    assert [text[a:b] for a, b in target_spans(text, "brand")] == ["Brand", "brand"]
    assert target_spans(text, "  ") == [] and target_spans(text, "nothing") == []


def test_encode_post_marks_target_and_tags_distance() -> None:
    tok = Tokenizer.train(["ok @brand was great today", "@brand"], min_freq=1)
    text = "ok @brand was great today"
    ids, tags = tok.encode_post(text, "@brand", mark=True, window=2)
    pieces = [tok.itos[i] for i in ids]
    assert pieces[:5] == ["ok", "<t>", " @", "brand", "</t>"] and tok.decode(ids) == text
    assert tags == [3, 4, 4, 4, 4, 5, 6, 1]  # 2 + d + window for |d| <= 2, else 1
    assert distance_tags([False, False], 2) == [1, 1]
    plain, zeros = tok.encode_post(text, None, mark=True, window=0)
    assert plain == tok.encode(text) and zeros == [0] * len(plain)


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
    assert report["kd"]["source"] == "cached" and report["kd"]["cached_rows"] > 0
    assert report["counts"] == {"train": 8, "reasoning": 7, "label": 8, "dev": 3}
    assert report["peak_rss_mib"] > 0 and report["selection"].startswith("dev accuracy, ties by dev macro-F1")
    assert len(student.predict(test)) == len(test)


@pytest.mark.parametrize("mask", ["targets", "reference"])
def test_kd_student_live_with_hidden_state_kd(fitted: tuple[TinyVLM, list[Sample]], mask: str) -> None:
    assistant, _ = fitted
    student = _model(
        "student", "student", d_model=16, heads=2, epochs=1, kd_source="live", kd_mask=mask, kd_hidden_weight=0.5
    )
    report = student.fit(_samples(8), [], _ctx(assistant))
    assert report["kd"]["source"] == "live" and report["kd"]["mask"] == mask
    assert "reasoning_hidden" in report["task_losses"][0] and report["selected_epoch"] == 1
    with pytest.raises(ValueError, match="live"):
        _model("student", "s2", d_model=16, heads=2, epochs=1, kd_hidden_weight=0.5).fit(
            _samples(8), [], _ctx(assistant)
        )


def test_fit_resumes_from_its_workdir(tmp_path: Path) -> None:
    """A second fit with the same workdir finds every epoch checkpointed and ends with the same weights."""
    ctx = FitContext(seed=7, dataset="hand", level="aspect", workdir=tmp_path)  # type: ignore[arg-type]
    first = _model()
    first.fit(_samples(10), _samples(3, "d"), ctx)
    assert (tmp_path / "checkpoints" / "epoch-0002" / "state.json").is_file()
    again = _model()
    report = again.fit(_samples(10), _samples(3, "d"), ctx)
    assert report["resumed_from_epoch"] == 2 and first.net is not None and again.net is not None
    a, b = first.net.state_dict(), again.net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sampling_does_not_depend_on_the_batch(fitted: tuple[TinyVLM, list[Sample]]) -> None:
    model, test = fitted
    together = model.sample(test, temperature=0.7, seed=3)
    alone = [model.sample([s], temperature=0.7, seed=3)[0] for s in test]
    assert [p.rationale for p in together] == [p.rationale for p in alone]
    other_seed = model.sample(test, temperature=0.7, seed=4)
    assert [p.rationale for p in other_seed] != [p.rationale for p in together]


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


def test_padding_and_kv_cache_agree(fitted: tuple[TinyVLM, list[Sample]]) -> None:
    """Right-padded training logits == left-padded inference logits for the same sequences."""
    model, test = fitted
    tok, net = model.tokenizer, model.net
    assert tok is not None and net is not None
    chunk = test[:4]
    exs = [model._example(s, "label") for s in chunk]
    assert all(ex is not None for ex in exs)
    with torch.no_grad():
        visual = model._visual(chunk)
        ids, tags, tmask = example_batch([ex for ex in exs if ex is not None], tok.pad_id)
        train_path = target_logits(net, visual, ids, tags, tmask)
        seqs = [ex.prompt + ex.target for ex in exs if ex is not None]
        lids, ltags, lmask = pad_left(seqs, tok.pad_id, [ex.tags for ex in exs if ex is not None])
        hidden = net.hidden(visual, lids, ltags, lmask)
        rows = []
        for i, ex in enumerate(e for e in exs if e is not None):
            n = len(ex.target)
            rows.append(net.logits(hidden[i, -n - 1 : -1]))
        assert torch.allclose(train_path, torch.cat(rows), atol=1e-4)


def test_kv_cache_generation_matches_recomputation() -> None:
    """Batched, left-padded, cached greedy decoding == one-row full recomputation, on a random network."""
    torch.manual_seed(0)
    net = VLMNet(VLMConfig(vocab_size=50, d_model=32, layers=2, heads=2, visual_tokens=3, max_len=64, n_tags=5)).eval()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.dim() >= 2 and not name.startswith("image"):
                p.normal_(0.0, 0.5)  # a chaotic network: any mismatch between the two paths flips an argmax
        visual = net.image(torch.randn(3, 3, 32, 32), torch.tensor([True, False, True]))
        prompts = [(5, 6, 7, 8, 9), (10, 11), (12, 13, 14)]
        tags = [(1, 2, 3, 4, 0), (3, 3), (0, 1, 2)]
        ids, tgs, mask = pad_left(prompts, 0, tags)
        cached = net.generate(visual, ids, tgs, mask, 10, eos_id=49)
        for i, (p, t) in enumerate(zip(prompts, tags, strict=True)):
            seq: list[int] = []
            for _ in range(10):
                ids1, tags1, mask1 = pad_left([p + tuple(seq)], 0, [t])
                nxt = int(net.logits(net.hidden(visual[i : i + 1], ids1, tags1, mask1)[0, -1]).argmax())
                if nxt == 49:
                    break
                seq.append(nxt)
            assert cached[i] == seq and len(set(seq)) > 1


def test_progress_hook_is_called() -> None:
    calls: list[tuple[str, int]] = []

    class Bar:
        def __init__(self) -> None:
            self.n = 0

        def update(self, k: int) -> None:
            self.n += k

    bar = Bar()

    def progress(desc: str, total: int) -> Bar:
        calls.append((desc, total))
        return bar

    ctx = FitContext(seed=1, dataset="hand", level="aspect", progress=progress)
    _model(epochs=1).fit(_samples(4), [], ctx)
    assert calls == [("fit tiny", 1)] and bar.n == 1
