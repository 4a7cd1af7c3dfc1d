"""Plugin faults are isolated: each is recorded (results.json, leaderboard, exit summary), the rest completes."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest
from fakerun import command, env, plugins_dir, results

from mulcot_bench.cache import Cache
from mulcot_bench.data.synthetic import generate
from mulcot_bench.errors import UserError
from mulcot_bench.faults import ModelFault, ModelTimeout, call_timeout, guarded, parse_timeout
from mulcot_bench.runner.stages import cached_calls
from mulcot_bench.types import Prediction

BROKEN = {
    "broken_import.py": "import no_such_package_for_mulcot_bench\n",
    "broken_register.py": (
        "from mulcot_bench.plugin.hookspecs import hookimpl\n\n\n"
        "@hookimpl\ndef register_models(register):\n    raise RuntimeError('registration broke on purpose')\n"
    ),
}
GOOD = ("count-assistant", "count-rule")
FAULTY = ("count-raise", "count-count", "count-hang", "count-type", "count-unimportable")
REASONS = {
    "count-raise": "raised in predict-test on samples",
    "count-count": "returned 63 outputs for 64 samples in predict-test",
    "count-hang": "did not return from predict-test within 2 s",
    "count-type": "returned a str where a Prediction was expected",
    "count-unimportable": "No module named 'no_such_module_for_mulcot'",
}


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str], float]:
    tmp = tmp_path_factory.mktemp("faults")
    plugins_dir(tmp, BROKEN)
    cmd = command(tmp, "faults", tmp / "cache", (*GOOD, *FAULTY), "60,20,150", "--model-timeout", "2")
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp, env=env(tmp))
    return tmp, proc, time.monotonic() - start


@pytest.mark.slow
def test_each_fault_is_recorded_and_the_rest_completes(faulty_run) -> None:  # noqa: ANN001
    tmp, proc, _ = faulty_run
    assert proc.returncode == 1, proc.stderr[-3000:]
    res = results(tmp, "faults")
    assert {e["model"] for e in res["entries"]} == {"count-teacher", *GOOD}
    assert all(e["n"] == 150 for e in res["entries"])
    by_model = {f["model"]: f for f in res["failures"] if f["model"]}
    for model, reason in REASONS.items():
        assert by_model[model]["what"] == "model" and reason in by_model[model]["reason"], by_model.get(model)
    plugins = {f["reason"].split("'")[1]: f["reason"] for f in res["failures"] if f["what"] == "plugin"}
    assert "No module named 'no_such_package_for_mulcot_bench'" in plugins["broken_import"]
    assert "registration broke on purpose" in plugins["broken_register"]


@pytest.mark.slow
def test_faults_are_in_the_exit_summary_and_on_the_leaderboard(faulty_run) -> None:  # noqa: ANN001
    tmp, proc, _ = faulty_run
    summary = proc.stdout
    assert "3 results, 7 failures" in summary
    page = (tmp / "reports" / "faults" / "index.html").read_text()
    for model in FAULTY:
        assert f"FAILED model {model} on synthetic" in summary
        assert model in page
    for plugin in ("broken_import", "broken_register"):
        assert f"'{plugin}'" in summary and plugin in page


@pytest.mark.slow
def test_a_hung_model_does_not_hang_the_run(faulty_run) -> None:  # noqa: ANN001
    _, proc, seconds = faulty_run
    assert proc.returncode == 1
    assert seconds < 120  # the hung call sleeps an hour; the run waited 2 s for it, once


def test_user_errors_stay_fatal(tmp_path: Path) -> None:
    """An unknown model is the user's input: one line, exit 2, no results."""
    cmd = command(tmp_path, "bad", tmp_path / "cache", ("count-rule", "no-such-model"))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env(tmp_path))
    assert proc.returncode == 2
    assert "unknown model 'no-such-model'" in proc.stderr
    assert not (tmp_path / "runs" / "bad" / "results.json").exists()


def test_bad_timeout_is_a_user_error() -> None:
    for bad in ("0", "-3", "soon"):
        with pytest.raises(UserError, match="must be a positive number of seconds"):
            parse_timeout(bad, "--model-timeout")
    assert parse_timeout("2.5", "x") == 2.5 and parse_timeout(None, "x") is None


def _samples(n: int = 10):  # noqa: ANN202
    return generate(seed=1, train=n, dev=1, test=1).train


def test_timeout_abandons_the_call_and_remembers_the_model() -> None:
    release = threading.Event()
    with call_timeout(0.3):
        start = time.monotonic()
        with pytest.raises(ModelTimeout, match="did not return from predict within 0.3 s"):
            guarded("slow", "predict", lambda: release.wait(30))
        assert time.monotonic() - start < 5
        with pytest.raises(ModelTimeout, match="hung earlier in this run"):
            guarded("slow", "predict", lambda: 1)
        assert guarded("other", "predict", lambda: 7) == 7
    release.set()
    with call_timeout(None):  # a new run forgets hung models; no timeout unless the environment sets one
        assert guarded("slow", "predict", lambda: 3) == 3


def test_timeout_passes_exceptions_and_values_through() -> None:
    with call_timeout(5):
        assert guarded("m", "predict", lambda: [1, 2]) == [1, 2]
        with pytest.raises(ZeroDivisionError):
            guarded("m", "predict", lambda: 1 / 0)


def test_timeout_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from mulcot_bench.faults import current_timeout

    monkeypatch.setenv("MULCOT_BENCH_MODEL_TIMEOUT", "12")
    with call_timeout(None):
        assert current_timeout() == 12
    monkeypatch.setenv("MULCOT_BENCH_MODEL_TIMEOUT", "never")
    with pytest.raises(UserError, match="MULCOT_BENCH_MODEL_TIMEOUT"), call_timeout(None):
        pass


def test_a_fault_keeps_the_batches_done_before_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches answered before a model raises stay cached: a re-run asks only for the rest."""
    import mulcot_bench.runner.stages as stages

    monkeypatch.setattr(stages, "BATCH", 4)
    samples = _samples(10)
    asked: list[str] = []

    def flaky(batch):  # noqa: ANN001, ANN202
        if any(s.id == samples[6].id for s in batch):
            raise RuntimeError("bad sample")
        asked.extend(s.id for s in batch)
        return [Prediction("neutral") for _ in batch]

    cache = Cache(tmp_path)
    with pytest.raises(ModelFault, match=rf"model 'm' raised in predict-test on samples {samples[4].id}\.\."):
        cached_calls(cache, "predict-test", "ident", samples, flaky, "m")
    assert asked == [s.id for s in samples[:4]]

    def steady(batch):  # noqa: ANN001, ANN202
        asked.extend(s.id for s in batch)
        return [Prediction("neutral") for _ in batch]

    asked.clear()
    preds, stats = cached_calls(cache, "predict-test", "ident", samples, steady, "m")
    assert stats.cached == 4 and stats.computed == 6 and len(preds) == 10
    assert asked == [s.id for s in samples[4:]]


def test_training_is_not_under_the_call_timeout(tmp_path: Path) -> None:
    """``prepare`` (build, load, train) may take longer than one call may; a call still may not."""
    samples = _samples(4)
    with call_timeout(0.3):
        preds, _ = cached_calls(
            Cache(tmp_path),
            "predict-test",
            "m",
            samples,
            lambda b: [Prediction("neutral") for _ in b],
            "m",
            prepare=lambda: time.sleep(0.8),
        )
        assert len(preds) == 4
        with pytest.raises(ModelTimeout):
            cached_calls(Cache(tmp_path / "2"), "predict-test", "m2", samples, lambda b: time.sleep(0.8), "m2")
