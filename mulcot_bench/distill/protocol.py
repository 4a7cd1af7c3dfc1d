"""The reference protocol, point by point: what the released MulCoT-RD code does where the project differs.

Each :class:`Point` names a config field (``role.section.key``, or a pipeline field such as ``chain_filter``), the
value that reproduces the released code, the project's own default and why the project differs. The ``paper``
profile takes the reference's side on every point; the other profiles keep the project's defaults.
``--print-config`` shows each point with the value in effect and where it comes from (``docs/protocol.md`` is
the same table in prose).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Point:
    """One difference between the released code and the project's defaults."""

    gap: str  # the point's group, as in the first column of docs/protocol.md's table (e.g. "optimiser")
    name: str
    field: str  # a config field under each role (e.g. "lora.scope"), or a top-level one (e.g. "chain_filter")
    roles: tuple[str, ...]  # ("assistant", "student"), one of them, ("teacher",), or () for a pipeline field
    reference: Any
    ours: Any
    why: str


BOTH = ("assistant", "student")
TEACHER = ("teacher",)

POINTS: tuple[Point, ...] = (
    Point("prompts", "prompt set", "prompts.set", BOTH, "reference", "project",
          "ours define the three labels in every prompt; the reference's assistant/student prompts do not"),
    Point("teacher", "teacher's prompt set", "prompts.set", TEACHER, "reference", "project",
          "predict and correction prompts; the release's inference_cot.py / inference_label.py, in our words"),
    Point("teacher", "correction prompt", "teacher.correction", (), "explain the gold label",
          "explain the gold label", "both explain why the gold label is right; the release's names it in {label}"),
    Point("reference text", "teacher's chain text", "chain_text", TEACHER, "raw", "normalised",
          "ours keeps five-field replies only, re-rendered in one form; the release's chains are the raw replies"),
    Point("LoRA scope", "LoRA scope", "lora.scope", BOTH, "all", "language",
          "the reference matches q/k/v/o/gate/up/down across the whole model, vision tower MLPs included"),
    Point("optimiser", "AdamW weight decay", "training.weight_decay", BOTH, 0.01, 0.0,
          "the reference keeps AdamW's default; ours leaves the LoRA weights undecayed"),
    Point("optimiser", "gradient clipping", "training.grad_clip", BOTH, 0.0, 1.0,
          "the reference does not clip; ours clips the norm at 1 for stability on small batches"),
    Point("optimiser", "loss scaling", "training.loss_scaling", BOTH, "sum", "mean",
          "the reference back-propagates each task's loss unscaled (a step's gradient grows with grad_accum)"),
    Point("optimiser", "micro-batch rule", "training.accum_count", BOTH, "global", "per-epoch",
          "reference: one count over all epochs, an epoch's leftover micro-batches dropped; ours steps on them"),
    Point("epoch selection", "tie-break", "training.select_ties", BOTH, "field-metric", "macro-f1-loss",
          "reference: weighted-F1 (MVSA) / macro-F1 (Twitter), first epoch wins; ours: macro-F1 then lower loss"),
    Point("chain filters", "chain filter", "chain_filter", (), "reference", "five-fields",
          "training chains and teacher-written test references; ours keeps only five-field chains"),
    Point("decoding", "augmentation top-k", "generation.top_k", ("assistant",), 1, 0,
          "Qwen2.5-VL's generation config has top_k=1, so the reference's T=0.7 sampling is greedy in effect"),
    Point("decoding", "repetition penalty", "generation.repetition_penalty", BOTH, 1.05, 1.0,
          "the reference's generate() takes the checkpoint's generation config (1.05); ours decodes without one"),
    Point("answer parser", "label parser", "generation.label_parser", BOTH, "released", "project",
          'the release reads "positive!", "(positive)", "neutral-to-positive" as no label; ours finds one'),
    Point("label target", "label target format", "generation.label_format", BOTH, "bare", "quoted",
          'reference: "Prediction": neutral; ours quotes the label as the chain\'s own field does'),
    Point("label target", "target end token", "generation.target_end", BOTH, "pad", "end-of-turn",
          "the reference ends targets with the pad / end-of-text token; ours with the chat turn's end"),
    Point("label target", "label token budget", "generation.max_label_tokens", BOTH, 512, 10,
          "the reference lets the label prompt run to 512 new tokens; the answer needs fewer than 10"),
    Point("vocabulary", "vocabulary mismatch", "kd.vocab", ("student",), "resize", "shared-prefix",
          "reference: the student's embeddings resized to the assistant's size; ours: KL over the shared ids"),
    Point("vocabulary", "resized rows", "kd.vocab_init", ("student",), "mean", "zero",
          "reference: transformers 4.49's default draw (mean_resizing); ours: zeros"),
    Point("KD", "assistant's mode during KD", "kd.assistant_mode", ("student",), "lora-dropout", "eval",
          "the reference never calls .eval() on its frozen assistant, so its LoRA dropout stays on"),
)


def point_rows(resolved: list[tuple[str, Any, str]]) -> list[tuple[Point, str, Any, str]]:
    """(point, the field's full name, its value in effect, where it comes from) for every point and role."""
    by_name = {name: (value, source) for name, value, source in resolved}
    out: list[tuple[Point, str, Any, str]] = []
    for point in POINTS:
        for name in [f"{role}.{point.field}" for role in point.roles] or [point.field]:
            value, source = by_name.get(name, (None, "not in this config"))
            out.append((point, name, value, source))
    return out


def points_text(resolved: list[tuple[str, Any, str]], fmt: Any) -> list[str]:
    """The ``--print-config`` section: each point, its value, the reference's and ours, and where it comes from."""
    rows = point_rows(resolved)
    width = max(len(name) for _, name, _, _ in rows)
    lines = ["# reference protocol points (docs/protocol.md): value in effect | reference | project default"]
    for point, name, value, source in rows:
        side = "reference" if value == point.reference else "project" if value == point.ours else "other"
        side = "n/a" if value is None else side  # the model has no such setting
        lines.append(
            f"{name.ljust(width)} = {fmt(value):<16} # {side}; reference {fmt(point.reference)}, "
            f"project {fmt(point.ours)}; {point.gap}: {point.name}; from {source}"
        )
    return lines
