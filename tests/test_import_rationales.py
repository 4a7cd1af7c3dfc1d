"""`datasets import-rationales`: chains in the MulCoT-RD release's format, checked against the Twitter-2015 train
split and used as they are by `distill` with teacher.chains = "dataset". The file is built here, in the release's
format, from the released dev chains put on train rows (the release's train chains are not in ../shared/data)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mulcot_bench.data.loaders import load_twitter
from mulcot_bench.data.tomb import read_tomb
from mulcot_bench.data.views import apply_views

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "twitter2015"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mulcot_bench", *args], capture_output=True, text=True,
                          timeout=900, check=False)  # fmt: skip


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A data root whose twitter2015 folder links to the shared files (never copied) and has room for train.json."""
    if not (DATA / "teacher_cot" / "dev.json").is_file():
        pytest.skip(f"{DATA} not found (the shared read-only data folder); this test needs it")
    folder = tmp_path / "data" / "twitter2015"
    (folder / "teacher_cot").mkdir(parents=True)
    for name in ("train.tsv", "dev.tsv", "test.tsv", "images"):
        (folder / name).symlink_to(DATA / name)
    for name in ("dev.json", "test.json"):
        (folder / "teacher_cot" / name).symlink_to(DATA / "teacher_cot" / name)
    return tmp_path / "data"


def _release_file(path: Path) -> list[dict]:
    """The release's train-file format (id, text, label, aspect, image_path, cot) on the first train rows, with the
    released dev chains as their chains; two rows with another label, one item of no row."""
    rows, _ = read_tomb(DATA / "train.tsv")
    dev = json.loads((DATA / "teacher_cot" / "dev.json").read_text(encoding="utf-8"))
    items = [{"id": i, "text": r.text, "label": r.label, "aspect": r.target, "image_path": r.image,
              "cot": dev[i % len(dev)]["cot"]} for i, r in enumerate(rows[:300])]  # fmt: skip
    for item in items[:2]:
        item["label"] = "negative" if item["label"] != "negative" else "positive"
    items.append({**items[5], "text": "a post that is in no split", "id": 999999})
    path.write_text(json.dumps(items, indent=4, ensure_ascii=False), encoding="utf-8")
    return items


@pytest.mark.slow
def test_import_checks_the_file_against_train_and_distill_trains_on_it(root: Path, tmp_path: Path) -> None:
    pytest.importorskip("mulcot_tiny")
    source = tmp_path / "peft_Qwen_2.5_VL_72B.json"
    items = _release_file(source)
    done = _cli("datasets", "import-rationales", "twitter2015", str(source), "--data-root", str(root))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "298/3179 rows matched by (image, text, target) with the same label" in out
    assert "2 rows matched by (image, text, target) with another label" in out
    assert "2881 rows without a chain (label task only); 3 file chains matched no row" in out
    copied = root / "twitter2015" / "teacher_cot" / "train.json"
    assert copied.read_bytes() == source.read_bytes()  # the release's text, as it is
    # a file of another split matches nothing: one line, exit 2
    bad = _cli("datasets", "import-rationales", "twitter2015", str(DATA / "teacher_cot" / "test.json"),
               "--data-root", str(root))  # fmt: skip
    assert bad.returncode == 2 and "none of its 1037 items matches a row" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1

    small = "d_model = 32\nlayers = 1\nheads = 2\ncnn_channels = 8\nmax_new_tokens = 24\n"
    config = tmp_path / "dataset-chains.toml"
    config.write_text('extends = "cpu-tiny"\n[teacher]\nchains = "dataset"\n'
                      "[assistant.training]\nepochs = 1\n[assistant.settings]\n" + small +
                      "[student.training]\nepochs = 1\n[student.settings]\n" + small)  # fmt: skip
    run = _cli("distill", "--config", str(config), "-d", "twitter2015", "--data-root", str(root), "--run-id", "t",
               "--limit", "400,20,20", "--runs-dir", str(tmp_path / "runs"), "--reports-dir", str(tmp_path / "rep"),
               "--cache-dir", str(tmp_path / "c"))  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads((tmp_path / "runs" / "t" / "distill.json").read_text())
    assistant = summary["stages"]["tiny-vlm-assistant"]
    assert any(r["field"] == "teacher.chains" and r["value"] == "dataset" for r in summary["resolved"])
    # the 400-row seeded subset of train, as the run draws it: the rows that carry an imported chain (the file's own
    # text, byte for byte) are the assistant's reasoning items, with no teacher asked; every row trains the label task
    data = load_twitter(root / "twitter2015", "twitter2015", allow_missing_images=True)
    train = apply_views(data, "reference", (400, 20, 20), 42).train
    by_key = {(i["image_path"], i["text"], i["aspect"], i["label"]): i["cot"] for i in items}
    chained = [s for s in train if s.rationale is not None]
    assert chained and all(s.rationale == by_key[(s.meta["image_id"], s.text, s.target, s.label)] for s in chained)
    assert assistant["counts"] == {"train": 400, "label": 400, "reasoning": len(chained), "dev": 20}
