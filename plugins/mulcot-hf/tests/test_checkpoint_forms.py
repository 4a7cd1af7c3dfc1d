"""``-o MODEL.checkpoint=PATH`` for the HF models: a PEFT LoRA adapter folder and a transformers model folder.

On the tiny randomly initialised Qwen2.5-VL of ``tiny_qwen``: a real adapter saved with peft's
``save_pretrained`` (its LoRA B matrices set non-zero, so it changes the outputs) and a merged fine-tune, each
loaded through ``QwenVL.load`` and through ``mulcot-bench eval``, predict exactly what the same adapted model
predicts in memory. Any other folder is one error line naming it and the accepted forms (exit 2).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mulcot_hf.checkpoints import checkpoint_form
from mulcot_hf.model import QwenVL, SmolVLM
from mulcot_hf.settings import qwen_card, smol_card
from tiny_qwen import write_tiny_qwen

from mulcot_bench.data.synthetic import generate
from mulcot_bench.errors import UserError
from mulcot_bench.types import Prediction

FAST = {"image_resize": 56, "max_new_tokens": 12, "eval_batch_size": 3}
TARGETS = ["q_proj", "v_proj", "gate_proj"]  # gate_proj also matches the vision tower's MLP, as in the reference
HUB_ID = "mulcot-test/tiny-qwen2.5-vl"
SIZES = (8, 4, 6)
NAME = "qwen2.5-vl-assistant"


def _model(**settings: object) -> QwenVL:
    return QwenVL(qwen_card(NAME, "assistant", **{**FAST, **settings}))  # type: ignore[arg-type]


def _test_items() -> list:
    return list(generate(seed=13, train=SIZES[0], dev=SIZES[1], test=SIZES[2]).test)


def _in_memory(base: Path, model: torch.nn.Module) -> QwenVL:
    """A QwenVL whose network is ``model`` (the prompts, decoding and parsing are the plugin's own)."""
    wrapper = _model(model=str(base))
    wrapper._setup(0)
    wrapper._ready().model = model.eval()  # type: ignore[attr-defined]
    return wrapper


def _same(a: list[Prediction], b: list[Prediction]) -> None:
    assert [(p.label, p.raw, p.rationale) for p in a] == [(p.label, p.raw, p.rationale) for p in b]
    for p, q in zip(a, b, strict=True):
        assert p.probs is not None and q.probs is not None
        assert p.probs == pytest.approx(q.probs, abs=1e-6)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_qwen(tmp_path_factory.mktemp("tiny-qwen"))


@pytest.fixture(scope="module")
def adapted(base: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    """A LoRA adapter (r 4, alpha 16, dropout 0.1: not the card's 16/32/0.2) saved by peft, and the model in memory."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        model = AutoModelForImageTextToText.from_pretrained(str(base), dtype=torch.float32)
        config = LoraConfig(r=4, lora_alpha=16, lora_dropout=0.1, target_modules=TARGETS, bias="none")
        peft_model = get_peft_model(model, config)
        with torch.no_grad():
            for name, param in peft_model.named_parameters():
                if "lora_B" in name:  # peft starts B at zero: an adapter that changes nothing would prove nothing
                    param.copy_(torch.randn_like(param) * 0.5)
    folder = tmp_path_factory.mktemp("adapter")
    peft_model.save_pretrained(str(folder))
    return folder, peft_model


def test_adapter_loads_with_its_own_lora_settings_and_predicts_as_in_memory(
    base: Path, adapted: tuple[Path, torch.nn.Module]
) -> None:
    folder, peft_model = adapted
    assert {p.name for p in folder.iterdir()} >= {"adapter_config.json", "adapter_model.safetensors"}
    items = _test_items()
    expected = _in_memory(base, peft_model).predict(items)
    loaded = _model().load(folder)  # the card has no 'model': the base is the adapter's base_model_name_or_path
    _same(loaded.predict(items), expected)
    record = loaded.report["checkpoint"]
    assert record["form"] == "peft-lora-adapter" and record["folder"] == str(folder)
    assert (record["r"], record["lora_alpha"], record["lora_dropout"]) == (4, 16, 0.1)
    assert sorted(record["target_modules"]) == sorted(TARGETS)
    assert record["base_model_name_or_path"] == str(base) == loaded.report["base"]["model"]
    assert (loaded.settings["lora_r"], loaded.settings["lora_alpha"], loaded.settings["lora_dropout"]) == (4, 16, 0.1)
    assert 0 < loaded.report["adapter_params"] < loaded.report["params"]
    # the adapter matters: the base as it is gives other label probabilities
    plain = _model().load(base).predict(items)
    assert any(p.probs != pytest.approx(q.probs, abs=1e-4) for p, q in zip(plain, expected, strict=True))


def test_adapter_in_the_reference_codes_key_layout_loads(
    base: Path, adapted: tuple[Path, torch.nn.Module], tmp_path: Path
) -> None:
    """The MulCoT-RD reference code trained its adapters under transformers 4.4x, where Qwen2.5-VL's language
    model was ``model.layers.*`` and its vision tower ``visual.*`` (now ``model.language_model.*`` and
    ``model.visual.*``): such an adapter loads and predicts as the same adapter in today's layout."""
    from safetensors.torch import load_file, save_file

    folder, peft_model = adapted
    older = tmp_path / "reference-layout"
    shutil.copytree(folder, older)
    state = load_file(str(older / "adapter_model.safetensors"))
    renamed = {
        k.replace("base_model.model.model.language_model.", "base_model.model.model.").replace(
            "base_model.model.model.visual.", "base_model.model.visual."
        ): v
        for k, v in state.items()
    }
    assert any(k.startswith("base_model.model.visual.blocks.") for k in renamed)  # gate_proj hit the vision MLP
    assert any(k.startswith("base_model.model.model.layers.") for k in renamed)
    save_file(renamed, str(older / "adapter_model.safetensors"))
    items = _test_items()
    _same(_model(model=str(base)).load(older).predict(items), _in_memory(base, peft_model).predict(items))


def test_merged_model_folder_is_evaluated_as_it_is(
    base: Path, adapted: tuple[Path, torch.nn.Module], tmp_path: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    adapter, peft_model = adapted
    fresh = AutoModelForImageTextToText.from_pretrained(str(base), dtype=torch.float32)
    model = PeftModel.from_pretrained(fresh, str(adapter)).merge_and_unload()  # how a merged fine-tune is made
    folder = tmp_path / "merged"
    model.save_pretrained(str(folder))
    for file in base.iterdir():  # the tokenizer and image processor files beside the merged weights
        if not (folder / file.name).exists():
            shutil.copy(file, folder / file.name)
    items = _test_items()
    loaded = _model(model=str(base)).load(folder)  # the folder is the whole model: the card's 'model' is not used
    got = loaded.predict(items)
    _same(got, _in_memory(base, model).predict(items))
    unmerged = _in_memory(base, peft_model).predict(items)  # merging changes only the rounding
    assert [p.probs for p in got] == [pytest.approx(q.probs, abs=1e-4) for q in unmerged]
    assert loaded.report["checkpoint"] == {
        "form": "transformers-model", "folder": str(folder), "model_type": "qwen2_5_vl", "adapters": None
    }
    assert loaded.settings["train"] == "none" and loaded.report["base"]["model"] == str(folder)
    assert loaded.report["adapter_params"] == 0


def _fake_hub(root: Path, source: Path) -> Path:
    """A Hugging Face hub cache holding ``source`` as HUB_ID (what a download leaves), read offline."""
    repo = root / ("models--" + HUB_ID.replace("/", "--"))
    commit = "0" * 40
    shutil.copytree(source, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit, encoding="utf-8")
    return root


def _eval(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    size = ",".join(map(str, SIZES))
    command = [sys.executable, "-m", "mulcot_bench", "eval", NAME, "-d", "synthetic", "--synthetic-size", size,
               "--synthetic-seed", "13", "--bootstrap", "0", *args]  # fmt: skip
    for key, value in FAST.items():
        command += ["-o", f"{NAME}.{key}={value}"]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env={**os.environ, **env}, timeout=600)


def test_eval_cli_takes_a_hub_id_base_and_an_adapter(
    base: Path, adapted: tuple[Path, torch.nn.Module], tmp_path: Path
) -> None:
    folder, peft_model = adapted
    env = {"HF_HUB_CACHE": str(_fake_hub(tmp_path / "hub", base)), "MULCOT_BENCH_CACHE": str(tmp_path / "cache"),
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    done = _eval(tmp_path, "-o", f"{NAME}.model={HUB_ID}", "-o", f"{NAME}.checkpoint={folder}", "--run-id", "hub",
                 env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "runs" / "hub" / "results.json").read_text(encoding="utf-8"))
    (entry,) = results["entries"]
    assert entry["checkpoint"] == str(folder) and entry["settings"]["model"] == HUB_ID
    rows = [json.loads(line) for line in (tmp_path / "runs" / "hub" / entry["predictions_file"]).open()]
    items = _test_items()
    expected = _in_memory(base, peft_model).predict(items)
    assert [r["id"] for r in rows] == [s.id for s in items]
    got = [Prediction(label=r["label"], probs=r["probs"], rationale=r["rationale"], raw=r["raw"]) for r in rows]
    _same(got, expected)


def test_eval_cli_refuses_another_folder_with_one_line_exit_2(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-checkpoint"
    folder.mkdir()
    (folder / "notes.txt").write_text("weights are elsewhere", encoding="utf-8")
    done = _eval(tmp_path, "-o", f"{NAME}.checkpoint={folder}", "--run-id", "bad",
                 env={"MULCOT_BENCH_CACHE": str(tmp_path / "cache")})  # fmt: skip
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and str(folder) in last
    assert "holds neither config.json nor adapter_config.json; accepted: the folder save() wrote" in last
    assert "a PEFT LoRA adapter folder" in last and "a transformers model folder" in last


def _write(folder: Path, files: dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ({}, "holds neither config.json nor adapter_config.json"),
        ({"adapter_config.json": {"peft_type": "IA3"}}, "peft_type 'IA3', not 'LORA'"),
        ({"adapter_config.json": {"peft_type": "LORA"}, "adapter_model.bin": "x"}, "unsafe legacy format"),
        ({"adapter_config.json": {"peft_type": "LORA"}}, "has no adapter_model.safetensors"),
        ({"config.json": {"hidden_size": 8}}, "config.json has neither format 'mulcot-hf' nor a model_type"),
        ({"config.json": "{not json"}, "not readable JSON"),
    ],
)
def test_other_folders_are_one_line_naming_the_forms(tmp_path: Path, files: dict, says: str) -> None:
    folder = _write(tmp_path / "ckpt", files)
    with pytest.raises(UserError) as err:
        checkpoint_form(folder)
    message = str(err.value)
    assert "\n" not in message and str(folder) in message and says in message
    assert message.endswith("or a transformers model folder (config.json with model_type, e.g. a merged fine-tune)")


def test_wrong_model_type_and_incomplete_merged_folder_are_refused(tmp_path: Path) -> None:
    llama = _write(tmp_path / "llama", {"config.json": {"model_type": "llama"}})
    with pytest.raises(UserError, match="model_type 'llama', not a Qwen2.5-VL"):
        _model().load(llama)
    bare = _write(tmp_path / "bare", {"config.json": {"model_type": "qwen2_5_vl"}, "model.safetensors": ""})
    with pytest.raises(UserError, match="is missing tokenizer.json or vocab.json, preprocessor_config.json") as err:
        _model().load(bare)
    assert "\n" not in str(err.value)


def test_adapter_without_a_base_names_the_setting(tmp_path: Path) -> None:
    folder = _write(tmp_path / "a", {"adapter_config.json": {"peft_type": "LORA"}, "adapter_model.safetensors": ""})
    with pytest.raises(UserError, match=f"names no base_model_name_or_path and '{NAME}' has no 'model'; pass -o "):
        _model().load(folder)
    named = _write(tmp_path / "b", {"adapter_config.json": {"peft_type": "LORA", "base_model_name_or_path":
                                                            "/gone/Qwen2.5-VL-7B-Instruct"},
                                    "adapter_model.safetensors": ""})  # fmt: skip
    with pytest.raises(UserError, match=f"the base it names is not usable here .*; pass the base with -o {NAME}"):
        _model().load(named)


def test_adapter_of_another_base_is_refused(base: Path, adapted: tuple[Path, torch.nn.Module], tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    folder, _ = adapted
    moved = tmp_path / "moved"
    shutil.copytree(folder, moved)
    state = load_file(str(moved / "adapter_model.safetensors"))
    renamed = {k.replace("layers.1.", "layers.5."): v for k, v in state.items()}
    save_file(renamed, str(moved / "adapter_model.safetensors"))
    with pytest.raises(UserError, match="holds weights the model lacks .*layers.5.*pass that base with -o"):
        _model(model=str(base)).load(moved)
    resized = tmp_path / "resized"  # a config whose rank is not the weights'
    shutil.copytree(folder, resized)
    config = json.loads((resized / "adapter_config.json").read_text(encoding="utf-8"))
    (resized / "adapter_config.json").write_text(json.dumps({**config, "r": 8}), encoding="utf-8")
    with pytest.raises(UserError, match="does not fit .*size mismatch.*pass that base with -o") as err:
        _model(model=str(base)).load(resized)
    assert "\n" not in str(err.value)


def test_smol_vlm_takes_only_its_save_folder(adapted: tuple[Path, torch.nn.Module]) -> None:
    folder, _ = adapted
    with pytest.raises(UserError, match="a smol-vlm needs the visual projector mulcot-bench trained") as err:
        SmolVLM(smol_card("smol-vlm-assistant", "assistant")).load(folder)
    assert str(folder) in str(err.value) and "PEFT adapter folder has none" in str(err.value)
