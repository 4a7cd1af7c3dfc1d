"""Prompt templates: the reasoning and label prompts, and the teacher's predict and explain prompts.

Two shipped prompt sets of four Jinja2 templates each, every template covering post level (MVSA: the sentiment
of the post) and aspect level (Twitter: the sentiment toward ``sample.target``):

* ``project`` (``templates/<kind>.j2``, the default): label definitions in every prompt;
* ``reference`` (``reference/<kind>.j2``): the released code's structure in our own words (a role line, the
  aspect note, the post given as text plus target aspect, no label definitions in the assistant/student
  prompts; definitions, a neutral rule and fixed field descriptions in the teacher's).

A set may also be a folder: ``<kind>.j2`` files of the user's own, or a copy of the MulCoT-RD release, whose
``templates/MASC|MSC/*.py`` are read as they are (:mod:`mulcot_bench.prompts.released`). A single template file
(``template=PATH``) overrides the set for its kind. A .j2 template is rendered with these variables:

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
from mulcot_bench.prompts import released
from mulcot_bench.rationale import FIELDS
from mulcot_bench.types import Sample

KINDS: tuple[str, ...] = ("reasoning", "label", "teacher_predict", "teacher_explain")
LEVELS: tuple[str, ...] = ("post", "aspect")
#: shipped prompt set -> its package folder
SETS: dict[str, str] = {"project": "templates", "reference": "reference"}

__all__ = ["KINDS", "LEVELS", "SETS", "fill", "prompt_digests", "prompt_variables", "refresh_digests", "render",
           "render_prompt", "source", "template_hash", "template_text"]


def _check(kind: str, level: str) -> None:
    if kind not in KINDS:
        raise UserError(f"unknown prompt kind {kind!r}; use one of {', '.join(KINDS)}")
    if level not in LEVELS:
        raise UserError(f"unknown prompt level {level!r}; use 'post' (MVSA) or 'aspect' (Twitter)")


def source(kind: str, level: str, template: str | Path | None, prompt_set: str) -> tuple[str, str, str]:
    """(text, syntax, name) of the template in use: syntax ``jinja`` (.j2) or ``release`` (str.format)."""
    _check(kind, level)
    if template is not None:
        path = Path(template).expanduser()
        if not path.is_file():
            raise UserError(f"prompt template {path} for {kind!r} does not exist; pass the path of a .j2 file")
        return _read(path, kind), "jinja", str(path)
    if prompt_set in SETS:
        name = f"mulcot_bench/prompts/{SETS[prompt_set]}/{kind}.j2"
        text = (files("mulcot_bench.prompts") / SETS[prompt_set] / f"{kind}.j2").read_text(encoding="utf-8")
        return text, "jinja", name
    folder = Path(prompt_set).expanduser()
    if not folder.is_dir():
        raise UserError(
            f"prompt set {prompt_set!r} is neither {' nor '.join(SETS)} nor a folder; pass a folder of <kind>.j2 "
            "files or a copy of the MulCoT-RD release"
        )
    if released.is_release(folder):
        path = released.release_file(folder, kind, level)
        return released.read_template(path, kind), "release", str(path)
    path = folder / f"{kind}.j2"
    if not path.is_file():
        raise UserError(f"prompt folder {folder} has no {kind}.j2 (nor templates/MASC|MSC of the release)")
    return _read(path, kind), "jinja", str(path)


def _read(path: Path, kind: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"prompt template {path} for {kind!r} cannot be read ({exc}); pass a UTF-8 text file") from exc


def template_text(kind: str, level: str, template: str | Path | None = None, prompt_set: str = "project") -> str:
    """The text of the template that :func:`render` uses for ``kind`` at ``level``: ``template`` if given, else
    the prompt set's (``project``, ``reference`` or a folder)."""
    return source(kind, level, template, prompt_set)[0]


