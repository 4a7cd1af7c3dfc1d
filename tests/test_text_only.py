"""Text-only copies (a real dataset without any image) run text-only and are marked everywhere; a copy with some
images missing is still refused; ``--require-images`` refuses text-only copies. Copies are built in ``tmp_path``
from the shared read-only data and skipped without it."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fakerun import env, plugins_dir
from test_plugins import GOOD

from mulcot_bench.data.images import MissingImagesError
from mulcot_bench.data.loaders import load_mvsa, load_twitter
from mulcot_bench.plugin.registry import build_registry
from mulcot_bench.runner.selection import NEEDS_IMAGES, readable

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
#: a model that reads only images and one that reads both (the template's Echo answers "neutral")
PLUGINS = {
    "image_only.py": GOOD.replace("{name}", "pixels-only").replace("rationale=False)", "rationale=False, "
                                                                                      "modalities=('image',))"),
    "both.py": GOOD.replace("{name}", "reads-both"),
    "text.py": GOOD.replace("{name}", "words-only").replace("rationale=False)", "rationale=False, "
                                                                                 "modalities=('text',))"),
}  # fmt: skip


@pytest.fixture(scope="module")
def shared() -> Path:
    if not (SHARED / "twitter2015" / "images").is_dir():
        pytest.skip(f"real data not found at {SHARED} (the shared read-only data folder); these tests need it")
    return SHARED


def text_copy(shared: Path, root: Path, name: str = "twitter2015") -> Path:
    """A copy of ``name``'s split files (and teacher chains) under ``root`` without any image."""
    folder = root / name
    folder.mkdir(parents=True)
    for path in (shared / name).iterdir():
        if path.is_file():
            shutil.copy(path, folder / path.name)
    if (shared / name / "teacher_cot").is_dir():
        shutil.copytree(shared / name / "teacher_cot", folder / "teacher_cot")
    return folder


def run_cli(tmp: Path, root: Path, run_id: str, *args: str) -> subprocess.CompletedProcess[str]:
    folder = plugins_dir(tmp, PLUGINS)
    cmd = [sys.executable, "-m", "mulcot_bench.cli", "run", "--data-root", str(root), "--plugins-dir", str(folder),
           "--cache-dir", str(tmp / "cache"), "--run-id", run_id, "--runs-dir", str(tmp / "runs"),
           "--reports-dir", str(tmp / "reports"), "--limit", "120,40,80", "--bootstrap", "0", *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp, env=env(tmp))


@pytest.mark.parametrize("name", ["twitter2017", "mvsa_single", "mvsa_multiple"])
def test_the_shared_copies_without_images_load_as_text_only(shared: Path, name: str) -> None:
    loader = load_twitter if name.startswith("twitter") else load_mvsa
    data = loader(shared / name, name)
    assert data.modality == "text"
    assert all(s.image is None for s in data.train + data.dev + data.test)
    assert "a text-only copy" in data.notes[0] and str(shared) not in data.notes[0]
    assert data.warnings == []


def test_a_copy_with_one_image_missing_is_still_refused(shared: Path, tmp_path: Path) -> None:
    folder = text_copy(shared, tmp_path)
    shutil.copytree(shared / "twitter2015" / "images", folder / "images")
    gone = sorted((folder / "images").iterdir())[0]
    gone.unlink()
    with pytest.raises(MissingImagesError, match=f"first missing: {gone.name}") as info:
        load_twitter(folder, "twitter2015")
    assert "\n" not in str(info.value) and info.value.missing >= 1
    assert load_twitter(folder, "twitter2015", allow_missing_images=True).modality == "multimodal"


def test_image_only_models_cannot_read_a_text_only_copy() -> None:
    reg = build_registry([], strict=False)
    assert readable(reg, ["majority", "text-tfidf-lr"], "text") == (["majority", "text-tfidf-lr"], [])
    assert readable(reg, ["majority"], "multimodal") == (["majority"], [])


@pytest.mark.slow
def test_a_text_only_copy_runs_is_marked_and_never_shares_a_table_with_the_multimodal_one(
    shared: Path, tmp_path: Path
) -> None:
    text_root = tmp_path / "text"
    text_copy(shared, text_root)
    done = run_cli(tmp_path, text_root, "text", "-d", "twitter2015", "-m", "words-only", "-m", "pixels-only",
                   "-m", "reads-both")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "warning: pre-flight: 1 text-only copy(ies) (no images): twitter2015" in done.stderr
    assert "1 model(s) not run on twitter2015: pixels-only (they read only images" in done.stderr
    assert "twitter2015 (text-only copy; test," in done.stdout and "| reads-both (text half) |" in done.stdout
    res = json.loads((tmp_path / "runs" / "text" / "results.json").read_text())
    (record,) = [d for d in res["datasets"] if d["name"] == "twitter2015"]
    assert record["modality"] == "text"
    assert res["skipped"] == {NEEDS_IMAGES: 1}
    inputs = {e["model"]: e["inputs"] for e in res["entries"]}
    assert inputs == {"words-only": None, "reads-both": ["text"]}
    page = (tmp_path / "reports" / "text" / "dataset-twitter2015.html").read_text()
    assert "Twitter-2015 (text only)" in page and "text only</span>" in page

    full_root = tmp_path / "full"
    full_root.mkdir()
    (full_root / "twitter2015").symlink_to(shared / "twitter2015")
    done = run_cli(tmp_path, full_root, "full", "-d", "twitter2015", "-m", "words-only")
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "both"
    both = subprocess.run(
        [sys.executable, "-m", "mulcot_bench.cli", "report", str(tmp_path / "runs" / "text"),
         str(tmp_path / "runs" / "full"), "--out", str(out), "--format", "html,csv,json"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env(tmp_path),
    )  # fmt: skip
    assert both.returncode == 0, both.stderr[-3000:]
    tables = json.loads(next(out.glob("leaderboard*.json")).read_text())["datasets"]
    sets = {(t["name"], t["modality"]): t for t in tables if t["name"] == "twitter2015"}
    assert set(sets) == {("twitter2015", "text"), ("twitter2015", "multimodal")}
    assert sets["twitter2015", "text"]["test_set"] != sets["twitter2015", "multimodal"]["test_set"]
    assert sets["twitter2015", "text"]["reported"] == []
    assert sets["twitter2015", "multimodal"]["reported"] != []
    rows = list(csv.DictReader((out / "leaderboard.csv").open()))
    assert {r["modality"] for r in rows if r["dataset"] == "twitter2015" and r["kind"] == "measured"} == {
        "text", "multimodal"}  # fmt: skip
    heads = [re.search(r"<h1>(.*?) <span", p.read_text()).group(1) for p in out.glob("dataset-twitter2015*.html")]  # type: ignore[union-attr]
    assert len(heads) == 2 and sum(h.startswith("Twitter-2015 (text only, test set ") for h in heads) == 1


def test_require_images_refuses_a_text_only_copy_with_one_line(shared: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    text_copy(shared, root, "twitter2017")
    done = run_cli(tmp_path, root, "refused", "-d", "twitter2017", "-m", "words-only", "--require-images")
    assert done.returncode == 2, done.stderr[-3000:]
    line = done.stderr.strip().splitlines()[-1]
    assert "twitter2017" in line and "--require-images" in line and "text-only copy" in line
    assert not (tmp_path / "runs" / "refused").exists()
