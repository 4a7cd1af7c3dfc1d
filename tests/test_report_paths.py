"""A published report names no machine-local folder: data root, cache, runs and home are shown by name."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mulcot_bench.report import render_runs
from mulcot_bench.report.board import read_run
from mulcot_bench.report.places import Places

ALL = ("html", "md", "csv", "tex", "json")


def _tiny_run(tmp_path: Path) -> Path:
    """A synthetic run (real command line) whose data root, cache, runs and reports live under ``tmp_path``."""
    (tmp_path / "data").mkdir()
    args = ["run", "--all", "-m", "majority", "-m", "text-tfidf-lr", "--synthetic-size", "60,20,40"]
    args += ["--bootstrap", "0", "--jobs", "1", "--no-report", "--run-id", "r1"]
    for option, name in (("--data-root", "data"), ("--cache-dir", "cache"), ("--runs-dir", "runs")):
        args += [option, str(tmp_path / name)]
    args += ["--reports-dir", str(tmp_path / "reports")]
    done = subprocess.run([sys.executable, "-m", "mulcot_bench", *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return tmp_path / "runs" / "r1"


def _add_local_paths(run_dir: Path, tmp_path: Path, home: Path) -> None:
    """Record what real runs record: a missing images folder, a checkpoint in the cache, a home path."""
    path = run_dir / "results.json"
    doc = json.loads(path.read_text())
    synthetic = next(d for d in doc["datasets"] if d["name"] == "synthetic")
    synthetic["notes"].append(f"images: {tmp_path}/data/twitter2017/images (no such folder)")
    synthetic["notes"].append(f"teacher chains read from {home}/chains.jsonl")
    doc["entries"][0]["checkpoint"] = f"{tmp_path}/cache/artifacts/abc123"
    path.write_text(json.dumps(doc))


def test_no_local_path_in_any_format(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = _tiny_run(tmp_path)
    home = tmp_path / "home"
    _add_local_paths(run_dir, tmp_path, home)
    before = (run_dir / "results.json").read_bytes()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MULCOT_BENCH_CACHE", str(tmp_path_factory.mktemp("elsewhere")))  # found from the run
    out = tmp_path / "out"
    written = render_runs([run_dir], out, ALL)
    assert set(written) >= set(ALL)
    files = [p for p in out.rglob("*") if p.is_file()]
    leaks = [str(p.relative_to(out)) for p in files if str(tmp_path).encode() in p.read_bytes()]
    assert not leaks, leaks
    assert not [p for p in files if str(Path.home()).encode() + b"/" in p.read_bytes()]
    page = (out / "dataset-synthetic.html").read_text()
    assert "&lt;data root&gt;/twitter2017/images (no such folder)" in page
    assert "~/chains.jsonl" in page
    index = (out / "index.html").read_text()
    assert "--data-root &lt;data root&gt; --cache-dir &lt;cache&gt; --runs-dir &lt;runs&gt;" in index
    assert read_run(run_dir).results.entries[0].checkpoint == "<cache>/artifacts/abc123"
    assert (run_dir / "results.json").read_bytes() == before  # results.json keeps the full paths


def test_places_shorten_only_whole_folders() -> None:
    places = Places()
    places.add("/srv/data", "<data root>")
    places.add("/srv", "~")
    places.add("relative/data", "<cache>")  # nothing machine-local: skipped
    assert places.short("/srv/data/t17 and /srv/database, /srv") == "<data root>/t17 and ~/database, ~"
    assert places.local("<data root>/t17") == Path("/srv/data/t17")
    assert places.local("other/t17") == Path("other/t17")