def template_hash(kind: str, level: str, template: str | Path | None = None, prompt_set: str = "project") -> str:
    """sha256 of the template :func:`render` uses: put it into a model's settings (its cache identity).

    A release template's text is hashed with a ``release`` prefix (it is filled by ``str.format``, not Jinja2).
    """
    text, syntax, _ = source(kind, level, template, prompt_set)
    return hashlib.sha256(((syntax + "\0") if syntax != "jinja" else "").encode() + text.encode("utf-8")).hexdigest()


def prompt_digests(
    templates: dict[str, str | None], prompt_set: str = "project", kinds: tuple[str, ...] = ("reasoning", "label")
) -> dict[str, str]:
    """``{"kind:level": sha256}`` of the templates a model uses (``templates``: per-kind file overrides)."""
    return {
        f"{kind}:{level}": template_hash(kind, level, templates.get(kind), prompt_set=prompt_set)
        for kind in kinds
        for level in LEVELS
    }


def refresh_digests(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings whose template digests follow their prompt set (after an override), so the templates' content stays
    part of the cache identity: ``prompt_sha256`` after ``prompts`` / ``prompt_templates`` (the trained models), or
    a ``prompts`` table of ``kind:level`` digests after ``prompt_set`` / ``prompt_files`` (the endpoint models);
    other settings are returned as they are."""
    if "prompt_set" in settings and isinstance(settings.get("prompts"), dict):
        files = settings.get("prompt_files") or {}
        kinds = tuple(dict.fromkeys(name.partition(":")[0] for name in settings["prompts"]))
        digests = prompt_digests(files, str(settings["prompt_set"]), kinds)
        return {**settings, "prompts": digests}
    if "prompt_sha256" not in settings or "prompts" not in settings:
        return settings
    templates = settings.get("prompt_templates") or {}
    return {**settings, "prompt_sha256": prompt_digests(templates, str(settings["prompts"]))}


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
    kind: str,
    sample: Sample,
    level: str,
    *,
    gold: str | None = None,
    template: str | Path | None = None,
    prompt_set: str = "project",
) -> str:
    """The prompt of ``kind`` for one sample (text only: a model attaches the image itself).

    ``kind``: ``reasoning`` (reply: the five-field chain), ``label`` (reply: ``"Prediction": <label>``),
    ``teacher_predict`` (the teacher's first pass), ``teacher_explain`` (explain why ``gold`` is right).
    ``level``: ``post`` or ``aspect``; at aspect level the sample must have a target. ``prompt_set``: ``project``,
    ``reference`` or a folder (see the module docstring); ``template`` overrides it for this kind.
    """
    _check(kind, level)
    if kind == "teacher_explain":
        if gold not in LABELS:
            raise ValueError(f"teacher_explain needs gold as one of {', '.join(LABELS)}, got {gold!r}")
    elif gold is not None:
        raise ValueError(f"gold is only used by the teacher_explain prompt, not {kind!r}")
    if level == "aspect" and not sample.target:
        raise UserError(f"sample {sample.id!r} has no target, which an aspect-level prompt needs")
    text, syntax, name = source(kind, level, template, prompt_set)
    return fill(text, syntax, name, prompt_variables(sample, level, gold))


def prompt_variables(sample: Sample, level: str, gold: str | None = None) -> dict[str, Any]:
    """The variables a template is rendered with for one sample (see the module docstring)."""
    return {
        "text": sample.text,
        "target": sample.target if level == "aspect" else None,
        "level": level,
        "gold": gold,
        "labels": LABELS,
        "fields": FIELDS,
        "has_image": sample.image is not None,
    }


def fill(text: str, syntax: str, name: str, variables: dict[str, Any]) -> str:
    """A template's text (``syntax`` ``jinja`` or ``release``) rendered with ``variables``."""
    if syntax == "release":
        return released.fill(text, variables["text"], variables["target"], variables.get("gold"))
    compiled = _compile(text, name)
    from jinja2 import TemplateError

    try:
        out = compiled.render(**variables)
    except TemplateError as exc:
        raise UserError(f"prompt template {name} failed to render: {exc}; it may use: {', '.join(variables)}") from exc
    return out.strip() + "\n"
