"""The raw MVSA release (MCRLab) as a source of MVSA-Single / MVSA-Multiple, cleaned and split here.

Layout of a dataset folder::

    labelResultAll.txt   header line, then ``ID<TAB>text,image`` (Single: one annotator)
                         or ``ID<TAB>text,image<TAB>text,image<TAB>text,image`` (Multiple: three annotators)
    data/<id>.txt        the post's text (not always UTF-8)
    data/<id>.jpg        the post's image

Cleaning follows the standard rule. With several annotators, each modality first takes the label that a
majority of them gave (the post is dropped when no majority exists on a modality). The (text, image) pair
is then merged: equal labels stay; neutral with positive or negative gives the polar label; positive with
negative is a conflict and the post is dropped. Posts whose text file is missing or empty are dropped as
well. Every drop is counted by reason in :attr:`LoadedSplits.stats` and in the notes.

Split: the kept ids are sorted numerically, shuffled with ``random.Random(seed)`` (default seed 42) and cut
train/dev/test 8:1:1 in that order (dev and test get ``n // 10`` each, train the rest), so the same release
and seed give the same splits on every machine.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mulcot_bench.data.images import ImageFolder, check_reference
from mulcot_bench.data.loaded import LoadedSplits
from mulcot_bench.data.text import read_text
from mulcot_bench.errors import UserError
from mulcot_bench.types import Sample

__all__ = ["DEFAULT_SEED", "LABEL_FILE", "MERGE", "load_mvsa_raw", "majority", "merge", "read_label_file"]

LABEL_FILE = "labelResultAll.txt"
DATA_FOLDER = "data"
DEFAULT_SEED = 42
LABELS = ("positive", "neutral", "negative")
EXPECTED_ANNOTATORS = {"mvsa_single": 1, "mvsa_multiple": 3}
DROP_REASONS = ("no_majority", "conflicting_modalities", "missing_text", "empty_text")
_BOM = b"\xef\xbb\xbf"

# (text label, image label) -> post label; (positive, negative) and (negative, positive) are conflicts.
MERGE: dict[tuple[str, str], str] = {
    ("positive", "positive"): "positive",
    ("positive", "neutral"): "positive",
    ("neutral", "positive"): "positive",
    ("neutral", "neutral"): "neutral",
    ("neutral", "negative"): "negative",
    ("negative", "neutral"): "negative",
    ("negative", "negative"): "negative",
}


@dataclass(frozen=True)
class RawItem:
    """One row of ``labelResultAll.txt``: the post id and each annotator's (text, image) labels."""

    line: int
    id: str
    votes: tuple[tuple[str, str], ...]


def majority(labels: list[str] | tuple[str, ...]) -> str | None:
    """The label given by more than half of the annotators, else None (one annotator: their label)."""
    if not labels:
        return None
    label, count = Counter(labels).most_common(1)[0]
    return label if 2 * count > len(labels) else None


def merge(text: str, image: str) -> str | None:
    """The post label of a (text, image) pair by the standard table; None for positive/negative conflicts."""
    return MERGE.get((text, image))


def _sort_key(pid: str) -> tuple[int, int, str]:
    return (0, int(pid), "") if pid.isdigit() else (1, 0, pid)


def read_label_file(path: Path) -> list[RawItem]:
    """The rows of a ``labelResultAll.txt``; a malformed row raises naming the file and line."""
    items: list[RawItem] = []
    seen: dict[str, int] = {}
    width: int | None = None
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        cells = [c.strip() for c in line.split("\t")]
        if number == 1 and cells[0].lower() == "id":
            continue  # the header
        where = f"{path}:{number}"
        pid, columns = cells[0], cells[1:]
        if not pid or any(ch.isspace() for ch in pid):
            raise UserError(f"{where}: post id {pid!r} is empty or holds whitespace; fix the row")
        if not columns:
            raise UserError(f"{where}: expected ID then tab-separated text,image labels, found {line!r}")
        if width is None:
            width = len(columns)
        elif len(columns) != width:
            raise UserError(f"{where}: {len(columns)} annotators, but the first row has {width}; fix the row")
        votes = []
        for cell in columns:
            pair = tuple(p.strip().lower() for p in cell.split(","))
            if len(pair) != 2 or any(p not in LABELS for p in pair):
                raise UserError(f"{where}: {cell!r} is not 'text,image' with labels positive, neutral or negative")
            votes.append((pair[0], pair[1]))
        if pid in seen:
            raise UserError(f"{where}: duplicate id {pid!r} (first at line {seen[pid]}); remove one")
        seen[pid] = number
        items.append(RawItem(number, pid, tuple(votes)))
    if not items:
        raise UserError(f"{path}: no labelled posts; re-download the MVSA release")
    return items


