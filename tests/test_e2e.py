"""End to end: ``mulcot-bench run --all`` on a reduced synthetic set, then again from the cache."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mulcot_bench.rationale import FIELDS
from mulcot_bench.results import RunResults

EXPECTED = {
    "synthetic-teacher",
    "tiny-vlm-assistant",
    "tiny-vlm-student",
    "tiny-vlm-student-nokd",
    "majority",
    "text-tfidf-lr",
    "minilm-lr",
    "effnet-lr",
    "minilm-effnet-lr",
    "enc-assistant",
    "enc-student",
    "enc-student-nokd",
}


def _run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "mulcot_bench.cli",
        "run",
        "--runs-dir",
        str(tmp / "runs"),
        "--reports-dir",
        str(tmp / "reports"),
        "--synthetic-size",
        "150,50,50",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResults, RunResults, str]:
    tmp = tmp_path_factory.mktemp("e2e")
    first = _run(tmp, "--all", "--run-id", "first")
    assert first.returncode == 0, first.stderr[-3000:]
    second = _run(tmp, "--all", "--run-id", "second")
    assert second.returncode == 0, second.stderr[-3000:]
    return tmp, RunResults.read(tmp / "runs" / "first"), RunResults.read(tmp / "runs" / "second"), second.stderr


@pytest.mark.slow
def test_run_all_writes_every_role_and_metric(two_runs: tuple[Path, RunResults, RunResults, str]) -> None:
    tmp, first, _, _ = two_runs
    synthetic = [e for e in first.entries if e.dataset == "synthetic"]
    assert {e.model for e in synthetic} == EXPECTED
    roles = {e.model: e.role for e in synthetic}
    assert roles["synthetic-teacher"] == "teacher" and roles["tiny-vlm-student"] == "student"
    for entry in synthetic:
        assert entry.n == 50
        assert set(entry.scores) >= {"accuracy", "macro_f1", "weighted_f1", "bleu4", "bertscore_f1"}
        lines = (tmp / "runs" / "first" / entry.predictions_file).read_text().splitlines()
        assert len(lines) == 50
        row = json.loads(lines[0])
        assert {"id", "gold", "label", "rationale", "reference"} <= set(row)
    by = {e.model: e for e in synthetic}
    assert by["majority"].scores["bleu4"] is None
    assert by["tiny-vlm-assistant"].scores["bleu4"] is not None
    assert by["tiny-vlm-student"].assistant == "tiny-vlm-assistant"
    assert by["enc-student"].assistant == "enc-assistant" and by["enc-student"].scores["bleu4"] is not None
    assert by["tiny-vlm-student"].stage["selected_epoch"] >= 1
    assert by["synthetic-teacher"].stage["corrected"] >= 1
    assert by["tiny-vlm-assistant"].stage["augmentation"]["sampled"] > 0
    assert all(
        FIELDS[0] in (json.loads(x)["reference"] or "")
        for x in (tmp / "runs" / "first" / by["majority"].predictions_file).read_text().splitlines()
    )


@pytest.mark.slow
def test_missing_real_datasets_are_listed_not_errors(two_runs: tuple[Path, RunResults, RunResults, str]) -> None:
    _, first, _, _ = two_runs
    status = {d.name: d.status for d in first.datasets}
    assert status == {
        "synthetic": "embedded",
        "twitter2015": "missing",
        "twitter2017": "missing",
        "mvsa_single": "missing",
        "mvsa_multiple": "missing",
    }
    assert all(d.how_to_get for d in first.datasets if d.status == "missing")


@pytest.mark.slow
def test_provenance_is_recorded(two_runs: tuple[Path, RunResults, RunResults, str]) -> None:
    _, first, _, _ = two_runs
    prov = first.provenance
    assert prov.seed == 42 and prov.packages["torch"] and prov.packages["sacrebleu"]
    assert {p.name for p in prov.plugins} >= {"tiny", "baselines", "datasets", "metrics"}
    signatures = {m.id: m.signature for m in first.metrics}
    assert "tok:13a" in signatures["bleu4"] and "layer=6" in signatures["bertscore"]
    assert len(next(d for d in first.datasets if d.name == "synthetic").fingerprint or "") == 64


@pytest.mark.slow
def test_second_run_reuses_everything(two_runs: tuple[Path, RunResults, RunResults, str]) -> None:
    tmp, first, second, stderr = two_runs
    assert all(e.cached for e in second.entries)
    assert "training" not in stderr
    assert [e.scores for e in first.entries] == [e.scores for e in second.entries]
    html = (tmp / "reports" / "second" / "index.html").read_text()
    assert all(name in html for name in EXPECTED)


def test_unknown_model_is_one_clear_line(tmp_path: Path) -> None:
    result = _run(tmp_path, "--model", "tiny-vlm-asistant")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "unknown model 'tiny-vlm-asistant'" in result.stderr and "tiny-vlm-assistant" in result.stderr


def test_missing_data_root_is_one_clear_line(tmp_path: Path) -> None:
    result = _run(tmp_path, "--all", "--data-root", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "data root" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_broken_plugin_fails_the_run_but_others_finish(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "broken_plugin.py").write_text("raise RuntimeError('cannot start')\n")
    result = _run(tmp_path, "-d", "synthetic", "-m", "majority", "--plugins-dir", str(plugins), "--run-id", "b")
    assert result.returncode == 1
    assert "broken_plugin" in result.stderr and "cannot start" in result.stdout
    results = RunResults.read(tmp_path / "runs" / "b")
    assert [e.model for e in results.entries] == ["majority"]  # the teacher is not asked for: no row of its own
    assert results.failures[0].what == "plugin"
