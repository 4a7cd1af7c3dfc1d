"""What the two model families share below the model contract: batches, padding, LoRA, decoding options.

A backend turns (sample, prompt text, target token ids) into model inputs whose ``labels`` mark the target
tokens, computes logits, and generates. :class:`mulcot_hf.model.ChatVLM` builds prompts and targets, trains
and parses; it never needs to know whether the image is a projected EfficientNet grid or Qwen's own tower.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from mulcot_bench.plugin import Sample, UserError
from mulcot_hf.checkpoints import Checkpoint

IGNORE = -100


@dataclass
class Batch:
    """Model inputs (``inputs``: forward keyword arguments) and the labels aligned with the input positions.

    ``labels[b, t]`` is the token at position ``t`` when it is a target token, else ``IGNORE``: the logits at
    ``t - 1`` predict it (Hugging Face convention, shift before the loss). ``lengths[b]`` counts the real
    (unpadded) positions of row ``b``; padding is on the right.
    """

    inputs: dict[str, Tensor]
    labels: Tensor
    lengths: list[int] = field(default_factory=list)


def pad_rows(rows: Sequence[Sequence[int]], pad: int, left: bool) -> tuple[Tensor, Tensor]:
    """Pad integer rows to one length; returns (ids, attention mask)."""
    width = max((len(r) for r in rows), default=0)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if not row:
            continue
        span = slice(width - len(row), width) if left else slice(0, len(row))
        ids[i, span] = torch.tensor(list(row), dtype=torch.long)
        mask[i, span] = 1
    return ids, mask


def pad_embeddings(rows: Sequence[Tensor], left: bool) -> tuple[Tensor, Tensor]:
    """Pad ``(L_i, H)`` rows with zeros to ``(B, L, H)``; returns (embeddings, attention mask)."""
    width = max(int(r.shape[0]) for r in rows)
    hidden = int(rows[0].shape[1])
    out = rows[0].new_zeros((len(rows), width, hidden))
    mask = torch.zeros((len(rows), width), dtype=torch.long, device=rows[0].device)
    for i, row in enumerate(rows):
        n = int(row.shape[0])
        span = slice(width - n, width) if left else slice(0, n)
        out[i, span] = row
        mask[i, span] = 1
    return out, mask


def label_rows(prompt_lengths: Sequence[int], targets: Sequence[Sequence[int]], width: int) -> Tensor:
    """Right-padded labels: IGNORE over each prompt and the padding, the target ids after the prompt."""
    labels = torch.full((len(targets), width), IGNORE, dtype=torch.long)
    for i, (start, target) in enumerate(zip(prompt_lengths, targets, strict=True)):
        if target:
            labels[i, start : start + len(target)] = torch.tensor(list(target), dtype=torch.long)
    return labels


def cut_at(ids: Sequence[int], stop: int | Sequence[int]) -> list[int]:
    """The generated ids up to (not including) the first ``stop`` id (or the first of several)."""
    ids = list(ids)
    stops = {stop} if isinstance(stop, int) else set(stop)
    return next((ids[:i] for i, t in enumerate(ids) if t in stops), ids)


def end_ids(st: dict[str, Any], eos: int, pad: int) -> tuple[int, list[int]]:
    """The id that ends a training target (setting ``target_end``: the end of turn, or the pad / end-of-text token
    as the reference appends) and the ids that stop generation (the end of turn and that one)."""
    end = pad if st["target_end"] == "pad" else eos
    return end, sorted({eos, end})


#: the seed of the resized rows' draw (kd_vocab_init='mean'): fixed, so a reloaded student draws the same rows
RESIZE_SEED = 0


def resize_vocab(model: nn.Module, size: int | None, init: str = "zero") -> int | None:
    """Grow the model's token embeddings (and output rows) to ``size`` (setting kd_vocab='resize': the student takes
    the assistant's vocabulary size, as the reference does). ``init`` (setting kd_vocab_init): ``zero`` rows, or
    ``mean``: transformers' own default draw (``mean_resizing=True``: a normal with the old rows' mean and 1e-9 x
    their covariance, else the mean), made on the CPU under :data:`RESIZE_SEED` so that a reloaded model draws the
    same rows. Call it before the model moves to its device. Returns the size before, or None when nothing was
    resized."""
    before = int(model.get_output_embeddings().weight.shape[0])
    if size is None or size <= before:
        return None
    if init == "mean":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RESIZE_SEED)
            model.resize_token_embeddings(int(size), mean_resizing=True)
        return before
    if init != "zero":
        raise ValueError(f"kd_vocab_init={init!r} is not 'zero' or 'mean'")
    model.resize_token_embeddings(int(size), mean_resizing=False)
    with torch.no_grad():
        for emb in {id(m): m for m in (model.get_input_embeddings(), model.get_output_embeddings())}.values():
            emb.weight[before:].zero_()
    return before


def lora_dropout_on(model: nn.Module) -> int:
    """Put the LoRA dropout layers of ``model`` (peft's ``lora_dropout`` modules) in training mode, the rest as it is:
    the state peft's ``get_peft_model`` leaves a model in that ``from_pretrained`` had put in eval mode. Returns how
    many dropout layers were switched on."""
    on = 0
    for name, module in model.named_modules():
        if isinstance(module, nn.Dropout) and ".lora_dropout." in f".{name}.":
            module.train(True)
            on += 1
    return on


def resolve_device(setting: str) -> torch.device:
    """'auto' is CUDA when available, else CPU."""
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(setting)


def generation_kwargs(
    st: dict[str, Any], max_new: int, temperature: float, eos: int | list[int], pad: int
) -> dict[str, Any]:
    """Explicit decoding options (a checkpoint's own generation_config, e.g. Qwen's top_k=1, never leaks in)."""
    kw: dict[str, Any] = {
        "max_new_tokens": int(max_new),
        "eos_token_id": eos,
        "pad_token_id": pad,
        "num_beams": 1,
        "repetition_penalty": float(st["repetition_penalty"]),
    }
    if temperature > 0:
        kw.update(do_sample=True, temperature=float(temperature), top_k=int(st["top_k"]), top_p=float(st["top_p"]))
    else:
        kw.update(do_sample=False, temperature=None, top_k=None, top_p=None)
    return kw


# LoRA / full fine-tuning ----------------------------------------------------------------------------------------
def lora_target(names: Sequence[str] | str, exclude: str | None = None) -> list[str] | str:
    """peft ``target_modules``: the module names, or a full-match regex over module paths excluding ``exclude``
    (a regex already, as a loaded adapter may give, is used as it is)."""
    if isinstance(names, str):
        return names
    if exclude is None:
        return list(names)
    alternatives = "|".join(re.escape(n) for n in names)
    return rf"^(?!.*{re.escape(exclude)}).*\.({alternatives})$"


def make_trainable(model: nn.Module, st: dict[str, Any], targets: list[str] | str) -> nn.Module:
    """LoRA adapters (setting train='lora'), every weight trainable (train='full') or nothing (train='none', a
    loaded model evaluated as it is); returns the model to train."""
    mode = st["train"]
    if mode == "none":
        return model
    if mode == "lora":
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(
            r=int(st["lora_r"]),
            lora_alpha=int(st["lora_alpha"]),
            lora_dropout=float(st["lora_dropout"]),
            target_modules=targets,
            bias="none",
        )
        return get_peft_model(model, config)
    if mode == "full":
        return model.requires_grad_(True)
    raise ValueError(f"setting train={mode!r} is not one of 'lora', 'full', 'none'")


def adapt(model: nn.Module, st: dict[str, Any], targets: list[str] | str, checkpoint: Checkpoint | None,
          where: str) -> nn.Module:
    """The model to run: fresh trainable parts (:func:`make_trainable`), or a loaded PEFT adapter's."""
    if checkpoint is not None and checkpoint.kind == "adapter":
        return load_adapter(model, checkpoint.folder, where)
    return make_trainable(model, st, targets)


def legacy_key_mapping(model: nn.Module) -> dict[str, str]:
    """transformers' renamings from the model class's older weight layout (Qwen2.5-VL before transformers 4.52:
    ``model.layers.*``, ``visual.*``) as peft's ``key_mapping``, so an adapter trained then (the MulCoT-RD
    reference code's) loads; keys already in today's layout match none of them."""
    try:
        from transformers.conversion_mapping import get_checkpoint_conversion_mapping
    except ImportError:  # transformers 4: the model reads its own older layout
        return dict(getattr(model, "_checkpoint_conversion_mapping", {}) or {})
    out: dict[str, str] = {}
    for rule in get_checkpoint_conversion_mapping(type(model).__name__) or []:
        sources, targets = getattr(rule, "source_patterns", []), getattr(rule, "target_patterns", [])
        if type(rule).__name__ == "WeightRenaming" and len(sources) == 1 and len(targets) == 1:
            out[str(sources[0])] = str(targets[0])
    return out


def load_adapter(model: nn.Module, folder: Path, where: str) -> nn.Module:
    """A saved PEFT LoRA adapter on ``model``, frozen for evaluation, with the adapter's own config (r, alpha,
    dropout, targets, ...); an adapter weight that does not fit the model, or a missing one, is an error."""
    from peft import LoraConfig, PeftModel

    config = LoraConfig.from_pretrained(str(folder))
    config.inference_mode = True
    mapping = legacy_key_mapping(model)
    adapted = PeftModel(model, config)
    fix = "it was trained on another base model: pass that base with -o MODEL.model=PATH_OR_HUB_ID"
    try:
        result = adapted.load_adapter(str(folder), adapter_name="default", is_trainable=False, key_mapping=mapping)
    except (RuntimeError, ValueError) as exc:  # shapes that differ (another hidden size or rank)
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
        why = next((line for line in lines if "size mismatch" in line), lines[0])[:240]  # torch lists them below
        raise UserError(f"{where}: adapter {folder} does not fit ({why}); {fix}") from None
    unexpected, missing = list(result.unexpected_keys), list(result.missing_keys)
    if unexpected or missing:
        names = ", ".join((unexpected or missing)[:3])
        what = "holds weights the model lacks" if unexpected else "lacks weights its config targets"
        raise UserError(f"{where}: adapter {folder} {what} ({len(unexpected or missing)}, e.g. {names}); {fix}")
    adapted.requires_grad_(False)
    return adapted


def trainable_state(model: nn.Module, st: dict[str, Any], prefix: str) -> dict[str, Tensor]:
    """The weights that training changes (LoRA adapters, or every trainable weight), detached copies."""
    if st["train"] == "none":
        return {}
    if st["train"] == "lora":
        from peft import get_peft_model_state_dict

        state = get_peft_model_state_dict(model)
    else:
        state = {n: p for n, p in model.named_parameters() if p.requires_grad}
    return {f"{prefix}{k}": v.detach().to("cpu", copy=True).contiguous() for k, v in state.items()}


def load_trainable_state(model: nn.Module, st: dict[str, Any], state: dict[str, Tensor], where: str) -> None:
    """Load what :func:`trainable_state` returned (prefix already removed); unknown keys are an error."""
    if st["train"] == "none":
        unexpected = list(state)
    elif st["train"] == "lora":
        from peft import set_peft_model_state_dict

        result = set_peft_model_state_dict(model, state)
        unexpected = list(getattr(result, "unexpected_keys", []) or [])
    else:
        result = model.load_state_dict(state, strict=False)
        unexpected = list(result.unexpected_keys)
    if unexpected:
        raise ValueError(f"{where}: saved weights do not fit the model: unexpected {unexpected[:5]}")


def count_params(*modules: nn.Module | None) -> tuple[int, int]:
    """(all parameters, trainable parameters) of the modules, each tensor counted once."""
    seen: set[int] = set()
    total = trainable = 0
    for module in modules:
        if module is None:
            continue
        for p in module.parameters():
            if id(p) in seen:
                continue
            seen.add(id(p))
            total += p.numel()
            trainable += p.numel() if p.requires_grad else 0
    return total, trainable


class Backend:
    """The interface both families implement (see the module docstring)."""

    eos_id: int
    pad_id: int
    end_id: int  # the id that ends a training target (setting target_end)
    stop_ids: list[int]  # the ids that stop generation
    checkpoint: Checkpoint | None = None  # set before setup() when a model loads an adapter or model folder
    resize_to: int | None = None  # set before setup(): grow the vocabulary to this size (kd_vocab='resize')

    def setup(self) -> None:
        """Load the pretrained parts and add the trainable ones (call under a seeded RNG)."""
        raise NotImplementedError

    def encode_target(self, text: str, eos: bool = True) -> list[int]:
        """Target token ids (followed by the target's end id, setting ``target_end``, when ``eos``)."""
        raise NotImplementedError

    def vocab_size(self) -> int:
        """Rows of the output layer (what KD's KL runs over)."""
        raise NotImplementedError

    def decode(self, ids: Sequence[int]) -> str:
        raise NotImplementedError

    def encode(self, samples: Sequence[Sample], prompts: Sequence[str], targets: Sequence[Sequence[int]]) -> Batch:
        """Teacher-forcing inputs: each prompt (with its image) followed by its target ids, right-padded."""
        raise NotImplementedError

    def logits(self, batch: Batch) -> Tensor:
        """``(B, L, V)`` logits of a batch."""
        raise NotImplementedError

    def generate(
        self, samples: Sequence[Sample], prompts: Sequence[str], max_new: int, temperature: float
    ) -> list[list[int]]:
        """New token ids per sample (up to, not including, the end-of-turn id); greedy when temperature is 0."""
        raise NotImplementedError

    def parameters(self) -> list[dict[str, Any]]:
        """Optimiser parameter groups (each may carry its own 'lr')."""
        raise NotImplementedError

    def train(self, mode: bool = True) -> None:
        raise NotImplementedError

    def modules(self) -> list[nn.Module]:
        """The torch modules that make the model (what a mode switch walks)."""
        raise NotImplementedError

    def state(self) -> dict[str, Tensor]:
        """The trained weights only (never the pretrained base)."""
        raise NotImplementedError

    def load_state(self, state: dict[str, Tensor]) -> None:
        raise NotImplementedError

    def start_from(self, other: Backend) -> None:
        """Set the trained parts to those of another fitted backend of the family (setting init='assistant')."""
        raise NotImplementedError

    def param_counts(self) -> tuple[int, int]:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What the base is (for the saved config and the stage report)."""
        raise NotImplementedError
