"""The bad-input corpus (``tests/badinput/``): every file is one case with its expected message or counted skip.

``twitter/*.tsv`` replace the train split of a small TomBERT-format dataset, ``mvsa/*.json`` the train split
of a small CLMLF-format one, ``images/*`` replace one image of a good dataset, ``config/*.json`` are dataset
manifests. A case that raises must raise one line naming the file (and row) and saying what to do.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from mulcot_bench.data.loaders import load_mvsa, load_twitter
from mulcot_bench.errors import UserError

CORPUS = Path(__file__).parent / "badinput"
HEADER = "index\t#1 Label\t#2 ImageID\t#3 String\t#3 String\n"
GOOD_TSV = ["1\t2\ta.jpg\t$T$ is great\tChuck", "2\t1\ta.jpg\tChuck is $T$\tgreat", "3\t0\tb.jpg\tsad $T$\tday"]

TSV_ERRORS = {
    "wrong_columns.tsv": "train.tsv:5: expected 5 tab-separated columns (index, label, image id, sentence, target), "
    "found 4; fix the row",
    "truncated.tsv": "train.tsv:5: expected 5 tab-separated columns",
    "label_outside_map.tsv": "train.tsv:5: label '7' is not one of 0 (negative), 1 (neutral), 2 (positive)",
    "empty_sentence.tsv": "train.tsv:5: empty sentence; fix or remove the row",
    "empty_target.tsv": "train.tsv:5: empty target; fix or remove the row",
    "duplicate_index.tsv": "train.tsv:5: duplicate index '2' (first at line 3)",
    "image_dotdot.tsv": "train.tsv:5: image reference '../../secret.jpg' escapes the dataset folder; fix the row",
    "image_absolute.tsv": "train.tsv:5: image reference '/etc/passwd' escapes the dataset folder",
    "image_windows_absolute.tsv": "train.tsv:5: image reference 'C:\\\\Windows\\\\x.jpg' escapes the dataset folder",
    "non_utf8.tsv": "train.tsv:5: not UTF-8 (byte 0xe9 at offset",
}
JSON_ERRORS = {
    "truncated.json": "train.json:9: truncated JSON (Unterminated string",
    "invalid.json": "train.json:1: invalid JSON (Expecting value at column 48)",
    "zero_byte.json": "train.json: empty file, expected JSON; re-download or re-import it",
    "not_a_list.json": "train.json: expected a JSON list of posts, found dict",
    "item_not_object.json": "train.json item 1: expected an object with id, text, emotion_label, found str",
    "label_outside_map.json": "train.json item 1 (id 5): emotion_label 3 is not one of 0 (positive), 1 (neutral), "
    "2 (negative)",
    "label_as_string.json": "train.json item 1 (id 5): emotion_label 'positive' is not one of 0 (positive)",
    "empty_text.json": "train.json item 1 (id 5): empty text; fix or remove the post",
    "missing_field.json": "train.json item 1: missing emotion_label; each post needs id, text and emotion_label",
    "id_wrong_type.json": "train.json item 1: id ['5'] is not a non-empty string or integer",
    "id_dotdot.json": "train.json item 1 (id ../../x): image reference '../../x.jpg' escapes the dataset folder",
    "non_utf8.json": "train.json:1: not UTF-8 (byte 0xe9 at offset 25)",
}
IMAGE_PROBLEMS = {
    "zero_byte.jpg": "empty (zero-byte) file",
    "truncated.jpg": "truncated JPEG (no end-of-image marker)",
    "corrupt.jpg": "corrupt JPEG (marker 0x07 at byte 2)",
    "not_an_image.jpg": "not an image (unknown header 3c68746d6c3e3430)",
    "truncated.png": "truncated PNG (no IEND chunk)",
}
CONFIG_ERRORS = {
    "manifest_unknown_key.json": "manifest_unknown_key.json: unknown key 'files.0.sha265'; fix the manifest",
    "manifest_wrong_type.json": "manifest_wrong_type.json: key 'files.0.rows': input should be a valid integer, "
    "unable to parse string as an integer, got 'many'; fix the manifest",
    "manifest_missing_key.json": "manifest_missing_key.json: missing key 'label_map'; fix the manifest",
    "manifest_bad_value.json": "manifest_bad_value.json: key 'level': input should be 'post' or 'aspect', "
    "got 'sentence'",
    "manifest_not_json.json": "manifest_not_json.json:1: invalid JSON (Expecting value at column 34)",
}

DISTILL_ERRORS = {
    "distill_unknown_key.toml": "distill_unknown_key.toml: student.kd.lamda: unknown key",
    "distill_wrong_type.toml": "distill_wrong_type.toml: student.kd.lambda: Input should be a valid number, "
    "unable to parse string as a number (got 'a lot')",
    "distill_not_toml.toml": "distill_not_toml.toml: not valid TOML: Expected ']' at the end of a table declaration "
    "(at line 2, column 9)",
    "distill_extends_not_a_name.toml": "distill_extends_not_a_name.toml: extends: must be a profile name (a string)",
}


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (7, 5), (200, 10, 10)).save(buf, "JPEG")
    return buf.getvalue()


def _twitter(root: Path, train: Path | None = None, image_b: Path | None = None) -> Path:
    folder = root / "tw"
    (folder / "images").mkdir(parents=True)
    for split in ("train", "dev", "test"):
        (folder / f"{split}.tsv").write_text(HEADER + "\n".join(GOOD_TSV) + "\n", encoding="utf-8")
    if train is not None:
        shutil.copy(train, folder / "train.tsv")
    (folder / "images" / "a.jpg").write_bytes(_jpeg())
    (folder / "images" / "b.jpg").write_bytes(image_b.read_bytes() if image_b else _jpeg())
    return folder


def _mvsa(root: Path, train: Path) -> Path:
    folder = root / "mv"
    (folder / "images").mkdir(parents=True)
    for i, split in enumerate(("train", "dev", "test")):
        rows = [{"id": str(10 + i), "text": "hi", "emotion_label": 0}]
        (folder / f"{split}.json").write_text(json.dumps(rows), encoding="utf-8")
    shutil.copy(train, folder / "train.json")
    for name in ("0", "5", "11", "12"):
        (folder / "images" / f"{name}.jpg").write_bytes(_jpeg())
    return folder


def _one_line(exc: pytest.ExceptionInfo[UserError]) -> str:
    text = str(exc.value)
    assert "\n" not in text, text
    return text


def test_every_corpus_file_is_a_case() -> None:
    cases = {**TSV_ERRORS, **JSON_ERRORS, **IMAGE_PROBLEMS, **CONFIG_ERRORS, **DISTILL_ERRORS}
    expected = set(cases) | {"blank_lines.tsv", "long_text_100kb.tsv", "long_text_100kb.json", "good_progressive.jpg"}
    found = {p.name for p in CORPUS.rglob("*") if p.is_file() and p.name != "README.md"}
    assert found == expected


@pytest.mark.parametrize("case", sorted(TSV_ERRORS))
def test_bad_tsv(tmp_path: Path, case: str) -> None:
    with pytest.raises(UserError) as exc:
        load_twitter(_twitter(tmp_path, CORPUS / "twitter" / case), "tw")
    assert TSV_ERRORS[case] in _one_line(exc)


@pytest.mark.parametrize("case", sorted(JSON_ERRORS))
def test_bad_json(tmp_path: Path, case: str) -> None:
    with pytest.raises(UserError) as exc:
        load_mvsa(_mvsa(tmp_path, CORPUS / "mvsa" / case), "mv")
    assert JSON_ERRORS[case] in _one_line(exc)


def test_blank_lines_are_a_counted_skip(tmp_path: Path) -> None:
    data = load_twitter(_twitter(tmp_path, CORPUS / "twitter" / "blank_lines.tsv"), "tw")
    assert len(data.train) == 3 and data.stats["blank_lines_train"] == 2
    assert "train.tsv: skipped 2 blank lines (first at line 3)" in data.notes
    assert data.warnings == ["train.tsv: skipped 2 blank lines (first at line 3)"]


@pytest.mark.parametrize("case", ["long_text_100kb.tsv", "long_text_100kb.json"])
def test_100kb_text_is_kept_whole(tmp_path: Path, case: str) -> None:
    """A 100 KB text loads as it is: nothing is cut at load (models truncate to their own context)."""
    path = CORPUS / ("twitter" if case.endswith(".tsv") else "mvsa") / case
    if case.endswith(".tsv"):
        data = load_twitter(_twitter(tmp_path, path), "tw")
    else:
        data = load_mvsa(_mvsa(tmp_path, path), "mv")
    longest = max(data.train, key=lambda s: len(s.text))
    assert len(longest.text) >= 100 * 1024 and len(data.train) == (4 if case.endswith(".tsv") else 2)


@pytest.mark.parametrize("case", sorted(IMAGE_PROBLEMS))
def test_unreadable_image_is_a_counted_text_only_sample(tmp_path: Path, case: str) -> None:
    """An unreadable image file (b.jpg, one row per split) makes its samples text-only, counted and named."""
    data = load_twitter(_twitter(tmp_path, image_b=CORPUS / "images" / case), "tw")
    assert data.stats["images_unreadable_files"] == 1 and data.stats["images_unreadable_samples"] == 3
    assert data.stats["images_missing_samples"] == 0 and data.stats["images_found_files"] == 1
    assert [s.image is None for s in data.test] == [False, False, True]
    note = next(n for n in data.notes if "unreadable" in n)
    assert f"3 samples have an unreadable image file (1 files: b.jpg: {IMAGE_PROBLEMS[case]})" in note
    assert "text-only" in note


def test_whole_progressive_jpeg_is_readable(tmp_path: Path) -> None:
    data = load_twitter(_twitter(tmp_path, image_b=CORPUS / "images" / "good_progressive.jpg"), "tw")
    assert data.stats["images_unreadable_files"] == 0 and all(s.image for s in data.test)


def test_unreadable_images_are_what_verify_cannot_decode() -> None:
    """The cheap load-time checks agree with a full decode on every image of the corpus."""
    from mulcot_bench.data.images import decode_errors, image_problem

    paths = sorted((CORPUS / "images").iterdir())
    undecodable = {p.name for p, _ in decode_errors(paths)}
    flagged = {p.name for p in paths if image_problem(p.read_bytes())}
    assert flagged == undecodable == set(IMAGE_PROBLEMS)


@pytest.mark.parametrize("case", sorted(CONFIG_ERRORS))
def test_bad_manifest(case: str) -> None:
    from mulcot_bench.data.manifest import parse_manifest

    path = CORPUS / "config" / case
    with pytest.raises(UserError) as exc:
        parse_manifest(path.read_text(encoding="utf-8"), path.name)
    assert CONFIG_ERRORS[case] in _one_line(exc)


def test_good_manifest_still_loads() -> None:
    from mulcot_bench.data.manifest import load_manifest, manifest_names

    assert all(load_manifest(name).name == name for name in manifest_names())


@pytest.mark.parametrize("case", sorted(DISTILL_ERRORS))
def test_bad_distill_config(case: str) -> None:
    from mulcot_bench.distill.config import load_config

    with pytest.raises(UserError) as exc:
        load_config(path=CORPUS / "config" / case)
    assert DISTILL_ERRORS[case] in _one_line(exc)
