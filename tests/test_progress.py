"""Progress and logging: training lines, throttling, the heartbeat, -v/-q, run.log, quiet third-party bars, and
the score table (on a fake run, against its results.json)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakerun import results, run

from mulcot_bench.console import logs
from mulcot_bench.console.fit import fit_reporter
from mulcot_bench.report.format import format_score
from mulcot_bench.runner import progress
from mulcot_bench.types import FitContext


@pytest.fixture(autouse=True)
def _normal_console() -> Iterator[None]:
    logs.setup(logs.NORMAL)
    yield
    logs.setup(logs.NORMAL)


def _err(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.splitlines()


def test_epoch_lines_name_epoch_step_loss_dev_scores_and_eta(capsys: pytest.CaptureFixture[str]) -> None:
    ctx = FitContext(seed=1, dataset="d", level="aspect", progress=progress.fit_progress("d", "m"))
    rep = fit_reporter(ctx, "fit m", 4)
    rep.epoch({"epoch": 1, "step": 5, "steps": 20, "loss": 1.25, "dev_accuracy": 0.5, "dev_macro_f1": 0.4})
    rep.epoch({"epoch": 2, "loss": 1.0, "dev_chain_ce": 3.2})
    rep.close()
    first, second = _err(capsys)
    assert first.startswith("[d] m epoch 1/4, step 5/20, loss 1.2500, dev accuracy 0.500, macro-F1 0.400, elapsed ")
    assert ", ETA " in first
    assert second.startswith("[d] m epoch 2/4, loss 1.0000, dev_chain_ce 3.2, elapsed ")


def test_step_lines_wait_for_silence(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    lines = progress.FitLines("[d] m", 2)
    lines.step({"epoch": 1, "epochs": 2, "step": 1, "steps": 100, "loss": 2.0})
    assert _err(capsys) == []  # the last line (the start) is recent
    monkeypatch.setattr(progress, "LINE_EVERY", 0.0)
    lines.step({"epoch": 1, "epochs": 2, "step": 40, "steps": 100, "loss": 1.5})
    (line,) = _err(capsys)
    assert line.startswith("[d] m epoch 1/2, step 40/100, loss 1.5000, elapsed ") and "ETA" in line


def test_reporter_serves_bars_with_update_only_and_no_hook() -> None:
    class Bar:
        n = 0

        def update(self, k: int) -> None:
            self.n += k

    bar = Bar()
    rep = fit_reporter(FitContext(seed=1, dataset="d", level="post", progress=lambda desc, total: bar), "fit m", 3)
    rep.epoch({"epoch": 1, "loss": 0.1})
    rep.step({"step": 1})
    rep.close()
    assert bar.n == 1
    silent = fit_reporter(FitContext(seed=1, dataset="d", level="post"), "fit m", 3)
    silent.epoch({"epoch": 1})
    silent.step({"step": 1})
    silent.close()


def test_heartbeat_speaks_only_after_silence(capsys: pytest.CaptureFixture[str]) -> None:
    logs.log("start")
    with progress.heartbeat("[d] m", every=0.3):
        time.sleep(1.0)
    err = _err(capsys)
    assert err[0] == "start" and len(err) >= 2
    assert all(x.startswith("[d] m: still training (") for x in err[1:])
    with progress.heartbeat("[d] m", every=30.0):
        time.sleep(0.3)
    assert _err(capsys) == []


def test_quiet_keeps_warnings_and_verbose_adds_debug(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup(logs.QUIET)
    logs.log("an info line")
    logs.warn("a warning line")
    assert _err(capsys) == ["warning: a warning line"]
    logs.setup(logs.VERBOSE)
    logs.log("a debug line", logging.DEBUG)
    assert _err(capsys) == ["a debug line"]


def test_run_log_keeps_the_lines_from_before_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with logs.run_log():
        logs.log("pre-flight line")
        logs.open_run_log(tmp_path)
        logs.log("work line")
    logs.log("after the run")
    logs.append_run_log(tmp_path, "closing text\n")
    text = (tmp_path / "run.log").read_text()
    assert [line.split(None, 3)[-1] for line in text.splitlines()[:2]] == ["pre-flight line", "work line"]
    assert "after the run" not in text and text.endswith("closing text\n")


def test_third_party_bars_are_off_unless_verbose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(logs.HUB_BARS_ENV, raising=False)
    logs.setup(logs.VERBOSE)
    assert logs.HUB_BARS_ENV not in os.environ
    logs.setup(logs.NORMAL)
    assert os.environ[logs.HUB_BARS_ENV] == "1"
    monkeypatch.setenv(logs.HUB_BARS_ENV, "0")  # the user's own choice is kept
    logs.setup(logs.QUIET)
    assert os.environ[logs.HUB_BARS_ENV] == "0"


def test_fake_run_ends_with_the_score_table_and_keeps_run_log(tmp_path: Path) -> None:
    done = run(tmp_path, "t", tmp_path / "cache", "--bootstrap", "200")
    assert done.returncode == 0, done.stderr[-2000:]
    res = results(tmp_path, "t")
    table = done.stdout[done.stdout.index("synthetic (test, n=150;") :].splitlines()
    assert [c.strip() for c in table[1].split("|")[1:-1]] == ["model", "accuracy", "macro-F1", "BLEU-4", "BERTScore-F1"]
    rows = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[2:-1]] for r in table[3:]}
    assert set(rows) == {e["model"] for e in res["entries"]}
    for e in res["entries"]:
        low, high = e["intervals"]["accuracy"]
        shown = f"{format_score(e['scores']['accuracy'], 'accuracy')} "
        assert rows[e["model"]][0] == shown + f"[{format_score(low, 'accuracy')}, {format_score(high, 'accuracy')}]"
    err = done.stderr.splitlines()
    assert any(x.startswith("pre-flight: 1 dataset(s) to run") for x in err)
    assert "pre-flight: data view: synthetic reference" in err  # the training data each dataset's chain models see
    assert next(i for i, x in enumerate(err) if x.startswith("pre-flight")) < next(
        i for i, x in enumerate(err) if "step 1/" in x
    )
    log = (tmp_path / "runs" / "t" / "run.log").read_text()
    assert "pre-flight: 1 dataset(s) to run" in log and "synthetic (test, n=150;" in log
    quiet = run(tmp_path, "q", tmp_path / "cache", "-q")
    assert quiet.returncode == 0 and quiet.stderr == "" and "| model" in quiet.stdout
