"""Loaders of the published formats of the four real datasets (TomBERT TSV, CLMLF JSON splits).

Bad rows raise one clear :class:`~mulcot_bench.errors.UserError` naming the file and row. Images are read
as bytes (never decoded here: ``mulcot-bench datasets verify`` decodes them) from ``images/`` under the
dataset folder; missing images are an error unless ``allow_missing_images=True``. What was found, matched
and skipped is returned in :attr:`LoadedSplits.notes` / ``stats`` for the run's dataset record.
"""

from __future__ import annotations

from pathlib import Path

from mulcot_bench.data.clmlf import MVSA_LABELS, read_clmlf
from mulcot_bench.data.images import ImageFolder
from mulcot_bench.data.loaded import LoadedSplits
from mulcot_bench.data.mvsa_raw import LABEL_FILE, load_mvsa_raw
from mulcot_bench.data.rationales import match, read_rationales
from mulcot_bench.data.tomb import TWITTER_LABELS, read_tomb
from mulcot_bench.errors import UserError
from mulcot_bench.types import Sample

__all__ = ["MVSA_LABELS", "TWITTER_LABELS", "load_mvsa", "load_twitter"]
SPLITS = ("train", "dev", "test")


def load_twitter(root: Path, name: str, allow_missing_images: bool = False) -> LoadedSplits:
    """Twitter-2015 / Twitter-2017 from TomBERT TSV files (aspect level), with teacher rationales if present."""
    images = ImageFolder(root)
    notes: list[str] = []
    warnings: list[str] = []
    stats: dict[str, int] = {}
    splits: dict[str, list[Sample]] = {}
    for split in SPLITS:
        path = root / f"{split}.tsv"
        rows, blank = read_tomb(path)
        if blank:
            warnings.append(f"{path.name}: skipped {len(blank)} blank lines (first at line {blank[0]})")
            notes.append(warnings[-1])
            stats[f"blank_lines_{split}"] = len(blank)
        chains: list[str | None] = [None] * len(rows)
        cot = root / "teacher_cot" / f"{split}.json"
        if cot.is_file():
            chains, m = match(rows, read_rationales(cot))
            notes.append(m.note(split, len(rows)))
            keys = ("unique", "paired", "unmatched", "unused")
            stats.update({f"rationales_{split}_{k}": getattr(m, k) for k in keys})
        samples = []
        for row, chain in zip(rows, chains, strict=True):
            where = f"{path}:{row.line}"
            image = images.read(row.image, where)
            samples.append(
                Sample(
                    id=f"{split}-{row.index}",
                    text=row.text,
                    label=row.label,
                    target=row.target,
                    image=image,
                    image_ref=f"{root.name}/images/{row.image}" if image is not None else None,
                    rationale=chain,
                    meta={"image_id": row.image},
                )
            )
        splits[split] = samples
    return _finish(name, "aspect", splits, images, allow_missing_images, notes, stats, warnings)


def load_mvsa(root: Path, name: str, allow_missing_images: bool = False) -> LoadedSplits:
    """MVSA-Single / MVSA-Multiple from the CLMLF 8:1:1 JSON splits (post level); images are ``<id>.jpg``.

    A folder with the raw MVSA release (``labelResultAll.txt`` and ``data/``) and no ``train.json`` is read by
    :func:`~mulcot_bench.data.mvsa_raw.load_mvsa_raw` instead: cleaned by the standard rule and split 8:1:1
    with seed 42.
    """
    if (root / LABEL_FILE).is_file() and not (root / "train.json").is_file():
        return load_mvsa_raw(root, name, allow_missing_images=allow_missing_images)
    images = ImageFolder(root)
    splits: dict[str, list[Sample]] = {}
    first_seen: dict[str, str] = {}
    for split in SPLITS:
        path = root / f"{split}.json"
        samples = []
        for row in read_clmlf(path):
            where = f"{path} item {row.item} (id {row.id})"
            if row.id in first_seen:
                raise UserError(f"{where}: id {row.id!r} is also in {first_seen[row.id]}; a post belongs to one split")
            first_seen[row.id] = path.name
            image_name = f"{row.id}.jpg"
            image = images.read(image_name, where)
            samples.append(
                Sample(
                    id=f"{split}-{row.id}",
                    text=row.text,
                    label=row.label,
                    image=image,
                    image_ref=f"{root.name}/images/{image_name}" if image is not None else None,
                    meta={"image_id": image_name},
                )
            )
        splits[split] = samples
    return _finish(name, "post", splits, images, allow_missing_images, [], {}, [])


def _finish(
    name: str,
    level: str,
    splits: dict[str, list[Sample]],
    images: ImageFolder,
    allow_missing: bool,
    notes: list[str],
    stats: dict[str, int],
    warnings: list[str],
) -> LoadedSplits:
    notes = images.check(name, allow_missing) + notes
    stats.update(
        samples=images.total_samples,
        images_missing_samples=images.missing_samples,
        images_missing_files=len(images.missing_names),
        images_found_files=images.files_found,
        images_unreadable_samples=images.unreadable_samples,
        images_unreadable_files=len(images.unreadable),
    )
    warnings = images.warnings + warnings
    train, dev, test = splits["train"], splits["dev"], splits["test"]
    return LoadedSplits(name, level, train, dev, test, notes, stats, warnings, images.modality)  # type: ignore[arg-type]
