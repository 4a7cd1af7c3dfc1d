"""The raw MVSA release: majority vote, text/image merge, drops by reason, text repair, seeded 8:1:1 split."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import pytest
from PIL import Image

from mulcot_bench.data.images import MissingImagesError
from mulcot_bench.data.loaders import load_mvsa
from mulcot_bench.data.mvsa_raw import load_mvsa_raw, majority, merge
from mulcot_bench.errors import UserError

POS, NEU, NEG = "positive", "neutral", "negative"
PAIRS = list(itertools.product((POS, NEU, NEG), repeat=2))
EXPECTED = {
    (POS, POS): POS,
    (POS, NEU): POS,
    (NEU, POS): POS,
    (NEU, NEU): NEU,
    (NEU, NEG): NEG,
    (NEG, NEU): NEG,
    (NEG, NEG): NEG,
    (POS, NEG): None,
    (NEG, POS): None,
}


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 3), (10, 200, 10)).save(buf, "JPEG")
    return buf.getvalue()


JPEG = _jpeg()


def _release(
    root: Path,
    rows: dict[str, list[tuple[str, str]]],
    texts: dict[str, bytes] | None = None,
    no_text: tuple[str, ...] = (),
    no_image: tuple[str, ...] = (),
) -> Path:
    """A raw release: ``rows`` maps id -> annotators' (text, image) labels; text defaults to ``post <id>``."""
    folder = root / "mvsa"
    (folder / "data").mkdir(parents=True, exist_ok=True)
    width = len(next(iter(rows.values())))
    lines = ["ID" + "\ttext,image" * width]
    lines += [pid + "".join(f"\t{t},{i}" for t, i in votes) for pid, votes in rows.items()]
    (folder / "labelResultAll.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for pid in rows:
        if pid not in no_text:
            (folder / "data" / f"{pid}.txt").write_bytes((texts or {}).get(pid, f"post {pid}\n".encode()))
        if pid not in no_image:
            (folder / "data" / f"{pid}.jpg").write_bytes(JPEG)
    return folder


def _single(n: int) -> dict[str, list[tuple[str, str]]]:
    return {str(i): [(POS, NEU)] for i in range(1, n + 1)}


def _by_id(data: object) -> dict[str, object]:
    return {s.id.split("-", 1)[1]: s for split in ("train", "dev", "test") for s in data.split(split)}  # type: ignore[attr-defined]


@pytest.mark.parametrize(("text", "image"), PAIRS)
def test_merge_table(text: str, image: str) -> None:
    assert merge(text, image) == EXPECTED[(text, image)]


def test_all_nine_combinations_through_the_loader(tmp_path: Path) -> None:
    rows = {str(k): [pair] for k, pair in enumerate(PAIRS, start=1)}
    data = load_mvsa_raw(_release(tmp_path, rows), "mvsa_single")
    got = _by_id(data)
    for pid, (pair,) in rows.items():
        want = EXPECTED[pair]
        assert (got[pid].label if pid in got else None) == want, pair  # type: ignore[attr-defined]
    assert data.stats["dropped_conflicting_modalities"] == 2 and data.stats["kept"] == 7
    assert data.stats["annotators"] == 1 and data.level == "post"


@pytest.mark.parametrize(
    ("votes", "want"),
    [((POS, POS, NEG), POS), ((NEU, NEG, NEG), NEG), ((POS, NEU, NEG), None), ((NEU,), NEU), ((), None)],
)
def test_majority(votes: tuple[str, ...], want: str | None) -> None:
    assert majority(votes) == want


def test_multiple_majority_vote_then_merge(tmp_path: Path) -> None:
    rows = {
        "1": [(POS, NEU), (POS, POS), (NEG, NEU)],  # text pos 2/3, image neu 2/3 -> positive
        "2": [(NEU, NEG), (NEG, NEG), (NEU, POS)],  # text neu, image neg -> negative
        "3": [(POS, NEU), (NEU, NEU), (NEG, NEU)],  # no text majority -> dropped
        "4": [(POS, POS), (POS, NEU), (POS, NEG)],  # no image majority -> dropped
        "5": [(POS, NEG), (POS, NEG), (NEU, NEU)],  # pos text, neg image -> conflict
    }
    data = load_mvsa_raw(_release(tmp_path, rows), "mvsa_multiple")
    got = _by_id(data)
    assert {k: s.label for k, s in got.items()} == {"1": POS, "2": NEG}  # type: ignore[attr-defined]
    assert got["1"].meta == {"image_id": "1.jpg", "text_label": POS, "image_label": NEU}  # type: ignore[attr-defined]
    assert data.stats["dropped_no_majority"] == 2 and data.stats["dropped_conflicting_modalities"] == 1
    assert data.stats["annotators"] == 3


def test_drops_counted_by_reason(tmp_path: Path) -> None:
    rows = {str(i): [(POS, POS)] * 3 for i in range(1, 11)}
    rows["3"] = [(POS, POS), (NEU, NEU), (NEG, NEG)]
    rows["4"] = [(NEG, POS)] * 3
    texts = {"6": b"  \r\n\t\n"}
    data = load_mvsa_raw(_release(tmp_path, rows, texts=texts, no_text=("5",)), "mvsa_multiple")
    s = data.stats
    assert (s["dropped_no_majority"], s["dropped_conflicting_modalities"]) == (1, 1)
    assert (s["dropped_missing_text"], s["dropped_empty_text"]) == (1, 1)
    assert s["raw_posts"] == 10 and s["kept"] == 6 and s["dropped"] == 4 and s["samples"] == 6
    assert sum(data.counts().values()) == 6 and "5" not in _by_id(data)
    note = " ".join(data.notes)
    assert "kept 6, dropped 4 (1 no majority, 1 conflicting modalities, 1 missing text, 1 empty text)" in note


def test_non_utf8_text_repaired_and_counted(tmp_path: Path) -> None:
    texts = {
        "1": "caf\u00e9 \u2713 ok  \n".encode(),
        "2": b"caf\xe9 \x93quoted\x94 \r\n",  # cp1252
        "3": b"odd \x81 byte\n",  # 0x81 is undefined in cp1252 -> latin-1
        "4": b"\xef\xbb\xbfwith bom",
    }
    data = load_mvsa_raw(_release(tmp_path, _single(4), texts=texts), "mvsa_single")
    got = {k: s.text for k, s in _by_id(data).items()}  # type: ignore[attr-defined]
    assert got == {
        "1": "caf\u00e9 \u2713 ok",
        "2": "caf\u00e9 \u201cquoted\u201d",
        "3": "odd \x81 byte",
        "4": "with bom",
    }
    s = data.stats
    assert (s["text_repaired"], s["text_repaired_cp1252"], s["text_repaired_latin1"]) == (2, 1, 1)
    assert "2 text files were not UTF-8" in " ".join(data.notes)


def test_split_is_8_1_1_seeded_and_reproducible(tmp_path: Path) -> None:
    folder = _release(tmp_path, _single(100))
    a, b = load_mvsa_raw(folder, "mvsa_single"), load_mvsa_raw(folder, "mvsa_single", seed=42)
    assert a.counts() == {"train": 80, "dev": 10, "test": 10} and a.stats["split_seed"] == 42
    ids = {split: [s.id for s in a.split(split)] for split in ("train", "dev", "test")}
    assert ids == {split: [s.id for s in b.split(split)] for split in ("train", "dev", "test")}
    assert a.fingerprint == b.fingerprint
    assert all(i.startswith(f"{split}-") for split, xs in ids.items() for i in xs)
    assert sorted(int(i.split("-")[1]) for xs in ids.values() for i in xs) == list(range(1, 101))
    c = load_mvsa_raw(folder, "mvsa_single", seed=7)
    assert c.counts() == a.counts() and [s.id for s in c.test] != ids["test"]
    assert "random.Random(42)" in " ".join(a.notes)


def test_split_sizes_small(tmp_path: Path) -> None:
    data = load_mvsa_raw(_release(tmp_path, _single(25)), "mvsa_single")
    assert data.counts() == {"train": 21, "dev": 2, "test": 2}


def test_images_found_missing_and_allowed(tmp_path: Path) -> None:
    folder = _release(tmp_path, _single(10), no_image=("7",))
    with pytest.raises(MissingImagesError, match=r"1 of 10 samples .*first missing: 7\.jpg"):
        load_mvsa_raw(folder, "mvsa_single")
    data = load_mvsa_raw(folder, "mvsa_single", allow_missing_images=True)
    got = _by_id(data)
    assert got["7"].image is None and got["7"].image_ref is None  # type: ignore[attr-defined]
    assert got["1"].image == JPEG and got["1"].image_ref == "mvsa/data/1.jpg"  # type: ignore[attr-defined]
    assert data.stats["images_missing_samples"] == 1 and data.stats["images_found_files"] == 9


def test_escapes_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.jpg").write_bytes(JPEG)
    (outside / "x.txt").write_text("secret", encoding="utf-8")
    folder = _release(tmp_path, _single(2), no_image=("2",))
    (folder / "data" / "2.jpg").symlink_to(outside / "x.jpg")
    with pytest.raises(UserError, match="outside the images folder"):
        load_mvsa_raw(folder, "mvsa_single")
    (folder / "data" / "2.jpg").unlink()
    (folder / "data" / "2.jpg").write_bytes(JPEG)
    (folder / "data" / "1.txt").unlink()
    (folder / "data" / "1.txt").symlink_to(outside / "x.txt")
    with pytest.raises(UserError, match="outside the data folder"):
        load_mvsa_raw(folder, "mvsa_single")
    bad = _release(
        tmp_path / "b", {"../outside/x": [(POS, POS)]}, no_text=("../outside/x",), no_image=("../outside/x",)
    )
    with pytest.raises(UserError, match=r"'\.\./outside/x\.txt' escapes"):
        load_mvsa_raw(bad, "mvsa_single")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("9\tpositive", "labelResultAll.txt:3: 'positive' is not 'text,image'"),
        ("9\thappy,positive", "labelResultAll.txt:3: 'happy,positive' is not 'text,image'"),
        ("1\tpositive,positive", "labelResultAll.txt:3: duplicate id '1' (first at line 2)"),
        ("9\tpositive,positive\tneutral,neutral", "labelResultAll.txt:3: 2 annotators, but the first row has 1"),
    ],
)
def test_bad_label_rows(tmp_path: Path, line: str, message: str) -> None:
    folder = _release(tmp_path, _single(1))
    with (folder / "labelResultAll.txt").open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    with pytest.raises(UserError) as info:
        load_mvsa_raw(folder, "mvsa_single")
    assert message in str(info.value)


