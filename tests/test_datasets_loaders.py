"""Bad input to the real-dataset loaders: one clear UserError naming the file and row."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from mulcot_bench.data.images import MissingImagesError
from mulcot_bench.data.loaders import load_mvsa, load_twitter
from mulcot_bench.errors import UserError

HEADER = "index\t#1 Label\t#2 ImageID\t#3 String\t#3 String\n"
GOOD = ["1\t2\ta.jpg\t$T$ is great\tChuck", "2\t1\ta.jpg\tChuck is $T$\tgreat", "3\t0\tb.jpg\tsad $T$\tday"]


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (7, 5), (200, 10, 10)).save(buf, "JPEG")
    return buf.getvalue()


def _twitter(root: Path, train: list[str] | None = None, images: tuple[str, ...] = ("a.jpg", "b.jpg")) -> Path:
    folder = root / "tw"
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev", "test"):
        rows = train if split == "train" and train is not None else GOOD
        (folder / f"{split}.tsv").write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    for name in images:
        (folder / "images" / name).write_bytes(_jpeg())
    return folder


def _mvsa(root: Path, train: object = None) -> Path:
    folder = root / "mv"
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for i, split in enumerate(("train", "dev", "test")):
        rows = train if split == "train" and train is not None else [{"id": str(i), "text": "hi", "emotion_label": 0}]
        (folder / f"{split}.json").write_text(json.dumps(rows), encoding="utf-8")
        (folder / "images" / f"{i}.jpg").write_bytes(_jpeg())
    return folder


def test_good_twitter_fills_target_and_shares_images(tmp_path: Path) -> None:
    data = load_twitter(_twitter(tmp_path), "tw")
    assert [s.text for s in data.test] == ["Chuck is great", "Chuck is great", "sad day"]
    assert [s.label for s in data.test] == ["positive", "neutral", "negative"]
    assert data.test[0].image == data.test[1].image is not None
    assert data.stats["images_found_files"] == 2


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("4\t2\ta.jpg\t$T$ x", "train.tsv:5: expected 5 tab-separated columns"),
        ("4\t7\ta.jpg\t$T$ x\tt", "train.tsv:5: label '7' is not one of 0"),
        ("4\t2\ta.jpg\t  \tt", "train.tsv:5: empty sentence"),
        ("4\t2\ta.jpg\tno placeholder\tt", "train.tsv:5: the sentence has no $T$ placeholder"),
        ("1\t2\ta.jpg\t$T$ x\tt", "train.tsv:5: duplicate index '1' (first at line 2)"),
        ("4\t2\t../secret.jpg\t$T$ x\tt", "train.tsv:5: image reference '../secret.jpg' escapes"),
        ("4\t2\t/etc/passwd\t$T$ x\tt", "train.tsv:5: image reference '/etc/passwd' escapes"),
    ],
)
def test_bad_twitter_rows(tmp_path: Path, row: str, message: str) -> None:
    folder = _twitter(tmp_path, [*GOOD, row])
    with pytest.raises(UserError) as info:
        load_twitter(folder, "tw")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_non_utf8_names_line(tmp_path: Path) -> None:
    folder = _twitter(tmp_path)
    (folder / "dev.tsv").write_bytes(HEADER.encode() + b"1\t2\ta.jpg\t$T$ caf\xe9\tt\n")
    with pytest.raises(UserError, match=r"dev\.tsv:2: not UTF-8 \(byte 0xe9"):
        load_twitter(folder, "tw")


def test_blank_lines_are_counted(tmp_path: Path) -> None:
    data = load_twitter(_twitter(tmp_path, [GOOD[0], "", GOOD[2]]), "tw")
    assert data.stats["blank_lines_train"] == 1 and "skipped 1 blank lines" in " ".join(data.notes)


def test_missing_images_named_and_allowed(tmp_path: Path) -> None:
    folder = _twitter(tmp_path, images=("a.jpg",))
    with pytest.raises(MissingImagesError, match=r"3 of 9 samples \(1 image files\).*first missing: b\.jpg"):
        load_twitter(folder, "tw")
    data = load_twitter(folder, "tw", allow_missing_images=True)
    assert data.test[2].image is None and data.stats["images_missing_samples"] == 3


def test_symlink_outside_is_refused(tmp_path: Path) -> None:
    folder = _twitter(tmp_path, images=("a.jpg",))
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(_jpeg())
    (folder / "images" / "b.jpg").symlink_to(outside)
    with pytest.raises(UserError, match="outside the images folder"):
        load_twitter(folder, "tw")


def test_corrupt_image_named_by_verify_not_load(tmp_path: Path) -> None:
    from mulcot_bench.data.images import decode_errors

    folder = _twitter(tmp_path)
    (folder / "images" / "b.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    load_twitter(folder, "tw")  # loading does not decode
    bad = decode_errors(sorted((folder / "images").iterdir()))
    assert [p.name for p, _ in bad] == ["b.jpg"]


def test_good_mvsa(tmp_path: Path) -> None:
    data = load_mvsa(_mvsa(tmp_path), "mv")
    assert data.counts() == {"train": 1, "dev": 1, "test": 1} and data.train[0].label == "positive"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"id": "5", "text": "x", "emotion_label": 3}], "train.json item 0 (id 5): emotion_label 3 is not one of"),
        ([{"id": "5", "text": " ", "emotion_label": 1}], "train.json item 0 (id 5): empty text"),
        ([{"id": "5", "text": "x"}], "train.json item 0: missing emotion_label"),
        ([{"id": "5", "text": "a", "emotion_label": 1}] * 2, "train.json item 1: duplicate id '5' (first at item 0)"),
        ([{"id": "1", "text": "a", "emotion_label": 1}], "dev.json item 0 (id 1): id '1' is also in train.json"),
        ([{"id": "../x", "text": "a", "emotion_label": 1}], "image reference '../x.jpg' escapes"),
    ],
)
def test_bad_mvsa_items(tmp_path: Path, rows: list[dict], message: str) -> None:
    with pytest.raises(UserError) as info:
        load_mvsa(_mvsa(tmp_path, rows), "mv")
    assert message in str(info.value)


def test_truncated_json(tmp_path: Path) -> None:
    folder = _mvsa(tmp_path)
    (folder / "dev.json").write_text('[\n {"id": "1", "text": "hel', encoding="utf-8")
    with pytest.raises(UserError, match=r"dev\.json:2: truncated JSON"):
        load_mvsa(folder, "mv")
