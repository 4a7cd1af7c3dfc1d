"""qwen2.5-vl: Qwen2.5-VL-Instruct (7B assistant, 3B student in the reference) through transformers.

The model loads with ``AutoModelForImageTextToText`` from a hub id or a local folder. The prompt is the
checkpoint's own chat template with the image as a content part (``{"type": "image"}`` before the text);
every image is resized to ``image_resize`` x ``image_resize`` (280 in the reference) before the checkpoint's
image processor, and each ``<|image_pad|>`` placeholder is expanded to the number of merged patches, as
the Qwen2.5-VL processor does; ``mm_token_type_ids`` marks the image positions so the model builds its 3-D
(M-RoPE) positions.

Why not ``AutoProcessor``: in transformers 5 it also instantiates the video processor, which needs
torchvision; here torchvision cannot be used (the registry's build is a CUDA build that fails to import
against the CPU torch). The tokenizer and the image processor load with their own Auto classes, and the
placeholder expansion is done here, so one code path serves every machine.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from mulcot_bench.plugin import Sample
from mulcot_hf.backend import (
    Backend,
    Batch,
    adapt,
    count_params,
    cut_at,
    end_ids,
    generation_kwargs,
    label_rows,
    load_trainable_state,
    lora_target,
    pad_rows,
    resize_vocab,
    resolve_device,
    trainable_state,
)
from mulcot_hf.settings import QWEN_ENV
from mulcot_hf.weights import hub_unavailable, qwen_source

IMAGE_TOKEN = "<|image_pad|>"
END_OF_TURN = "<|im_end|>"


def _chat_template(source: str, tokenizer: Any) -> str:
    """The checkpoint's chat template: the tokenizer's, else chat_template.jinja / chat_template.json."""
    if getattr(tokenizer, "chat_template", None):
        return str(tokenizer.chat_template)
    folder = Path(source)
    if folder.is_dir():
        candidates = [folder / "chat_template.jinja", folder / "chat_template.json"]
    else:
        from transformers.utils import cached_file

        candidates = [
            Path(p)
            for name in ("chat_template.jinja", "chat_template.json")
            if (p := cached_file(source, name, _raise_exceptions_for_missing_entries=False))
        ]
    for path in candidates:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            return str(json.loads(text)["chat_template"]) if path.suffix == ".json" else text
    raise ValueError(f"{source} has no chat template (tokenizer_config.json, chat_template.jinja or .json)")


def _image(data: bytes, side: int) -> Any:
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as im:
        return ImageOps.exif_transpose(im).convert("RGB").resize((side, side), Image.Resampling.BICUBIC)


class QwenBackend(Backend):
    """Qwen2.5-VL with LoRA on q, k, v, o, gate, up, down of the language model."""

    def __init__(self, settings: dict[str, Any], name: str, role: str) -> None:
        self.st = settings
        self.name = name
        self.source = qwen_source(settings.get("model"), name, QWEN_ENV.get(role, QWEN_ENV["assistant"]))
        self.device = resolve_device(str(settings["device"]))
        self.side = int(settings["image_resize"])
        self.tokenizer: Any = None
        self.image_processor: Any = None
        self.template = ""
        self.model: Any = None
        self.resized_from: int | None = None

    def _dtype(self) -> torch.dtype:
        choice = str(self.st["dtype"])
        if choice == "auto":
            return torch.bfloat16 if self.device.type == "cuda" else torch.float32
        return {"float32": torch.float32, "bfloat16": torch.bfloat16}[choice]

    def setup(self) -> None:
        from transformers import AutoImageProcessor, AutoModelForImageTextToText, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.source)
            self.image_processor = AutoImageProcessor.from_pretrained(self.source)
            model = AutoModelForImageTextToText.from_pretrained(self.source, dtype=self._dtype())
        except OSError as exc:
            raise hub_unavailable(self.source, self.name, exc) from exc
        self.template = _chat_template(self.source, self.tokenizer)
        self.resized_from = resize_vocab(model, self.resize_to, str(self.st.get("kd_vocab_init", "zero")))
        model.requires_grad_(False)
        scope = str(self.st["lora_scope"])
        if scope not in ("language", "all"):
            raise ValueError(f"model {self.name!r}: lora_scope={scope!r} is not 'language' or 'all'")
        # "all": the module names matched across the whole model (the vision tower's MLP too), as the reference
        targets = lora_target(self.st["lora_targets"], exclude="visual" if scope == "language" else None)
        self.model = adapt(model, self.st, targets, self.checkpoint, f"model {self.name!r}").to(self.device)
        self.eos_id = int(self.tokenizer.convert_tokens_to_ids(END_OF_TURN))
        self.image_id = int(self.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN))
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else self.eos_id)
        self.end_id, self.stop_ids = end_ids(self.st, self.eos_id, self.pad_id)
        self.merge = int(getattr(self.image_processor, "merge_size", 2))

    def _ready(self) -> tuple[Any, Any]:
        if self.model is None or self.tokenizer is None:
            raise RuntimeError(f"model {self.name!r}: backend used before setup")
        return self.tokenizer, self.model

    # text -----------------------------------------------------------------------------------------------------
    def encode_target(self, text: str, eos: bool = True) -> list[int]:
        tok, _ = self._ready()
        ids = list(tok(text, add_special_tokens=False).input_ids)
        return [*ids, self.end_id] if eos else ids

    def vocab_size(self) -> int:
        _, model = self._ready()
        return int(model.get_output_embeddings().weight.shape[0])

    def decode(self, ids: Sequence[int]) -> str:
        tok, _ = self._ready()
        return tok.decode(list(ids), skip_special_tokens=True)

    def _prompt(self, sample: Sample, prompt: str) -> tuple[list[int], Tensor | None, Tensor | None]:
        """Prompt ids (image placeholders expanded), pixel values and grid of one sample."""
        tok, _ = self._ready()
        content: list[dict[str, str]] = [{"type": "image"}] if sample.image is not None else []
        content.append({"type": "text", "text": prompt})
        messages: list[dict[str, Any]] = []
        if self.st.get("system_prompt"):
            messages.append({"role": "system", "content": [{"type": "text", "text": str(self.st["system_prompt"])}]})
        messages.append({"role": "user", "content": content})
        text = tok.apply_chat_template(
            messages, chat_template=self.template, tokenize=False, add_generation_prompt=True
        )
        pixels = grid = None
        if sample.image is not None:
            if text.count(IMAGE_TOKEN) != 1:
                raise ValueError(f"model {self.name!r}: the chat template wrote {text.count(IMAGE_TOKEN)} image slots")
            out = self.image_processor(images=[_image(sample.image, self.side)], return_tensors="pt")
            pixels, grid = out["pixel_values"], out["image_grid_thw"]
            n_tokens = int(grid[0].prod()) // (self.merge * self.merge)
            text = text.replace(IMAGE_TOKEN, IMAGE_TOKEN * n_tokens)
        return list(tok(text, add_special_tokens=False).input_ids), pixels, grid

    def _inputs(
        self, samples: Sequence[Sample], prompts: Sequence[str], targets: Sequence[Sequence[int]] | None, left: bool
    ) -> tuple[dict[str, Tensor], list[int], list[int]]:
        rows, prompt_lengths, pixels, grids = [], [], [], []
        for i, (sample, prompt) in enumerate(zip(samples, prompts, strict=True)):
            ids, pv, grid = self._prompt(sample, prompt)
            prompt_lengths.append(len(ids))
            rows.append(ids + (list(targets[i]) if targets is not None else []))
            if pv is not None and grid is not None:
                pixels.append(pv)
                grids.append(grid)
        ids, mask = pad_rows(rows, self.pad_id, left=left)
        inputs: dict[str, Tensor] = {
            "input_ids": ids,
            "attention_mask": mask,
            "mm_token_type_ids": ((ids == self.image_id) & (mask == 1)).long(),
        }
        if pixels:
            inputs["pixel_values"] = torch.cat(pixels).to(self._dtype())
            inputs["image_grid_thw"] = torch.cat(grids)
        return {k: v.to(self.device) for k, v in inputs.items()}, prompt_lengths, [len(r) for r in rows]

    # model ----------------------------------------------------------------------------------------------------
    def encode(self, samples: Sequence[Sample], prompts: Sequence[str], targets: Sequence[Sequence[int]]) -> Batch:
        inputs, prompt_lengths, lengths = self._inputs(samples, prompts, targets, left=False)
        labels = label_rows(prompt_lengths, targets, int(inputs["input_ids"].shape[1])).to(self.device)
        return Batch(inputs, labels, lengths)

    def logits(self, batch: Batch) -> Tensor:
        _, model = self._ready()
        return model(**batch.inputs, use_cache=False).logits

    def generate(
        self, samples: Sequence[Sample], prompts: Sequence[str], max_new: int, temperature: float
    ) -> list[list[int]]:
        _, model = self._ready()
        inputs, _, _ = self._inputs(samples, prompts, None, left=True)
        out = model.generate(**inputs, **generation_kwargs(self.st, max_new, temperature, self.stop_ids, self.pad_id))
        width = int(inputs["input_ids"].shape[1])
        return [cut_at(row[width:].tolist(), self.stop_ids) for row in out]

    # training -------------------------------------------------------------------------------------------------
    def parameters(self) -> list[dict[str, Any]]:
        _, model = self._ready()
        return [{"params": [p for p in model.parameters() if p.requires_grad], "lr": float(self.st["lr"])}]

    def train(self, mode: bool = True) -> None:
        _, model = self._ready()
        model.train(mode)

    def modules(self) -> list[Any]:
        _, model = self._ready()
        return [model]

    def state(self) -> dict[str, Tensor]:
        _, model = self._ready()
        return trainable_state(model, self.st, "lm.")

    def load_state(self, state: dict[str, Tensor]) -> None:
        _, model = self._ready()
        other = sorted(k for k in state if not k.startswith("lm."))
        if other:
            raise ValueError(f"model {self.name!r}: saved weights hold unknown tensors {other[:5]}")
        rest = {k.removeprefix("lm."): v.to(self.device) for k, v in state.items()}
        load_trainable_state(model, self.st, rest, f"model {self.name!r}")

    def param_counts(self) -> tuple[int, int]:
        _, model = self._ready()
        return count_params(model)

    def describe(self) -> dict[str, Any]:
        _, model = self._ready()
        text = getattr(model.config, "text_config", model.config)
        return {
            "model": self.source,
            "layers": int(getattr(text, "num_hidden_layers", 0)),
            "hidden_size": int(getattr(text, "hidden_size", 0)),
            "image_resize": self.side,
            "vocab_size": self.vocab_size(),
            "vocab_resized_from": self.resized_from,
            "dtype": str(self._dtype()).removeprefix("torch."),
        }
