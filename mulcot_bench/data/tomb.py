"""The TomBERT TSV format of Twitter-2015/2017: ``index, label, image id, sentence with $T$, target``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mulcot_bench.data.text import read_text
from mulcot_bench.errors import UserError

TWITTER_LABELS = {"0": "negative", "1": "neutral", "2": "positive"}
COLUMNS = "index, label, image id, sentence, target"


@dataclass(frozen=True)
class TombRow:
    """One (tweet, target) row; ``text`` has the target filled in for ``$T$``."""

    line: int
    index: str
    label: str
    image: str
    text: str
    target: str


def read_tomb(path: Path) -> tuple[list[TombRow], list[int]]:
    """The rows of one TSV split and the line numbers of the blank lines skipped; a bad row raises naming its line."""
    lines = read_text(path).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    start = 1 if lines and lines[0].split("\t", 1)[0].strip().lower() == "index" else 0
    rows: list[TombRow] = []
    seen: dict[str, int] = {}
    blank: list[int] = []
    for i in range(start, len(lines)):
        line, lineno = lines[i].rstrip("\r"), i + 1
        if not line.strip():
            blank.append(lineno)
            continue
        rows.append(_row(path, lineno, line, seen))
    return rows, blank


def _row(path: Path, lineno: int, line: str, seen: dict[str, int]) -> TombRow:
    where = f"{path}:{lineno}"
    cols = line.split("\t")
    if len(cols) != 5:
        raise UserError(f"{where}: expected 5 tab-separated columns ({COLUMNS}), found {len(cols)}; fix the row")
    index, label, image, sentence, target = cols
    index, label, image = index.strip(), label.strip(), image.strip()
    if label not in TWITTER_LABELS:
        raise UserError(f"{where}: label {label!r} is not one of 0 (negative), 1 (neutral), 2 (positive)")
    if not sentence.strip():
        raise UserError(f"{where}: empty sentence; fix or remove the row")
    if not target.strip():
        raise UserError(f"{where}: empty target; fix or remove the row")
    if "$T$" not in sentence:
        raise UserError(f"{where}: the sentence has no $T$ placeholder for target {target!r}; fix the row")
    if not index:
        raise UserError(f"{where}: empty index; fix the row")
    if index in seen:
        raise UserError(f"{where}: duplicate index {index!r} (first at line {seen[index]}); give rows their own index")
    seen[index] = lineno
    text = sentence.replace("$T$", target)
    return TombRow(lineno, index, TWITTER_LABELS[label], image, text, target)