def _decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding that read it: UTF-8 first, then cp1252, then latin-1 (never fails)."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1"), "latin-1"


@dataclass
class _TextFolder:
    """The post texts ``data/<id>.txt``, read only inside the data folder."""

    root: Path

    def __post_init__(self) -> None:
        self.real_root = self.root.resolve() if self.root.is_dir() else None
        self.repaired: Counter[str] = Counter()
        self.first_repaired: str | None = None

    def read(self, pid: str, where: str) -> str | None:
        """The post text with trailing whitespace stripped, or None when the file is missing."""
        name = f"{pid}.txt"
        check_reference(name, where)
        path = self.root / name
        if self.real_root is None or not path.is_file():
            return None
        real = path.resolve()
        if not real.is_relative_to(self.real_root):
            raise UserError(f"{where}: text {path} links to {real}, outside the data folder; copy the file instead")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UserError(f"{path}: cannot read ({exc.strerror}); check the file and its permissions") from exc
        text, encoding = _decode(data)
        if encoding != "utf-8":
            self.repaired[encoding] += 1
            self.first_repaired = self.first_repaired or name
        return text.rstrip()


@dataclass
class _Cleaned:
    """The posts the cleaning kept, in id order, with the drops by reason and the kept labels counted."""

    kept: list[tuple[RawItem, str, str, str, str]] = field(default_factory=list)  # item, text, label, text/image label
    drops: Counter[str] = field(default_factory=Counter)
    merged: Counter[str] = field(default_factory=Counter)

    @property
    def dropped(self) -> int:
        return sum(self.drops.values())


def load_mvsa_raw(
    folder: Path, name: str, seed: int = DEFAULT_SEED, allow_missing_images: bool = False
) -> LoadedSplits:
    """MVSA-Single / MVSA-Multiple (post level) from the raw release: cleaned, then split 8:1:1 by ``seed``."""
    label_path = folder / LABEL_FILE
    items = read_label_file(label_path)
    annotators = _annotators(items, name, label_path)
    texts = _TextFolder(folder / DATA_FOLDER)
    cleaned = _clean(items, texts, label_path)
    cuts = _cut(len(cleaned.kept), seed)
    images = ImageFolder(folder, folder=DATA_FOLDER, shared=True)
    splits = {split: _samples(split, cuts[split], cleaned, images, label_path) for split in ("train", "dev", "test")}
    notes = images.check(name, allow_missing_images)
    reasons = ", ".join(f"{cleaned.drops[r]} {r.replace('_', ' ')}" for r in DROP_REASONS)
    notes.append(
        f"{LABEL_FILE}: {len(items)} posts, {annotators} annotator(s) each; kept {len(cleaned.kept)}, dropped "
        f"{cleaned.dropped} ({reasons}); labels {', '.join(f'{cleaned.merged[lab]} {lab}' for lab in LABELS)}"
    )
    warnings = list(images.warnings)
    repaired = _repaired_note(texts)
    if repaired:
        warnings.append(repaired)
        notes.append(repaired)
    notes.append(
        f"split: ids sorted numerically, shuffled with random.Random({seed}), cut 8:1:1 -> "
        f"train {len(splits['train'])} / dev {len(splits['dev'])} / test {len(splits['test'])}"
    )
    stats = _stats(len(items), annotators, cleaned, texts, images, seed)
    train, dev, test = splits["train"], splits["dev"], splits["test"]
    return LoadedSplits(name, "post", train, dev, test, notes, stats, warnings, images.modality)


