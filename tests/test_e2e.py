"""End to end: ``mulcot-bench run --all`` on a reduced synthetic set, then again from the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mulcot_bench.rationale import FIELDS
from mulcot_bench.report.format import format_score
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


def _command(tmp: Path, *args: str) -> list[str]:
    return [
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
        "--jobs",  # one process: its own progress lines on stderr (a fanned-out run's jobs: tests/test_launcher.py)
        "1",
        *args,
    ]


def _run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_command(tmp, *args), capture_output=True, text=True, timeout=900, cwd=tmp)


def _run_timed(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """As :func:`_run`; each stderr line's arrival (seconds, tab, line) is also written to ``tmp/stderr.tsv``."""
    cmd = _command(tmp, *args)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp, env=env)
    stamped: list[str] = []

    def read_stderr() -> None:
        assert proc.stderr is not None
        stamped.extend(f"{time.monotonic():.3f}\t{line.rstrip(chr(10))}" for line in proc.stderr)

    reader = threading.Thread(target=read_stderr)
    reader.start()
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.wait(timeout=900)
    reader.join()
    (tmp / "stderr.tsv").write_text("\n".join(stamped) + "\n")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, "\n".join(x.split("\t", 1)[1] for x in stamped))


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResults, RunResults, str]:
    tmp = tmp_path_factory.mktemp("e2e")
    cache = ("--cache-dir", str(tmp / "cache"))  # its own: the first run trains, whatever ran before
    first = _run_timed(tmp, "--all", "--run-id", "first", *cache)
    assert first.returncode == 0, first.stderr[-3000:]
    (tmp / "first.stdout").write_text(first.stdout)
    second = _run(tmp, "--all", "--run-id", "second", *cache)
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
def test_every_shipped_model_records_what_it_was_asked(two_runs: tuple[Path, RunResults, RunResults, str]) -> None:
    """Each predictions line of every model ``run --all`` runs carries its prompt record (a template reference,
    the exact input it read, or what it replayed), never null."""
    tmp, first, _, _ = two_runs
    for entry in first.entries:
        lines = [json.loads(x) for x in (tmp / "runs" / "first" / entry.predictions_file).read_text().splitlines()]
        kinds = {(line.get("prompt") or {}).get("kind") for line in lines}
        assert lines and None not in kinds, (entry.model, kinds)
        assert entry.prompt_note is None, (entry.model, entry.prompt_note)


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


#: what a third-party progress bar leaves in captured stderr (transformers' weight loading, tqdm's rate field)
BAR_MARKS = ("Loading weights", "Loading checkpoint shards", "it/s]", "s/it]", "%|")
TRAINED = ("enc-assistant", "tiny-vlm-assistant", "enc-student", "tiny-vlm-student", "enc-student-nokd",
           "tiny-vlm-student-nokd")  # fmt: skip


@pytest.mark.slow
def test_run_all_shows_training_progress_and_ends_with_the_score_table(
    two_runs: tuple[Path, RunResults, RunResults, str],
) -> None:
    tmp, first, _, _ = two_runs
    rows_tsv = (x.split("\t", 1) for x in (tmp / "stderr.tsv").read_text().splitlines())
    stamped = [(float(t), line) for t, line in rows_tsv]
    lines = [line for _, line in stamped]
    assert [m for m in BAR_MARKS if any(m in line for line in lines)] == []
    # pre-flight: what runs and what does not, before the first step
    first_step = next(i for i, x in enumerate(lines) if x.startswith("[synthetic] step 1/"))
    assert any(x.startswith("pre-flight: 4 dataset(s) not run: twitter2015 (missing)") for x in lines[:first_step])
    # every fit: from "training X" to "X trained in", never 30 s without a line; epoch lines with loss, dev, ETA
    for model in TRAINED:
        start = lines.index(next(x for x in lines if x.startswith(f"[synthetic] training {model} (")))
        end = lines.index(next(x for x in lines if x.startswith(f"[synthetic] {model} trained in ")))
        times = [t for t, _ in stamped[start : end + 1]]
        assert max(b - a for a, b in zip(times, times[1:], strict=False)) <= 30.0, lines[start : end + 1]
        epochs = [x for x in lines[start:end] if x.startswith(f"[synthetic] {model} ") and " epoch " in x]
        assert epochs and all("loss " in x and "elapsed " in x and "ETA " in x for x in epochs), model
        assert any("dev accuracy " in x and "macro-F1 " in x for x in epochs), model
    # the score table closes stdout: one row per model, values as recorded in results.json
    stdout = (tmp / "first.stdout").read_text()
    table = stdout[stdout.index("synthetic (test, n=50;") :].strip().splitlines()
    assert stdout.rstrip().endswith(table[-1])
    assert [c.strip() for c in table[1].split("|")[1:-1]] == ["model", "accuracy", "macro-F1", "BLEU-4", "BERTScore-F1"]
    rows = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[2:-1]] for r in table[3:]}
    assert set(rows) == EXPECTED
    for e in first.entries:
        low, high = (format_score(x, "macro_f1") for x in e.intervals["macro_f1"])
        assert rows[e.model][1] == f"{format_score(e.scores['macro_f1'], 'macro_f1')} [{low}, {high}]"
    log = (tmp / "runs" / "first" / "run.log").read_text()
    assert "tiny-vlm-assistant epoch 1/" in log and table[-1] in log


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