def test_wrong_release_for_name(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="1 annotator.*mvsa_multiple has 3"):
        load_mvsa_raw(_release(tmp_path, _single(3)), "mvsa_multiple")


def test_load_mvsa_uses_raw_only_without_train_json(tmp_path: Path) -> None:
    folder = _release(tmp_path, _single(10))
    data = load_mvsa(folder, "mvsa_single")
    assert data.counts() == {"train": 8, "dev": 1, "test": 1} and data.stats["kept"] == 10
    for i, split in enumerate(("train", "dev", "test")):
        rows = [{"id": f"c{i}", "text": "clmlf", "emotion_label": 2}]
        (folder / f"{split}.json").write_text(json.dumps(rows), encoding="utf-8")
    data = load_mvsa(folder, "mvsa_single", allow_missing_images=True)
    assert data.counts() == {"train": 1, "dev": 1, "test": 1} and data.train[0].text == "clmlf"


def test_raw_only_folder_counts_as_present(tmp_path: Path) -> None:
    from mulcot_bench.plugin.registry import build_registry

    folder = tmp_path / "mvsa_single"
    folder.mkdir()
    (folder / "labelResultAll.txt").write_text("ID\ttext,image\n")
    spec = build_registry().dataset("mvsa_single")
    assert spec.locate(tmp_path) == folder
    assert build_registry().dataset("twitter2015").locate(tmp_path) is None
