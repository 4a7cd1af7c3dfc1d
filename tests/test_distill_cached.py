"""Cached assistant logits: the file format, reuse, and the student loss equal to the live assistant's."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("mulcot_tiny")

from mulcot_tiny.model import TinyVLM, _net_config  # noqa: E402
from mulcot_tiny.training import TASKS, ItemTable, KDOptions, LiveAssistant, TinyTask, cached_assistant  # noqa: E402
from mulcot_tiny.vlm import VLMNet, stack_pixels  # noqa: E402

from mulcot_bench.data.synthetic import generate  # noqa: E402
from mulcot_bench.training.cached import CachedLogits, TopKWriter, build_cache  # noqa: E402
from mulcot_bench.types import FitContext, ModelCard  # noqa: E402

SMALL = {
    "d_model": 32,
    "layers": 1,
    "heads": 2,
    "cnn_channels": 4,
    "epochs": 2,
    "batch_size": 8,
    "warmup_steps": 2,
    "max_len": 200,
    "eval_batch_size": 16,
}


def test_writer_layout_and_items_without_a_task(tmp_path: Path) -> None:
    torch.manual_seed(0)
    w = TopKWriter(["reasoning", "label"], 3, k=2, temperature=2.0)
    a, b = torch.randn(4, 6), torch.randn(2, 6)
    w.add("reasoning", 0, a)
    w.add("reasoning", 2, b)
    w.add("label", 1, torch.randn(1, 6))
    path = w.save(tmp_path / "c.safetensors", mask="targets", key="k1")
    cache = CachedLogits.load(path, {"key": "k1", "mask": "targets"})
    assert cache.offsets["reasoning"].tolist() == [0, 4, 4, 6] and cache.offsets["label"].tolist() == [6, 6, 7, 7]
    assert cache.count("reasoning", 1) == 0 and cache.k == 2 and cache.vocab_size == 6
    got = cache.get("reasoning", [2, 0])
    assert torch.equal(got.indices[:2], torch.topk(b, 2).indices) and torch.equal(
        got.values[2:], torch.topk(a, 2).values
    )
    assert path.read_bytes()[8:9] == b"{"  # a safetensors header (JSON), not a pickle
    with pytest.raises(ValueError, match="key"):
        CachedLogits.load(path, {"key": "other"})


def test_build_cache_reuses_a_matching_file(tmp_path: Path) -> None:
    calls: list[tuple[str, list[int]]] = []

    def logits(task: str, items: list[int]) -> list[torch.Tensor]:
        calls.append((task, items))
        return [torch.arange(12.0).view(2, 6) + i for i in items]

    kw = dict(k=3, temperature=2.0, mask="targets", vocab_limit=5)
    first = build_cache(tmp_path / "c.safetensors", ["label"], 4, logits, key="same", **kw)
    n = len(calls)
    again = build_cache(tmp_path / "c.safetensors", ["label"], 4, logits, key="same", **kw)
    assert len(calls) == n and torch.equal(first.values, again.values)
    assert first.vocab_size == 5 and int(first.indices.max()) < 5  # cut to the vocab limit before the top k
    build_cache(tmp_path / "c.safetensors", ["label"], 4, logits, key="changed", **kw)
    assert len(calls) > n


@pytest.fixture(scope="module")
def tiny_pair() -> tuple[TinyVLM, ItemTable, ItemTable, VLMNet]:
    data = generate(seed=13, train=24, dev=8, test=8)
    assistant = TinyVLM(ModelCard("a", "assistant", "test", settings=SMALL))
    assistant.fit(data.train, data.dev, FitContext(seed=3, dataset="synthetic", level="aspect"))
    student = TinyVLM(ModelCard("s", "student", "test", settings={**SMALL, "d_model": 16}))
    student.tokenizer = assistant.tokenizer
    assert assistant.tokenizer is not None
    items = ItemTable(
        *stack_pixels([s.image for s in data.train]),
        {t: [student._example(s, t) for s in data.train] for t in TASKS},
        [student._image_words(s) for s in data.train],
    )
    a_items = ItemTable(
        items.pixels, items.has_image, {t: [assistant._example(s, t) for s in data.train] for t in TASKS}
    )
    torch.manual_seed(1)
    net = VLMNet(_net_config(student.settings, len(assistant.tokenizer)))
    return assistant, items, a_items, net


@pytest.mark.parametrize("mask", ["targets", "reference"])
def test_full_vocabulary_cache_equals_live_loss(tiny_pair, mask: str, tmp_path: Path) -> None:  # noqa: ANN001
    assistant, items, a_items, net = tiny_pair
    tok = assistant.tokenizer
    live = LiveAssistant(assistant.net, a_items, tok.pad_id, mask)
    kd = KDOptions(lam=0.3, temperature=2.0, mask=mask)
    cached = cached_assistant(live, tmp_path / "full.safetensors", 0, kd.temperature, "a", len(tok))
    assert cached.k == len(tok)
    top = cached_assistant(live, tmp_path / "top.safetensors", 8, kd.temperature, "a", len(tok))
    tasks = {
        name: TinyTask(net, items, tok.pad_id, kd, src, 1.0, [], list)
        for name, src in (("live", live), ("full", cached), ("top", top))
    }
    tasks["full"].load_state_dict(tasks["live"].state_dict())
    tasks["top"].load_state_dict(tasks["live"].state_dict())
    with torch.no_grad():
        for batch in ([0, 1, 2, 3, 4, 5, 6, 7], [20, 3, 11], list(range(24))):
            live_loss = float(tasks["live"](batch)[0])
            assert float(tasks["full"](batch)[0]) == pytest.approx(live_loss, abs=1e-5)
            assert float(tasks["top"](batch)[0]) == pytest.approx(live_loss, abs=5e-2)  # top-8: an estimate
    # gradients agree too
    grads = {}
    for name in ("live", "full"):
        tasks[name].zero_grad()
        tasks[name]([0, 5, 9])[0].backward()
        grads[name] = torch.cat([p.grad.reshape(-1) for p in tasks[name].parameters() if p.grad is not None])
    assert torch.allclose(grads["live"], grads["full"], atol=1e-5)
