"""Saved chains indexed by sample content: (text, target, image), never by id.

An image is named in a file either by its file name (as in the dataset's ``images/`` folder, the
MulCoT-RD ``image_path``) or by the sha256 of its bytes; a sample is looked up under both (the sha256 of
``Sample.image``, and its file name from ``meta["image_id"]`` or ``image_ref``). Text and target are
compared with runs of white space collapsed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mulcot_bench.plugin import LABELS, Sample, UserError, read_rationales, read_text

Key = tuple[str, str, str]
_SHA = re.compile(r"[0-9a-f]{64}")


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


def _image_key(value: str | None) -> str:
    if not value:
        return "none"
    value = value.strip()
    if _SHA.fullmatch(value.lower()):
        return f"sha256:{value.lower()}"
    return f"name:{PurePosixPath(value.replace(chr(92), '/')).name}"


def sample_keys(sample: Sample) -> list[Key]:
    """Where a sample's chains may be filed: by image content hash, then by image file name (also when the image
    file is missing and the run is text-only: the post still names it), else under no image."""
    text, target = _norm(sample.text), _norm(sample.target)
    name = sample.meta.get("image_id") or (sample.image_ref or "")
    if sample.image is None:
        return [(text, target, "none"), *([(text, target, _image_key(name))] if name else [])]
    keys = [(text, target, f"sha256:{hashlib.sha256(sample.image).hexdigest()}")]
    if name:
        keys.append((text, target, _image_key(name)))
    return keys


@dataclass(frozen=True)
class Record:
    """One saved chain and where it came from (``file:line`` or ``file item N``)."""

    chain: str
    label: str | None
    where: str


class ReplayIndex:
    """Chains by content key, in file order."""

    def __init__(self) -> None:
        self._by_key: dict[Key, list[Record]] = {}
        self.counts: dict[str, int] = {}

    def add(self, key: Key, record: Record) -> None:
        self._by_key.setdefault(key, []).append(record)

    def lookup(self, sample: Sample) -> list[Record]:
        out: list[Record] = []
        for key in sample_keys(sample):
            out.extend(r for r in self._by_key.get(key, ()) if r not in out)
        return out

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_key.values())

    def load(self, path: Path) -> int:
        """Add every chain of one file (``.jsonl``: one object per line; else a MulCoT-RD JSON list)."""
        before = len(self)
        records = _jsonl(path) if path.suffix.lower() == ".jsonl" else _mulcot_json(path)
        for key, record in records:
            self.add(key, record)
        self.counts[str(path)] = len(self) - before
        return self.counts[str(path)]


def _mulcot_json(path: Path) -> Iterator[tuple[Key, Record]]:
    """The MulCoT-RD teacher JSON: ``text``, ``label``, ``aspect``, ``image_path``, ``cot`` per item."""
    for (image, text, aspect, label), chains in read_rationales(path).items():
        for n, chain in enumerate(chains):
            yield (_norm(text), _norm(aspect), _image_key(image)), Record(chain, label, f"{path} ({image}, #{n + 1})")


def _jsonl(path: Path) -> Iterator[tuple[Key, Record]]:
    """JSONL: ``{"text", "target", "image" (file name or sha256), "label"?, "rationale"}`` per line.

    ``gold`` is read as the label and ``cot`` as the rationale when those are absent, so a predictions file
    of a run (``runs/<id>/predictions/<dataset>/<model>.jsonl``) replays as it is.
    """
    for lineno, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{where}: not JSON ({exc.msg}); one JSON object per line") from None
        if not isinstance(row, dict):
            raise UserError(f"{where}: expected a JSON object, found {type(row).__name__}")
        chain = row.get("rationale", row.get("cot"))
        label = row.get("label", row.get("gold"))
        if not isinstance(row.get("text"), str) or not isinstance(chain, str | None):
            raise UserError(f"{where}: needs a string 'text' and a string 'rationale'")
        if chain is None or not chain.strip():
            continue  # a row without a chain (e.g. an invalid prediction) serves nothing
        if label is not None and label not in LABELS:
            raise UserError(f"{where}: label {label!r} is not one of {', '.join(LABELS)}")
        for name in ("target", "image"):
            if row.get(name) is not None and not isinstance(row[name], str):
                raise UserError(f"{where}: {name!r} must be a string or null")
        key = (_norm(row["text"]), _norm(row.get("target")), _image_key(row.get("image")))
        yield key, Record(chain, label, where)
