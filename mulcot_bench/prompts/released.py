"""Prompt templates read from a copy of the MulCoT-RD release, as they are.

The release keeps each prompt as one Python module holding one string assignment (``<name>_template =
'''...'''``) filled with ``str.format`` placeholders ``{text}`` and ``{aspect}``, one folder per level:
``templates/MASC/`` (aspect level, Twitter) and ``templates/MSC/`` (post level, MVSA). The file is parsed with
:mod:`ast` and never executed; the string is used as it is (no whitespace trimmed). The placeholders are filled
by name, with no attribute access, conversion or format spec: ``{text}`` with the post, ``{aspect}`` with the
target (the release's ``template.format(**item)`` over its data items, ``src/dataset.py``), and, in the correction
prompt only, ``{label}`` with the gold label as the data names it (``positive``, ``neutral``, ``negative``).
"""

from __future__ import annotations

import ast
import string
from pathlib import Path

from mulcot_bench.errors import UserError

#: level -> the release's folder of that level's templates
LEVEL_FOLDERS: dict[str, str] = {"aspect": "MASC", "post": "MSC"}
#: prompt kind -> the release's module: the assistant/student training prompts (``peft_*``), the teacher's prompt
#: with definitions (``inference_cot``) and its correction prompt, which names the gold label (``inference_label``)
KIND_FILES: dict[str, str] = {
    "reasoning": "peft_cot.py",
    "label": "peft_label.py",
    "teacher_predict": "inference_cot.py",
    "teacher_explain": "inference_label.py",
}
PLACEHOLDERS: tuple[str, ...] = ("text", "aspect")
#: the kind whose template may also name the gold label
LABEL_KIND = "teacher_explain"


def is_release(folder: Path) -> bool:
    """Whether ``folder`` is a copy of the release (or its ``templates`` folder)."""
    return templates_root(folder) is not None


def templates_root(folder: Path) -> Path | None:
    """The folder holding ``MASC/`` and ``MSC/``: ``folder/templates`` or ``folder`` itself; None if neither."""
    for root in (folder / "templates", folder):
        if any((root / sub).is_dir() for sub in LEVEL_FOLDERS.values()):
            return root
    return None


def release_file(folder: Path, kind: str, level: str) -> Path:
    """The release's template file of ``kind`` at ``level``; a missing one is one line naming the path."""
    root = templates_root(folder)
    if root is None:
        raise UserError(f"prompt folder {folder} holds no templates/MASC or templates/MSC; pass the release's root")
    if kind not in KIND_FILES:
        raise UserError(
            f"prompt folder {folder}: the release has no {kind!r} prompt (it has {', '.join(KIND_FILES)}); "
            f"pass a template of your own for it"
        )
    path = root / LEVEL_FOLDERS[level] / KIND_FILES[kind]
    if not path.is_file():
        raise UserError(f"prompt template {path} ({kind}, {level} level) does not exist in the release copy {folder}")
    return path


def read_template(path: Path, kind: str = "reasoning") -> str:
    """The one string a release template module assigns (parsed, never run); ``kind`` says which placeholders
    it may use (:func:`allowed`)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, UnicodeDecodeError, SyntaxError) as exc:
        why = f"prompt template {path} cannot be read as a Python module ({exc}); pass the release's file"
        raise UserError(why) from None
    found = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ]
    if len(found) != 1:
        raise UserError(
            f"prompt template {path}: expected one string assignment (name_template = '''...'''), found {len(found)}"
        )
    text = found[0]
    check(text, str(path), allowed(kind))
    return text


def allowed(kind: str) -> tuple[str, ...]:
    """The placeholders a template of ``kind`` may use: ``{label}`` only in the correction prompt."""
    return (*PLACEHOLDERS, "label") if kind == LABEL_KIND else PLACEHOLDERS


def check(text: str, where: str, names: tuple[str, ...] = PLACEHOLDERS) -> None:
    """Only the placeholders ``names``, plain (doubled braces are literal, as in ``str.format``)."""
    listed = ", ".join(f"{{{n}}}" for n in names)
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise UserError(f"prompt template {where}: {exc}; use {listed} only") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in names or spec or conversion:
            raise UserError(f"prompt template {where}: placeholder {{{name}}} is not one of {listed}")


def fill(text: str, post: str, aspect: str | None, label: str | None = None) -> str:
    """The template with its placeholders filled (``text`` was checked by :func:`check`); ``label`` is the gold
    label of a correction prompt."""
    return text.format(text=post, aspect=aspect or "", label=label or "")
