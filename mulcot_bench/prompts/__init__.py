"""Prompt templates: the reasoning and label prompts, and the teacher's predict and explain prompts.

Four shipped Jinja2 templates (``templates/<kind>.j2``), each covering post level (MVSA: the sentiment of the
post) and aspect level (Twitter: the sentiment toward ``sample.target``). A user may override any of them with
a template file of their own (``template=PATH``); it is rendered with the same variables:

==============  ==============================================================================
``text``        the post's text
``target``      the aspect (aspect level), else None
``level``       ``"post"`` or ``"aspect"``
``gold``        the gold label (``teacher_explain`` only), else None
``labels``      the label names, in the fixed order (``positive``, ``neutral``, ``negative``)
``fields``      the five field names of a reasoning chain, in order
``has_image``   whether the post has an image (models attach it; it is never in the text)
==============  ==============================================================================

Rendering runs in Jinja2's sandbox with undefined variables as errors; nothing in a template is evaluated
as Python. Only jinja2 is imported, and only on first use.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from mulcot_bench.errors import UserError
from mulcot_bench.labels import LABELS
from mulcot_bench.rationale import FIELDS
from mulcot_bench.types import Sample

KINDS: tuple[str, ...] = ("reasoning", "label", "teacher_predict", "teacher_explain")
LEVELS: tuple[str, ...] = ("post", "aspect")

__all__ = ["KINDS", "LEVELS", "render", "template_hash", "template_text"]


def _check(kind: str, level: str) -> None:
    if kind not in KINDS:
        raise UserError(f"unknown prompt kind {kind!r}; use one of {', '.join(KINDS)}")
    if level not in LEVELS:
        raise UserError(f"unknown prompt level {level!r}; use 'post' (MVSA) or 'aspect' (Twitter)")


def template_text(kind: str, level: str, template: str | Path | None = None) -> str:
    """The text of the template that :func:`render` uses for ``kind`` at ``level`` (shipped or ``template``)."""
    _check(kind, level)
    if template is None:
        return (files("mulcot_bench.prompts") / "templates" / f"{kind}.j2").read_text(encoding="utf-8")
    path = Path(template).expanduser()
    if not path.is_file():
        raise UserError(f"prompt template {path} for {kind!r} does not exist; pass the path of a .j2 file")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"prompt template {path} for {kind!r} cannot be read ({exc}); pass a UTF-8 text file") from exc


def template_hash(kind: str, level: str, template: str | Path | None = None) -> str:
    """sha256 of the template text :func:`render` uses: put it into a model's settings (its cache identity)."""
    return hashlib.sha256(template_text(kind, level, template).encode("utf-8")).hexdigest()


@lru_cache(maxsize=64)
def _compile(source: str, name: str) -> Any:
    from jinja2 import StrictUndefined, TemplateSyntaxError
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False
    )
    try:
        return env.from_string(source)
    except TemplateSyntaxError as exc:
        raise UserError(f"prompt template {name} line {exc.lineno}: {exc.message}; fix its Jinja2 syntax") from exc


def render_prompt(
    kind: str, sample: Sample, level: str, *, gold: str | None = None, template: str | Path | None = None
) -> str:
    """The prompt of ``kind`` for one sample (text only: a model attaches the image itself).

    ``kind``: ``reasoning`` (reply: the five-field chain), ``label`` (reply: ``"Prediction": <label>``),
    ``teacher_predict`` (the teacher's first pass), ``teacher_explain`` (explain why ``gold`` is right).
    ``level``: ``post`` or ``aspect``; at aspect level the sample must have a target.
    """
    _check(kind, level)
    if kind == "teacher_explain":
        if gold not in LABELS:
            raise ValueError(f"teacher_explain needs gold as one of {', '.join(LABELS)}, got {gold!r}")
    elif gold is not None:
        raise ValueError(f"gold is only used by the teacher_explain prompt, not {kind!r}")
    if level == "aspect" and not sample.target:
        raise UserError(f"sample {sample.id!r} has no target, which an aspect-level prompt needs")
    name = str(template) if template is not None else f"mulcot_bench/prompts/templates/{kind}.j2"
    compiled = _compile(template_text(kind, level, template), name)
    variables = {
        "text": sample.text,
        "target": sample.target if level == "aspect" else None,
        "level": level,
        "gold": gold,
        "labels": LABELS,
        "fields": FIELDS,
        "has_image": sample.image is not None,
    }
    from jinja2 import TemplateError

    try:
        out = compiled.render(**variables)
    except TemplateError as exc:
        raise UserError(f"prompt template {name} failed to render: {exc}; it may use: {', '.join(variables)}") from exc
    return out.strip() + "\n"


render = render_prompt  # the name before 0.2; plugins written against it keep working
