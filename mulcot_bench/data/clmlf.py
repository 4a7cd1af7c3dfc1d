"""The CLMLF JSON splits of MVSA-Single/Multiple: a list of ``{"id", "text", "emotion_label"}``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mulcot_bench.data.text import read_json
from mulcot_bench.errors import UserError

MVSA_LABELS = {0: "positive", 1: "neutral", 2: "negative"}


@dataclass(frozen=True)
class ClmlfRow:
    """One post: its id (also its image name ``<id>.jpg``), text and label name."""

    item: int
    id: str
    text: str
    label: str


def read_clmlf(path: Path) -> list[ClmlfRow]:
    """The posts of one JSON split; a bad item raises naming the file and item number."""
    data = read_json(path)
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a JSON list of posts, found {type(data).__name__}")
    rows: list[ClmlfRow] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(data):
        row = _row(path, i, item)
        if row.id in seen:
            raise UserError(f"{path} item {i}: duplicate id {row.id!r} (first at item {seen[row.id]}); remove one")
        seen[row.id] = i
        rows.append(row)
    return rows


def _row(path: Path, i: int, item: object) -> ClmlfRow:
    where = f"{path} item {i}"
    if not isinstance(item, dict):
        raise UserError(f"{where}: expected an object with id, text, emotion_label, found {type(item).__name__}")
    missing = [k for k in ("id", "text", "emotion_label") if k not in item]
    if missing:
        raise UserError(f"{where}: missing {', '.join(missing)}; each post needs id, text and emotion_label")
    pid, text, label = item["id"], item["text"], item["emotion_label"]
    if isinstance(pid, bool) or not isinstance(pid, str | int) or not str(pid).strip():
        raise UserError(f"{where}: id {pid!r} is not a non-empty string or integer")
    where = f"{where} (id {pid})"
    if isinstance(label, bool) or label not in MVSA_LABELS:
        raise UserError(f"{where}: emotion_label {label!r} is not one of 0 (positive), 1 (neutral), 2 (negative)")
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"{where}: empty text; fix or remove the post")
    return ClmlfRow(i, str(pid).strip(), text, MVSA_LABELS[label])
