"""The checkpoint forms an HF model loads: its own ``save()`` folder, a PEFT LoRA adapter, a transformers model.

Torch-free: the form is read from the folder's JSON files only, so a wrong folder is refused before any
weights load. Anything else is one :class:`~mulcot_bench.errors.UserError` line naming the folder and the
three accepted forms (the CLI exits 2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mulcot_bench.plugin import UserError

SAVED_FORMAT = "mulcot-hf"  # the "format" written by ChatVLM.save
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
FORMS = (
    "the folder save() wrote (config.json with format 'mulcot-hf' + weights.safetensors), "
    f"a PEFT LoRA adapter folder ({ADAPTER_CONFIG} + {ADAPTER_WEIGHTS}), "
    "or a transformers model folder (config.json with model_type, e.g. a merged fine-tune)"
)

Kind = Literal["saved", "adapter", "model"]


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint folder and its form; ``config`` is the JSON that decided it."""

    kind: Kind
    folder: Path
    config: dict[str, Any] = field(default_factory=dict)


def _json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"checkpoint {path}: not readable JSON ({type(exc).__name__}); accepted: {FORMS}") from None
    if not isinstance(value, dict):
        raise UserError(f"checkpoint {path}: not a JSON object; accepted: {FORMS}")
    return value


def refuse(folder: Path, why: str) -> UserError:
    """The one-line error for a folder that is none of the accepted forms."""
    return UserError(f"checkpoint {folder}: {why}; accepted: {FORMS}")


def checkpoint_form(folder: Path) -> Checkpoint:
    """Which of the three forms ``folder`` holds (checked by its files, no weights read)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise refuse(folder, "not a folder")
    if (folder / ADAPTER_CONFIG).is_file():
        config = _json(folder / ADAPTER_CONFIG)
        if config.get("peft_type") != "LORA":
            raise refuse(folder, f"{ADAPTER_CONFIG} has peft_type {config.get('peft_type')!r}, not 'LORA'")
        if not (folder / ADAPTER_WEIGHTS).is_file():
            legacy = (folder / "adapter_model.bin").is_file()  # torch's unsafe format: never loaded here
            why = f"has no {ADAPTER_WEIGHTS}"
            if legacy:
                why = "holds adapter_model.bin (an unsafe legacy format, never loaded)"
            raise refuse(folder, f"{why}; save the adapter with safe_serialization (the peft default)")
        return Checkpoint("adapter", folder, config)
    if (folder / "config.json").is_file():
        config = _json(folder / "config.json")
        if config.get("format") == SAVED_FORMAT:
            return Checkpoint("saved", folder, config)
        if config.get("model_type"):
            return Checkpoint("model", folder, config)
        raise refuse(folder, "config.json has neither format 'mulcot-hf' nor a model_type")
    raise refuse(folder, f"holds neither config.json nor {ADAPTER_CONFIG}")


def adapter_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The LoRA settings an adapter was trained with (they replace the card's for this load)."""
    targets = config.get("target_modules")
    return {
        "train": "lora",
        "lora_r": int(config.get("r", 8)),  # peft's own defaults where the file leaves a field out
        "lora_alpha": int(config.get("lora_alpha", 8)),
        "lora_dropout": float(config.get("lora_dropout", 0.0)),
        "lora_targets": sorted(targets) if isinstance(targets, list) else targets,
    }


def adapter_base(config: dict[str, Any]) -> str | None:
    """The base model an adapter names (``base_model_name_or_path``), if any."""
    base = config.get("base_model_name_or_path")
    return str(base) if base else None