def _annotators(items: list[RawItem], name: str, label_path: Path) -> int:
    """The annotators per post; a count that is not the dataset's (the other MVSA release) raises."""
    annotators = len(items[0].votes)
    expected = EXPECTED_ANNOTATORS.get(name)
    if expected is not None and annotators != expected:
        raise UserError(
            f"{label_path}: {annotators} annotator(s) per post, but {name} has {expected}; "
            "is this the other MVSA release?"
        )
    return annotators


def _clean(items: list[RawItem], texts: _TextFolder, label_path: Path) -> _Cleaned:
    """The standard cleaning, posts in numeric id order: majority per modality, merged pair, a non-empty text."""
    out = _Cleaned()
    for item in sorted(items, key=lambda i: _sort_key(i.id)):
        where = f"{label_path}:{item.line} (id {item.id})"
        text_label = majority([t for t, _ in item.votes])
        image_label = majority([i for _, i in item.votes])
        if text_label is None or image_label is None:
            out.drops["no_majority"] += 1
            continue
        label = merge(text_label, image_label)
        if label is None:
            out.drops["conflicting_modalities"] += 1
            continue
        text = texts.read(item.id, where)
        if text is None:
            out.drops["missing_text"] += 1
            continue
        if not text.strip():
            out.drops["empty_text"] += 1
            continue
        out.merged[label] += 1
        out.kept.append((item, text, label, text_label, image_label))
    return out


def _cut(n: int, seed: int) -> dict[str, list[int]]:
    """Positions of the kept posts per split: shuffled with ``random.Random(seed)``, cut train/dev/test 8:1:1."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    n_train = n - 2 * (n // 10)
    n_dev = n // 10
    return {"train": order[:n_train], "dev": order[n_train : n_train + n_dev], "test": order[n_train + n_dev :]}


def _samples(split: str, indices: list[int], cleaned: _Cleaned, images: ImageFolder, label_path: Path) -> list[Sample]:
    """The samples of one split in numeric id order, each with its image where it is found."""
    dataset = images.dataset_root.name
    samples = []
    for index in sorted(indices, key=lambda k: _sort_key(cleaned.kept[k][0].id)):
        item, text, label, text_label, image_label = cleaned.kept[index]
        image_name = f"{item.id}.jpg"
        image = images.read(image_name, f"{label_path}:{item.line} (id {item.id})")
        samples.append(
            Sample(
                id=f"{split}-{item.id}",
                text=text,
                label=label,
                image=image,
                image_ref=f"{dataset}/{DATA_FOLDER}/{image_name}" if image is not None else None,
                meta={"image_id": image_name, "text_label": text_label, "image_label": image_label},
            )
        )
    return samples


def _repaired_note(texts: _TextFolder) -> str | None:
    """The warning for the text files that were not UTF-8 (None when all were)."""
    repaired = sum(texts.repaired.values())
    if not repaired:
        return None
    how = ", ".join(f"{n} as {enc}" for enc, n in sorted(texts.repaired.items()))
    first = f", first: {texts.first_repaired}" if texts.first_repaired else ""
    return f"{DATA_FOLDER}/*.txt: {repaired} text files were not UTF-8 and were decoded ({how}{first})"


def _stats(
    raw_posts: int, annotators: int, cleaned: _Cleaned, texts: _TextFolder, images: ImageFolder, seed: int
) -> dict[str, int]:
    """The loader's counts (:attr:`LoadedSplits.stats`): cleaning, text repairs, split seed and images."""
    return {
        "raw_posts": raw_posts,
        "annotators": annotators,
        "kept": len(cleaned.kept),
        "dropped": cleaned.dropped,
        **{f"dropped_{r}": cleaned.drops[r] for r in DROP_REASONS},
        **{f"label_{lab}": cleaned.merged[lab] for lab in LABELS},
        "text_repaired": sum(texts.repaired.values()),
        "text_repaired_cp1252": texts.repaired["cp1252"],
        "text_repaired_latin1": texts.repaired["latin-1"],
        "split_seed": seed,
        "samples": images.total_samples,
        "images_missing_samples": images.missing_samples,
        "images_missing_files": len(images.missing_names),
        "images_found_files": images.files_found,
        "images_unreadable_samples": images.unreadable_samples,
        "images_unreadable_files": len(images.unreadable),
    }
