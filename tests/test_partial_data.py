"""``run`` on defective copies of the real Twitter-2015 data root: refused, failed or warned, never silent.

Each case builds a data root in tmp_path from ../shared/data (split files symlinked, images hard-linked or
copied, one file made defective) and runs ``mulcot-bench run -d twitter2015`` on it; skipped without the data.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "twitter2015"
QUICK = ["--limit", "30,10,10", "--bootstrap", "0"]


@pytest.fixture(scope="module")
def source() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"real data not found at {SHARED} (the shared read-only data folder); these tests need it")
    return SHARED


def _root(tmp: Path, source: Path, own_images: bool = False) -> Path:
    """A copy of the Twitter-2015 data root: files symlinked, images linked one by one when ``own_images``."""
    folder = tmp / "data" / "twitter2015"
    folder.mkdir(parents=True)
    for name in ("train.tsv", "dev.tsv", "test.tsv", "teacher_cot"):
        (folder / name).symlink_to(source / name)
    if not own_images:
        (folder / "images").symlink_to(source / "images")
        return folder
    (folder / "images").mkdir()
    for image in (source / "images").iterdir():
        try:
            os.link(image, folder / "images" / image.name)  # no copy where the file system allows it
        except OSError:
            shutil.copyfile(image, folder / "images" / image.name)
    return folder


def _first_image(source: Path) -> str:
    return (source / "train.tsv").read_text(encoding="utf-8").split("\n")[1].split("\t")[2]


def _run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "mulcot_bench.cli", "run", "-d", "twitter2015", "-m", "majority"]
    cmd += ["--data-root", str(tmp / "data"), "--runs-dir", str(tmp / "runs"), "--reports-dir", str(tmp / "reports")]
    return subprocess.run([*cmd, "--run-id", "t", *args], capture_output=True, text=True, timeout=600, cwd=tmp)


def _cut_dev(folder: Path, source: Path, keep: int = 562) -> None:
    """dev.tsv cut mid-row: the header, ``keep`` rows, and the next row cut inside its target."""
    lines = (source / "dev.tsv").read_text(encoding="utf-8").split("\n")
    last = lines[keep + 1]
    (folder / "dev.tsv").unlink()
    (folder / "dev.tsv").write_text("\n".join(lines[: keep + 1]) + "\n" + last[: last.rindex("\t") + 3], "utf-8")


def test_dev_cut_mid_row_is_refused(tmp_path: Path, source: Path) -> None:
    _cut_dev(_root(tmp_path, source), source)
    done = _run(tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    line = done.stderr.strip()
    assert "\n" not in line and line.startswith("error: twitter2015: dev.tsv (dev split) has 563 rows (")
    assert "the manifest says 1122 rows (negative 149, neutral 670, positive 303)" in line
    assert "mulcot-bench datasets verify twitter2015" in line and "--allow-partial" in line
    assert not (tmp_path / "runs").exists()


def test_dev_cut_mid_row_runs_with_allow_partial_recorded(tmp_path: Path, source: Path) -> None:
    _cut_dev(_root(tmp_path, source), source)
    done = _run(tmp_path, "--allow-partial", *QUICK)
    assert done.returncode == 0, done.stderr[-2000:]
    note = "partial data (--allow-partial): dev.tsv (dev split) has 563 rows"
    assert [x for x in done.stderr.splitlines() if "partial data" in x] == [
        next(x for x in done.stderr.splitlines() if x.startswith(f"warning: [twitter2015] {note}"))
    ]
    results = json.loads((tmp_path / "runs" / "t" / "results.json").read_text())
    (record,) = results["datasets"]
    assert record["status"] == "present" and any(n.startswith(note) for n in record["notes"])
    assert [e["model"] for e in results["entries"]] == ["majority"]  # -m majority alone: the teacher is not scored
    assert note in (tmp_path / "reports" / "t" / "index.html").read_text()


def test_named_dataset_with_one_image_missing_fails(tmp_path: Path, source: Path) -> None:
    folder = _root(tmp_path, source, own_images=True)
    (folder / "images" / _first_image(source)).unlink()
    done = _run(tmp_path, *QUICK)
    assert done.returncode == 2, done.stderr[-2000:]
    line = done.stderr.strip()
    assert "\n" not in line and line.startswith("error: twitter2015: ")
    assert f"first missing: {_first_image(source)}" in line and "--allow-missing-images" in line
    assert not (tmp_path / "runs").exists()


def test_unreadable_image_is_one_stderr_line_with_its_count(tmp_path: Path, source: Path) -> None:
    folder = _root(tmp_path, source, own_images=True)
    name = _first_image(source)
    rows = sum(
        line.split("\t")[2] == name
        for split in ("train", "dev", "test")
        for line in (source / f"{split}.tsv").read_text(encoding="utf-8").split("\n")[1:]
        if line.strip()
    )
    whole = (folder / "images" / name).read_bytes()
    (folder / "images" / name).unlink()  # a hard link: never write through it
    (folder / "images" / name).write_bytes(whole[: len(whole) // 2])
    done = _run(tmp_path, *QUICK)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [x for x in done.stderr.splitlines() if "unreadable" in x]
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith(f"warning: [twitter2015] images: {rows} samples have an unreadable image file ")
    assert f"(1 files: {name}: truncated JPEG" in lines[0]
