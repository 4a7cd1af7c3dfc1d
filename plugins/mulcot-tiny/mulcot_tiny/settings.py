"""Default settings of the tiny models, kept free of torch so registration stays light."""

from __future__ import annotations

from typing import Any

TEACHER_DEFAULTS: dict[str, Any] = {"image_noise": 0.12, "text_noise": 0.05, "seed": 0}

COMMON: dict[str, Any] = {
    "heads": 4,
    "visual_tokens": 4,
    "cnn_channels": 32,
    "dropout": 0.0,
    "max_len": 384,
    "epochs": 9,
    "lr": 3e-3,
    "min_lr": 1e-6,
    "batch_size": 16,
    "weight_decay": 0.01,
    "warmup_steps": 30,
    "grad_clip": 1.0,
    "plateau_patience": 2,
    "kd_temperature": 2.0,
    "max_new_tokens": 192,
    "max_label_tokens": 12,
    "max_prompt_tokens": 96,
    "min_freq": 2,
    "vocab_size": 4000,
    "eval_batch_size": 100,
    "seed_offset": 0,
    "mark_target": True,
    "aspect_window": 6,
    "image_words_weight": 1.0,
    "image_words_field": "Image_analysis",
    "cosine_decay": True,
    "torch_threads": 1,  # the numbers depend on the thread count: fixed here, whatever the machine or the run
    # the generic trainer and the KD loss (both from mulcot_bench.plugin.training):
    "grad_accum": 1,  # micro-batches per optimiser step
    "plateau_factor": 0.5,  # LR factor after plateau_patience epochs without a better dev accuracy
    "kd_t2": False,  # multiply the KL by T^2 (the reference does not)
    "kd_mask": "targets",  # "targets" or "reference" (the released code's labels != 0: every position)
    "kd_source": "cached",  # "cached": the assistant runs once, its top-k logits in a file; "live": every step
    "kd_top_k": 256,  # ids kept per position in the cache (0: the full vocabulary, exact)
    "kd_hidden_weight": 0.0,  # > 0: hidden-state MSE through a learned projection (needs kd_source "live")
}
ROLE_DEFAULTS: dict[str, dict[str, Any]] = {
    "assistant": {"d_model": 128, "layers": 2, "kd_lambda": 0.0, "epochs": 10},
    "student": {"d_model": 64, "layers": 2, "kd_lambda": 0.3, "epochs": 10, "lr": 4e-3},
}
OTHER_DEFAULTS: dict[str, Any] = {"d_model": 96, "layers": 2, "kd_lambda": 0.0}


def vlm_settings(role: str, **overrides: Any) -> dict[str, Any]:
    """Every TinyVLM setting for a role, with overrides; unknown keys are an error."""
    out = {**COMMON, **ROLE_DEFAULTS.get(role, OTHER_DEFAULTS)}
    unknown = sorted(set(overrides) - set(out))
    if unknown:
        raise ValueError(f"unknown TinyVLM settings {unknown}; known: {sorted(out)}")
    out.update(overrides)
    return out
