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


#: the datasets whose rows the release's chain files describe (TomBERT rows: image, text, target, label)
IMPORTABLE = ("twitter2015", "twitter2017")


def import_rationales(folder: Path, source: Path, split: str = "train") -> list[str]:
    """Check a chain file in the release's format (its ``peft_*.json`` / ``original_data_*/train.json``: a list of
    objects with ``text``, ``aspect``, ``image_path``, ``label``, ``cot``) against ``split`` of the dataset in
    ``folder`` and copy it, byte for byte, to ``teacher_cot/<split>.json``, where the loader attaches each chain to
    its row. Returns the lines to print: rows matched by (image, text, target) with the same label, with another
    label (those rows keep their own label and get no chain), file items matching no row, rows left without a chain.
    """
    from mulcot_bench.atomic import write_bytes
    from mulcot_bench.data.tomb import read_tomb

    if not source.is_file():
        raise UserError(f"{source} does not exist; pass the release's chain file (e.g. data/T15/peft_*.json)")
    tsv = folder / f"{split}.tsv"
    if not tsv.is_file():
        raise UserError(f"{tsv} does not exist; fetch or import the dataset first (mulcot-bench datasets fetch ...)")
    refs = read_rationales(source)  # validates every item, one line naming the item
    rows, _ = read_tomb(tsv)
    labels: dict[tuple[str, str, str], set[str]] = {}
    for image, text, aspect, label in refs:
        labels.setdefault((image, text, aspect), set()).add(label)
    _, m = match(rows, {k: deque(v) for k, v in refs.items()})
    disagree = sum(
        1 for r in rows if r.label not in labels.get((r.image, r.text, r.target), {r.label}) and
        (r.image, r.text, r.target) in labels
    )  # fmt: skip
    items = sum(len(v) for v in refs.values())
    if m.matched == 0:
        raise UserError(
            f"{source}: none of its {items} items matches a row of {tsv} by (image, text, target, label); "
            f"is it the {split} split of {folder.name}?"
        )
    target = folder / "teacher_cot" / f"{split}.json"
    write_bytes(target, source.read_bytes())
    return [
        f"{source}: {items} chains in the release's format",
        f"{split}: {m.matched}/{len(rows)} rows matched by (image, text, target) with the same label "
        f"({m.paired} of them repeat an identical row and take its next chain in file order)",
        f"{split}: {disagree} rows matched by (image, text, target) with another label in the file: they keep their "
        "own label and train the label task only",
        f"{split}: {m.unmatched} rows without a chain (label task only); {m.unused} file chains matched no row",
        f"copied to {target}; `distill` trains on these chains as they are with teacher.chains = \"dataset\"",
    ]
