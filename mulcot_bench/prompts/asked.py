"""What a model was asked about one sample: the ``prompt`` record of each predictions line.

A model declares it through ``asked(card, sample) -> dict`` on its factory (see ``docs/plugins.md``); the record
is one of these shapes (``kind`` says which):

* ``template``: ``{"kind": "template", "prompts": {task: prompt_ref, ...}, "image": bool, ...}``: each
  ``prompt_ref`` (:func:`prompt_ref`) names the prompt set, the template kind, level and file override, the
  template's sha256 and the variables; :func:`render_ref` renders the exact text the model was given;
* ``input``: ``{"kind": "input", "inputs": {name: str | None}, "image": bool, "note": str}``: a model without
  a text prompt, with the exact strings it reads (an encoder pair, a feature text);
* ``replay``: ``{"kind": "replay", "key": content_hash, "note": str, ...}``: saved answers served, nothing asked;
* ``none``: ``{"kind": "none", "note": str}``: the model reads no part of the sample (majority class).

Light: only the prompts package (jinja2 on first render).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mulcot_bench.errors import UserError
from mulcot_bench.prompts import fill, prompt_variables, source, template_hash
from mulcot_bench.types import Sample

KINDS: tuple[str, ...] = ("template", "input", "replay", "none")

__all__ = ["KINDS", "asked_input", "asked_prompts", "prompt_ref", "render_ref"]


def prompt_ref(
    kind: str,
    sample: Sample,
    level: str,
    *,
    gold: str | None = None,
    template: str | Path | None = None,
    prompt_set: str = "project",
) -> dict[str, Any]:
    """The reference of the prompt :func:`~mulcot_bench.prompts.render_prompt` gives for the same arguments."""
    variables = prompt_variables(sample, level, gold)
    return {
        "set": str(prompt_set),
        "kind": kind,
        "level": level,
        "template": str(template) if template is not None else None,
        "sha256": template_hash(kind, level, template, prompt_set),
        "variables": {k: list(v) if isinstance(v, tuple) else v for k, v in variables.items()},
    }


def render_ref(ref: dict[str, Any]) -> str:
    """The exact prompt text of a :func:`prompt_ref` (as read back from JSON); the template must be unchanged."""
    kind, level, template, prompt_set = ref["kind"], ref["level"], ref.get("template"), ref["set"]
    digest = template_hash(kind, level, template, prompt_set)
    if digest != ref["sha256"]:
        where = template or f"prompt set {prompt_set!r}"
        raise UserError(f"the {kind} template of {where} changed since the prediction (sha256 {digest[:12]}, "
                        f"recorded {ref['sha256'][:12]}); it cannot be rendered as it was")
    text, syntax, name = source(kind, level, template, prompt_set)
    variables = {k: tuple(v) if isinstance(v, list) else v for k, v in ref["variables"].items()}
    return fill(text, syntax, name, variables)


def asked_prompts(prompts: dict[str, dict[str, Any]], image: bool, **extra: Any) -> dict[str, Any]:
    """A ``template`` record: the prompt references by task, whether the image was attached, and ``extra``."""
    return {"kind": "template", "prompts": prompts, "image": image, **extra}


def asked_input(inputs: dict[str, str | None], image: bool, note: str) -> dict[str, Any]:
    """An ``input`` record: the exact strings the model reads (no prompt), whether it reads the image, and how."""
    return {"kind": "input", "inputs": inputs, "image": image, "note": note}
