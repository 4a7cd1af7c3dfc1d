"""Prompt templates read from a copy of the MulCoT-RD release, as they are.

The release keeps each prompt as one Python module holding one string assignment (``<name>_template =
'''...'''``) filled with ``str.format`` placeholders ``{text}`` and ``{aspect}``, one folder per level:
``templates/MASC/`` (aspect level, Twitter) and ``templates/MSC/`` (post level, MVSA). The file is parsed with
:mod:`ast` and never executed; the string is used as it is (no whitespace trimmed). Only the two placeholders
are filled, by name, with no attribute access, conversion or format spec.
"""

from __future__ import annotations

import ast
import string
from pathlib import Path

from mulcot_bench.errors import UserError

#: level -> the release's folder of that level's templates
LEVEL_FOLDERS: dict[str, str] = {"aspect": "MASC", "post": "MSC"}
#: prompt kind -> the release's module (the assistant/student training prompts; its teacher-style prompt with
#: definitions is ``inference_cot``). The release ships no correction (explain) prompt.
KIND_FILES: dict[str, str] = {
    "reasoning": "peft_cot.py",
    "label": "peft_label.py",
    "teacher_predict": "inference_cot.py",
}
PLACEHOLDERS: tuple[str, ...] = ("text", "aspect")


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


def read_template(path: Path) -> str:
    """The one string a release template module assigns (parsed, never run)."""
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
    check(text, str(path))
    return text


def check(text: str, where: str) -> None:
    """Only ``{text}`` and ``{aspect}`` placeholders, plain (doubled braces are literal, as in ``str.format``)."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise UserError(f"prompt template {where}: {exc}; use {{text}} and {{aspect}} only") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            raise UserError(f"prompt template {where}: placeholder {{{name}}} is not one of {{text}}, {{aspect}}")


def fill(text: str, post: str, aspect: str | None) -> str:
    """The template with its placeholders filled (``text`` was checked by :func:`check`)."""
    return text.format(text=post, aspect=aspect or "")
