"""Reference rationales (MulCoT-RD teacher JSON) attached to TomBERT rows by (image, text, target, label)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

from mulcot_bench.data.text import read_json
from mulcot_bench.data.tomb import TombRow
from mulcot_bench.errors import UserError

Key = tuple[str, str, str, str]
_FIELDS = ("text", "label", "aspect", "image_path", "cot")


@dataclass
class Match:
    """How one split's rows met the reference chains."""

    unique: int = 0
    paired: int = 0
    unmatched: int = 0
    unused: int = 0

    @property
    def matched(self) -> int:
        return self.unique + self.paired

    def note(self, split: str, total: int) -> str:
        return (
            f"rationales {split}: {self.unique}/{total} rows matched a reference chain by "
            f"(image, text, target, label); {self.paired} more rows repeat an identical row and took its next "
            f"chain in file order; {self.unmatched} unmatched; {self.unused} reference chains unused"
        )


def read_rationales(path: Path) -> dict[Key, deque[str]]:
    """The chains of one teacher file by key, in file order; a malformed item raises naming it."""
    data = read_json(path)
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a JSON list of rationale objects, found {type(data).__name__}")
    refs: dict[Key, deque[str]] = {}
    for i, item in enumerate(data):
        if not isinstance(item, dict) or any(not isinstance(item.get(k), str) for k in _FIELDS):
            raise UserError(f"{path} item {i}: expected string fields {', '.join(_FIELDS)}; re-download the file")
        if item["label"] not in ("positive", "neutral", "negative"):
            raise UserError(f"{path} item {i}: label {item['label']!r} is not positive, neutral or negative")
        key = (item["image_path"], item["text"], item["aspect"], item["label"])
        refs.setdefault(key, deque()).append(item["cot"])
    return refs


def match(rows: list[TombRow], refs: dict[Key, deque[str]]) -> tuple[list[str | None], Match]:
    """One chain (or None) per row, and the counts; chains of repeated identical rows are paired in order."""
    seen: set[Key] = set()
    out: list[str | None] = []
    m = Match()
    for r in rows:
        key = (r.image, r.text, r.target, r.label)
        chains = refs.get(key)
        if not chains:
            out.append(None)
            m.unmatched += 1
            continue
        out.append(chains.popleft())
        if key in seen:
            m.paired += 1
        else:
            m.unique += 1
            seen.add(key)
    m.unused = sum(len(v) for v in refs.values())
    return out, m
