"""Loaders of the published formats of the four real datasets (TomBERT TSV, CLMLF JSON splits).

Bad rows raise one clear error naming the file and row. Images are read from ``images/`` under the
dataset folder when present; samples without an image are counted in the dataset's notes.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from mulcot_bench.errors import UserError
from mulcot_bench.types import Sample, Splits

TWITTER_LABELS = {"0": "negative", "1": "neutral", "2": "positive"}
MVSA_LABELS = {0: "positive", 1: "neutral", 2: "negative"}


def _image(folder: Path, name: str, where: str) -> tuple[bytes | None, str | None]:
    """The bytes of an image under ``folder/images`` (None if absent); refuses paths that escape it."""
    images = folder / "images"
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise UserError(f"{where}: image reference {name!r} escapes the dataset folder; fix the row")
    path = images / name
    if not path.is_file():
        return None, None
    return path.read_bytes(), f"{folder.name}/images/{name}"


def _twitter_split(folder: Path, split: str) -> list[Sample]:
    path = folder / f"{split}.tsv"
    samples = []
    with path.open(encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(rows, None)
        for lineno, row in enumerate(rows, start=2):
            where = f"{path}:{lineno}"
            if len(row) != 5:
                raise UserError(f"{where}: expected 5 tab-separated columns, found {len(row)}; fix or remove the row")
            index, label, image_id, sentence, target = row
            if label not in TWITTER_LABELS:
                raise UserError(f"{where}: label {label!r} is not one of 0, 1, 2")
            if "$T$" not in sentence:
                raise UserError(f"{where}: the sentence has no $T$ placeholder for target {target!r}")
            image, ref = _image(folder, image_id, where)
            samples.append(
                Sample(
                    id=f"{split}-{index}",
                    text=sentence.replace("$T$", target),
                    label=TWITTER_LABELS[label],
                    target=target,
                    image=image,
                    image_ref=ref,
                )
            )
    return samples


def _mvsa_split(folder: Path, split: str) -> list[Sample]:
    path = folder / f"{split}.json"
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc}); re-download or re-import the file") from exc
    samples = []
    for i, row in enumerate(rows):
        where = f"{path} item {i}"
        if row.get("emotion_label") not in MVSA_LABELS:
            raise UserError(f"{where}: emotion_label {row.get('emotion_label')!r} is not one of 0, 1, 2")
        image, ref = _image(folder, f"{row['id']}.jpg", where)
        samples.append(
            Sample(
                id=f"{split}-{row['id']}",
                text=row["text"],
                label=MVSA_LABELS[row["emotion_label"]],
                image=image,
                image_ref=ref,
            )
        )
    return samples


def load_twitter(root: Path, name: str) -> Splits:
    """Twitter-2015 / Twitter-2017 from TomBERT TSV files (aspect level)."""
    return Splits(name, "aspect", *(_twitter_split(root, s) for s in ("train", "dev", "test")))


def load_mvsa(root: Path, name: str) -> Splits:
    """MVSA-Single / MVSA-Multiple from the CLMLF 8:1:1 JSON splits (post level)."""
    return Splits(name, "post", *(_mvsa_split(root, s) for s in ("train", "dev", "test")))
