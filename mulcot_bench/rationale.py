"""The five-field reasoning chain of MulCoT-RD: render, parse and check it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from mulcot_bench.labels import LABELS

FIELDS: tuple[str, ...] = (
    "Text_analysis",
    "Image_analysis",
    "Conflict_resolution",
    "Final_conclusion",
    "Prediction",
)

_FIELD_RE = re.compile(r'"(' + "|".join(FIELDS) + r')"\s*:')
_VALUE_TRIM = " \t\r\n,\"'`{}"
_LABEL_RE = re.compile(r"\b(" + "|".join(LABELS) + r")\b", re.I)


@dataclass(frozen=True)
class Chain:
    """A parsed reasoning chain: the fields found, in the order found."""

    fields: dict[str, str]
    order: tuple[str, ...]

    @property
    def valid(self) -> bool:
        """All five fields present, each once, in the fixed order."""
        return self.order == FIELDS

    @property
    def prediction(self) -> str | None:
        """The label named in the Prediction field, or None."""
        value = self.fields.get("Prediction")
        if value is None:
            return None
        found = _LABEL_RE.search(value)
        return found.group(1).lower() if found else None


def render_chain(fields: dict[str, str]) -> str:
    """Write a chain with every field of :data:`FIELDS`, as ``"Field": "value"`` blocks."""
    missing = [name for name in FIELDS if name not in fields]
    if missing:
        raise ValueError(f"rationale is missing fields: {', '.join(missing)}")
    return "\n\n".join(f'"{name}": "{fields[name]}"' for name in FIELDS)


def parse(text: str) -> Chain:
    """Read the fields of a chain; tolerant of missing quotes and extra text."""
    fields: dict[str, str] = {}
    order: list[str] = []
    text = text or ""
    matches = list(_FIELD_RE.finditer(text))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        name = match.group(1)
        order.append(name)
        fields.setdefault(name, text[match.end() : end].strip(_VALUE_TRIM))
    return Chain(fields=fields, order=tuple(order))


def parse_label(text: str | None) -> str | None:
    """Answer parsing of the reference: the first label after "Prediction", else the last label, else None."""
    if not text:
        return None
    at = text.find("Prediction")
    if at >= 0:
        found = _LABEL_RE.search(text, at)
        if found:
            return found.group(1).lower()
    found_all = _LABEL_RE.findall(text)
    return found_all[-1].lower() if found_all else None


_SEPARATORS = re.compile(r"[\"'\n.\s:,]")


def _label_words(text: str) -> list[str]:
    """The words of ``text`` that are exactly a label, once lowercased and split on quotes, dots, colons, commas
    and white space (so ``positive!``, ``(positive)`` and ``neutral-to-positive`` are no label)."""
    return [w for w in _SEPARATORS.sub(" ", text.lower()).split(" ") if w in LABELS]


def parse_label_released(text: str | None) -> str | None:
    """The released code's answer parser: the first label word after "Prediction" (case kept in the search), else,
    when "Prediction" is absent, the last label word; None (scored wrong) when that finds no label word. A label
    word is a whole word between the separators of :func:`_label_words`; unlike :func:`parse_label` a reply whose
    text after "Prediction" has no label word does not fall back to the words before it."""
    if not text:
        return None
    at = text.find("Prediction")
    if at >= 0:
        words = _label_words(text[at + len("Prediction") :])
        return words[0] if words else None
    words = _label_words(text)
    return words[-1] if words else None


#: setting ``label_parser`` -> the function that reads a label reply: "project" reads a label word anywhere
#: (word boundaries, so "positive!" counts), "released" is the released code's exact rule
LABEL_PARSERS = {"project": parse_label, "released": parse_label_released}


def label_parser(name: str) -> Callable[[str | None], str | None]:
    """The parser a ``label_parser`` setting names; an unknown name is a ValueError listing the choices."""
    if name not in LABEL_PARSERS:
        raise ValueError(f"label_parser={name!r}; use one of {', '.join(LABEL_PARSERS)}")
    return LABEL_PARSERS[name]
