"""Kill test: ``mulcot-bench run`` SIGKILLed at several points, re-run, gives the uninterrupted results.

Each point is reached deterministically through a failpoint (:func:`mulcot_bench.faults.failpoint`): the run
writes a marker file there and waits; the test sees the marker and sends SIGKILL. The fake models append one
line per answered sample to a calls file, so the test also checks that no finished sample is asked twice.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from fakerun import MODELS, SIZES, calls, command, comparable, env, run

from mulcot_bench.cache import Cache
from mulcot_bench.data.synthetic import generate
from mulcot_bench.journal import Journal
from mulcot_bench.runner.stages import cached_calls
from mulcot_bench.types import Prediction

# (failpoint, what the run is doing there); predict calls 1-3 are the assistant's three test batches, 4-6 the
# student's (after it trains), 7-9 and 10-12 the two rule baselines'
POINTS = {
    "fake-fit:2": "training the assistant (second epoch)",
    "fake-predict:5": "predicting (the student's second test batch)",
    "score:2": "scoring (the second model)",
    "report": "writing the report (results.json written, leaderboard not yet)",
    "render": "rendering the leaderboard (every page written into the staging folder, not yet published)",
}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, object]:
    tmp = tmp_path_factory.mktemp("reference")
    proc = run(tmp, "crash", tmp / "cache")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return comparable(tmp, "crash"), calls(tmp)


def _killed_at(tmp: Path, point: str, cache: Path) -> str:
    """Start a run, wait until it reaches ``point``, SIGKILL it; what it printed."""
    marker = tmp / "marker"
    extra = {"MULCOT_BENCH_FAILPOINT": point, "MULCOT_BENCH_FAILPOINT_MARKER": str(marker)}
    proc = subprocess.Popen(
        command(tmp, "crash", cache, MODELS, SIZES),
        cwd=tmp,
        env=env(tmp, **extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 240
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"the run ended ({proc.returncode}) before reaching {point}: {proc.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the run did not reach {point} in time")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    return err


def _staging(tmp: Path) -> list[Path]:
    """Staging folders of the leaderboard left beside it."""
    return sorted((tmp / "reports").glob(".crash.*"))


def _no_repeats(tmp: Path) -> None:
    twice = {k: n for k, n in calls(tmp).items() if n > 1}
    assert not twice, f"asked more than once: {list(twice.items())[:5]}"


@pytest.mark.slow
@pytest.mark.parametrize("point", sorted(POINTS))
def test_killed_run_resumes_to_the_same_results(tmp_path: Path, point: str, reference) -> None:  # noqa: ANN001
    expected, expected_calls = reference
    _killed_at(tmp_path, point, tmp_path / "cache")
    if point in ("report", "render"):
        assert (tmp_path / "runs" / "crash" / "results.json").exists()
        assert not (tmp_path / "reports" / "crash" / "index.html").exists()
    if point == "render":
        assert [f.suffix for f in _staging(tmp_path)] == [".tmp"]  # the killed render's staging folder is left behind
    before = calls(tmp_path)
    again = run(tmp_path, "crash", tmp_path / "cache")
    assert again.returncode == 0, again.stderr[-3000:]
    assert comparable(tmp_path, "crash") == expected
    assert (tmp_path / "reports" / "crash" / "index.html").exists() and _staging(tmp_path) == []
    if point == "render":
        assert "removed 1 staging folder(s) of killed renders" in again.stderr
    _no_repeats(tmp_path)
    assert set(calls(tmp_path)) == set(expected_calls)
    if point.startswith(("score", "report", "render")):
        assert calls(tmp_path) == before  # everything was predicted before the kill: nothing asked again
    else:
        assert before and len(calls(tmp_path)) > len(before)  # work was done both before and after the kill
    if point.startswith("fake-predict"):  # the student's first batch was kept, its second asked after the kill
        student = [n for (model, method, _), n in before.items() if model == "count-student" and method == "predict"]
        assert len(student) == 64


@pytest.mark.slow
def test_journal_restores_progress_when_the_cache_is_lost(tmp_path: Path, reference) -> None:  # noqa: ANN001
    """Killed mid-prediction, then the whole cache deleted: the run folder's journal resumes it."""
    expected, expected_calls = reference
    _killed_at(tmp_path, "fake-predict:8", tmp_path / "cache")
    shutil.rmtree(tmp_path / "cache")
    again = run(tmp_path, "crash", tmp_path / "cache")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "restored" in again.stderr and "from the run journal" in again.stderr
    assert comparable(tmp_path, "crash") == expected
    _no_repeats(tmp_path)  # trained models are trained again (their weights were in the cache); nothing re-asked
    assert set(calls(tmp_path)) == set(expected_calls)


def test_resume_by_sample_content_whatever_the_batch_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Interrupted with batches of 8, resumed with batches of 5: each sample is asked once, answers as whole."""
    import mulcot_bench.runner.stages as stages

    samples = generate(seed=2, train=40, dev=1, test=1).train
    asked: list[str] = []

    def model(batch, fail_at=None):  # noqa: ANN001, ANN202
        if fail_at is not None and len(asked) >= fail_at:
            raise KeyboardInterrupt  # what a kill looks like from inside: the batch never returns
        asked.extend(s.content_hash for s in batch)
        return [Prediction(["positive", "neutral", "negative"][int(s.content_hash, 16) % 3]) for s in batch]

    cache = Cache(tmp_path / "c")
    monkeypatch.setattr(stages, "BATCH", 8)
    with pytest.raises(KeyboardInterrupt):
        cached_calls(cache, "predict-test", "m", samples, lambda b: model(b, fail_at=24), "m")
    assert len(asked) == 24
    monkeypatch.setattr(stages, "BATCH", 5)
    preds, stats = cached_calls(cache, "predict-test", "m", samples, model, "m")
    assert len(asked) == len(set(asked)) == len({s.content_hash for s in samples})
    assert stats.cached == 24
    fresh, _ = cached_calls(Cache(tmp_path / "fresh"), "predict-test", "m", samples, model, "m")
    assert [p.label for p in preds] == [p.label for p in fresh]


def test_journal_lines_are_whole_and_a_cut_line_is_counted(tmp_path: Path) -> None:
    samples = generate(seed=2, train=6, dev=1, test=1).train
    journal = Journal(tmp_path / "journal")
    cache = Cache(tmp_path / "c")
    cache.journal = journal
    cached_calls(cache, "predict-test", "ident", samples, lambda b: [Prediction("neutral") for _ in b], "a/b")
    path = tmp_path / "journal" / "a_b.jsonl"
    lines = path.read_text().splitlines()
    assert len(lines) == len({s.content_hash for s in samples})
    assert all(json.loads(line)["output"]["label"] == "neutral" for line in lines)
    with path.open("ab") as fh:  # a kill in the middle of a write
        fh.write(b'{"model": "a/b", "ns": "predict-test", "key": "12')
    fresh = Cache(tmp_path / "c2")
    counts = journal.replay(fresh)
    assert (counts.lines, counts.restored, counts.skipped) == (len(lines) + 1, len(lines), 1)
    assert counts.skipped_where == [f"a_b.jsonl:{len(lines) + 1}"]
    again, stats = cached_calls(fresh, "predict-test", "ident", samples, lambda b: 1 / 0, "a/b")
    assert stats.computed == 0 and all(p.label == "neutral" for p in again)
