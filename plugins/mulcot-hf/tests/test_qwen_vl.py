"""qwen2.5-vl through the real loading path, on a tiny randomly initialised Qwen2.5-VL written to disk.

The checkpoint folder is built from a config (2 layers, hidden 32, a 1-block vision tower, a BPE tokenizer
with Qwen's special tokens): it loads with the same AutoTokenizer / AutoImageProcessor /
AutoModelForImageTextToText calls as Qwen2.5-VL-7B-Instruct would.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
import torch
from mulcot_hf.model import QwenVL
from mulcot_hf.settings import qwen_card
from PIL import Image
from tiny_qwen import write_tiny_qwen

from mulcot_bench.labels import LABELS
from mulcot_bench.rationale import render_chain
from mulcot_bench.types import FitContext, Prediction, Sample

FAST = {"image_resize": 56, "epochs": 1, "batch_size": 4, "max_new_tokens": 12, "lr": 1e-2, "eval_batch_size": 3}


def _png(rgb: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), rgb).save(buf, format="PNG")
    return buf.getvalue()


def _samples(n: int) -> list[Sample]:
    out = []
    for i in range(n):
        label = LABELS[i % 3]
        chain = render_chain(
            {
                "Text_analysis": f"The text is {label} about the park.",
                "Image_analysis": "The image shows a park.",
                "Conflict_resolution": "They agree.",
                "Final_conclusion": f"The sentiment is {label}.",
                "Prediction": label,
            }
        )
        out.append(
            Sample(
                id=f"s{i}",
                text=f"a day at the park #{i}",
                label=label,
                target="the park",
                image=None if i == 3 else _png((40 * i, 200 - 30 * i, 90)),
                rationale=None if i == 2 else chain,  # one label-only item
            )
        )
    return out


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_qwen(tmp_path_factory.mktemp("tiny-qwen"))


def _model(checkpoint: Path, role: str = "assistant", **extra: object) -> QwenVL:
    return QwenVL(qwen_card(f"qwen-{role}", role, model=str(checkpoint), **{**FAST, **extra}))  # type: ignore[arg-type]


def _ctx(assistant: object = None) -> FitContext:
    return FitContext(seed=3, dataset="hand", level="aspect", assistant=assistant)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def fitted(checkpoint: Path) -> tuple[QwenVL, dict]:
    model = _model(checkpoint)
    report = model.fit(_samples(4), _samples(3), _ctx())
    return model, report


def test_one_lora_step_changes_only_lora_weights(checkpoint: Path, fitted: tuple[QwenVL, dict]) -> None:
    model, report = fitted
    assert report["steps"] == 1 and math.isfinite(report["losses"][0]) and report["losses"][0] > 0
    assert report["n_with_rationale"] == 3 and report["n_label_only"] == 1
    trained = model._ready().state()
    assert trained and all(".lora_" in k for k in trained)
    assert not any("visual" in k for k in trained)  # lora_scope 'language': the vision tower is left alone
    fresh = _model(checkpoint)
    fresh._setup(3 + int(fresh.settings["seed_offset"]))
    before = fresh._ready().state()
    assert before.keys() == trained.keys()
    changed = [k for k in trained if not torch.equal(trained[k], before[k])]
    assert changed, "no LoRA weight changed after one step"
    assert all(float(v.abs().sum()) == 0 for k, v in before.items() if "lora_B" in k)  # peft starts B at zero
    assert report["trainable_params"] < report["params"]


def test_same_seed_same_weights(checkpoint: Path, fitted: tuple[QwenVL, dict]) -> None:
    model, _ = fitted
    again = _model(checkpoint)
    again.fit(_samples(4), _samples(3), _ctx())
    first, second = model._ready().state(), again._ready().state()
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
    other = _model(checkpoint, seed_offset=1)
    other.fit(_samples(4), _samples(3), _ctx())
    assert any(not torch.equal(first[k], v) for k, v in other._ready().state().items())


def test_image_placeholders_expand_to_merged_patches(fitted: tuple[QwenVL, dict]) -> None:
    model, _ = fitted
    backend = model._ready()
    samples = _samples(4)
    batch = backend.encode(samples, [model.prompt(s, "label") for s in samples], [[backend.eos_id]] * 4)
    ids, grid = batch.inputs["input_ids"], batch.inputs["image_grid_thw"]
    assert grid.shape[0] == 3  # the sample without an image adds no pixels
    per_image = int(grid[0].prod()) // 4  # 56x56 -> 4x4 patches of 14 -> 2x2 after the 2x2 merge
    assert per_image == 4
    counts = (ids == backend.image_id).sum(dim=1).tolist()
    assert counts == [per_image, per_image, per_image, 0]
    assert torch.equal(batch.inputs["mm_token_type_ids"].bool(), ids == backend.image_id)


def test_predict_sample_and_save_load(tmp_path: Path, checkpoint: Path, fitted: tuple[QwenVL, dict]) -> None:
    model, _ = fitted
    test = _samples(3)
    preds = model.predict(test)
    assert len(preds) == 3 and all(isinstance(p, Prediction) for p in preds)
    for p in preds:
        assert p.label in (*LABELS, None) and isinstance(p.rationale, str) and isinstance(p.raw, str)
        assert p.probs is not None and math.isclose(sum(p.probs.values()), 1.0, rel_tol=1e-5)
    drawn = model.sample(test, temperature=0.7, seed=5)
    assert [p.rationale for p in drawn] == [p.rationale for p in model.sample(test, temperature=0.7, seed=5)]
    model.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"weights.safetensors", "config.json"}
    loaded = _model(checkpoint).load(tmp_path)
    again = loaded.predict(test)
    assert [p.raw for p in again] == [p.raw for p in preds]
    assert [p.rationale for p in again] == [p.rationale for p in preds]


def test_student_distils_from_the_live_assistant(checkpoint: Path, fitted: tuple[QwenVL, dict]) -> None:
    assistant, _ = fitted
    student = _model(checkpoint, "student")
    report = student.fit(_samples(4), [], _ctx(assistant))
    assert report["kd"]["lambda"] == 0.3 and report["kd"]["assistant"] == "qwen-assistant"
    assert math.isfinite(report["losses"][0]) and report["selected_epoch"] == 1
    faithful = _model(checkpoint, "student", kd_mask="reference").fit(_samples(4), [], _ctx(assistant))
    assert faithful["kd"]["mask"].startswith("reference") and math.isfinite(faithful["losses"][0])
    released = _model(checkpoint, "student", kd_assistant_mode="lora-dropout", accum_count="global",
                      label_parser="released", repetition_penalty=1.05)  # fmt: skip
    report = released.fit(_samples(4), _samples(3), _ctx(assistant))
    assert report["kd"]["assistant_mode"] == "lora-dropout" and report["optimizer"]["accum_count"] == "global"
    assert math.isfinite(report["losses"][0])
    assert not any(m.training for m in assistant._ready().modules()[0].modules())  # back in eval mode after KD
    # target-token KD aligns the targets whatever the layout: a student seeing smaller images still distils
    smaller = _model(checkpoint, "student", image_resize=28).fit(_samples(4), [], _ctx(assistant))
    assert math.isfinite(smaller["losses"][0])
    # the reference mask compares every position, so it needs the assistant's exact layout
    with pytest.raises(ValueError, match="kd_mask='reference' needs the student and the assistant"):
        _model(checkpoint, "student", image_resize=28, kd_mask="reference").fit(_samples(4), [], _ctx(assistant))
    with pytest.raises(ValueError, match="needs a fitted assistant"):
        _model(checkpoint, "student").fit(_samples(4), [], _ctx())


def test_the_mulcot_contract_check_passes(checkpoint: Path) -> None:
    from mulcot_bench.plugin.specs import ModelSpec
    from mulcot_bench.plugin.testing import check_model

    spec = ModelSpec(qwen_card("qwen-tiny", "assistant", model=str(checkpoint), **FAST), "mulcot_hf.model:QwenVL")
    report = check_model(spec, seed=1)
    assert report.ok


def _load(checkpoint: Path) -> torch.nn.Module:
    from transformers import AutoModelForImageTextToText

    return AutoModelForImageTextToText.from_pretrained(str(checkpoint))


def test_mean_resize_draws_the_same_rows_again_and_zero_resize_zeros_them(checkpoint: Path) -> None:
    from mulcot_hf.backend import resize_vocab

    first, again, zero = _load(checkpoint), _load(checkpoint), _load(checkpoint)
    n = int(first.get_input_embeddings().weight.shape[0])
    torch.manual_seed(1)
    assert resize_vocab(first, n + 8, "mean") == n
    torch.manual_seed(2)  # the run's RNG state does not matter: the draw has its own seed
    assert resize_vocab(again, n + 8, "mean") == n and resize_vocab(zero, n + 8, "zero") == n
    rows = first.get_input_embeddings().weight.detach()
    assert rows.shape[0] == n + 8 and torch.equal(rows[n:], again.get_input_embeddings().weight.detach()[n:])
    assert torch.count_nonzero(zero.get_input_embeddings().weight.detach()[n:]) == 0
    # transformers' default draw: the old rows' mean, with 1e-9 x their covariance (so within a hair of the mean)
    mean = rows[:n].mean(0)
    assert torch.allclose(rows[n:], mean.expand(8, -1), atol=1e-3) and bool((rows[n:] != 0).any())


def test_lora_dropout_mode_is_the_state_get_peft_model_leaves(checkpoint: Path) -> None:
    from mulcot_hf.backend import lora_dropout_on, make_trainable
    from mulcot_hf.settings import LORA_TARGETS
    from peft import LoraConfig, get_peft_model

    def dropout_modes(model: torch.nn.Module) -> dict[str, bool]:
        return {n.removeprefix("base_model.model."): m.training for n, m in model.named_modules()
                if isinstance(m, torch.nn.Dropout)}  # fmt: skip

    # the released code: from_pretrained (eval mode), then get_peft_model, never .eval() afterwards
    released = get_peft_model(_load(checkpoint), LoraConfig(target_modules=LORA_TARGETS, r=4, lora_alpha=8,
                                                            lora_dropout=0.2, bias="none"))  # fmt: skip
    lora = {n for n in dropout_modes(released) if ".lora_dropout." in f".{n}."}
    assert lora and all(dropout_modes(released)[n] for n in lora)  # its LoRA dropout is on
    ours = make_trainable(_load(checkpoint), {"train": "lora", "lora_r": 4, "lora_alpha": 8, "lora_dropout": 0.2},
                          LORA_TARGETS)  # fmt: skip
    ours.train(False)
    assert not any(dropout_modes(ours).values())  # kd_assistant_mode="eval"
    assert lora_dropout_on(ours) == len(lora)
    assert dropout_modes(ours) == dropout_modes(released)  # kd_assistant_mode="lora-dropout": the same modes
