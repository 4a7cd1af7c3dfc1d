"""Whole ``mulcot-bench run`` commands against the fake endpoint: a broken server is a failed model (exit 1, no
scored row, nothing cached) and is asked again once fixed; a kill loses at most the calls in flight."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_openai_server import FakeOpenAI

CLI = str(Path(sys.executable).parent / "mulcot-bench")
BLOCKED = "features,tiny,baselines,replay"  # the other model plugins are not what these tests are about


def _env(tmp: Path, fake: FakeOpenAI) -> dict[str, str]:
    return {
        **os.environ,
        "MULCOT_BENCH_CACHE": str(tmp / "cache"),
        "MULCOT_BENCH_BLOCK_PLUGINS": BLOCKED,
        "MULCOT_OPENAI_BASE_URL": fake.url,
        "MULCOT_OPENAI_MODEL": "fake-vlm",
        "MULCOT_OPENAI_MAX_ATTEMPTS": "2",
    }


def _results(tmp: Path, run_id: str) -> dict:
    return json.loads((tmp / "runs" / run_id / "results.json").read_text())


@pytest.mark.slow  # the second run scores (BERTScore's model loads): about 15 s on 2 busy cores
def test_a_server_answering_500_is_a_failed_model_never_cached_and_asked_again_once_fixed(
    fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = [CLI, "run", "-d", "synthetic", "-m", "openai-zero-shot", "--synthetic-size", "6,3,5"]
    fake.broken = True
    first = subprocess.run([*args, "--run-id", "a"], env=_env(tmp_path, fake), capture_output=True, text=True,
                           timeout=300)  # fmt: skip
    assert first.returncode == 1, first.stderr[-2000:]
    res = _results(tmp_path, "a")
    assert res["entries"] == []  # never a scored row
    [failure] = [f for f in res["failures"] if f["model"] == "openai-zero-shot"]
    assert "got no answer" in failure["reason"] and "HTTP 500" in failure["reason"]
    assert "FAILED" in first.stdout and first.stdout.count("got no answer") == 1
    journal = tmp_path / "runs" / "a" / "journal"
    assert not any(p.stat().st_size for p in journal.rglob("*") if p.is_file())  # nothing journalled as an answer
    assert all(r["kind"] in ("chain", "label") for r in fake.requests)  # no teacher stage for a zero-shot model
    assert fake.count() < 5 * 2 * 2 + 1  # the first group of calls failed entirely: the rest was not asked

    fake.broken = False
    fake.requests.clear()
    second = subprocess.run([*args, "--run-id", "b"], env=_env(tmp_path, fake), capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert second.returncode == 0, second.stderr[-2000:]
    [entry] = _results(tmp_path, "b")["entries"]
    assert entry["model"] == "openai-zero-shot" and entry["n"] == 5
    assert sorted(r["kind"] for r in fake.requests) == ["chain"] * 5 + ["label"] * 5  # every item asked again


def test_a_kill_during_the_teacher_stage_loses_at_most_the_calls_in_flight(
    fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    fake.latency = 0.01
    env = {**_env(tmp_path, fake), "MULCOT_OPENAI_CONCURRENCY": "4"}
    # a student-less run whose only work is the teacher stage of 200 items: -m openai-zero-shot with --teacher
    # would skip stage 1, so ask for the teacher's own row (its 200-item stage runs first)
    args = [CLI, "run", "-d", "synthetic", "-m", "openai", "--teacher", "openai", "--synthetic-size", "200,3,3"]
    proc = subprocess.Popen([*args, "--run-id", "a"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while fake.count() < 60:
        assert proc.poll() is None, proc.stderr.read()[-2000:]  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the run did not reach the teacher stage"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    time.sleep(0.2)  # requests already sent finish on the server
    first = [r["text"] for r in fake.requests if r["kind"] == "chain"]
    assert 60 <= len(first) < 200, len(first)
    fake.requests.clear()
    # the rerun stops after the teacher stage: the test of the row is not what this test is about
    env["MULCOT_BENCH_FAILPOINT"] = "score"
    env["MULCOT_BENCH_FAILPOINT_MARKER"] = str(tmp_path / "marker")
    rerun = subprocess.Popen([*args, "--run-id", "a"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)  # fmt: skip
    deadline = time.monotonic() + 240
    while not (tmp_path / "marker").exists():
        assert rerun.poll() is None, rerun.stderr.read()[-2000:]  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    rerun.kill()
    rerun.communicate(timeout=60)
    second = [r["text"] for r in fake.requests if r["kind"] == "chain"]
    # every train item is asked for its chain once across the kill, except the calls in flight when it came
    # (at most one group of MULCOT_OPENAI_CONCURRENCY); the 3 test items are asked by the rerun
    lost = len(first) + len(second) - (200 + 3)
    assert lost <= 4, f"{lost} finished calls were asked again after the kill"
    assert len(second) < 200  # resumed: the answers before the kill came from the cache


def test_an_endpoint_that_refuses_connections_fails_fast_with_one_line(tmp_path: Path, monkeypatch) -> None:
    import socket

    monkeypatch.chdir(tmp_path)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MULCOT_BENCH_CACHE": str(tmp_path / "cache"), "MULCOT_BENCH_BLOCK_PLUGINS": BLOCKED,
           "MULCOT_OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1", "MULCOT_OPENAI_MODEL": "m"}  # fmt: skip
    args = [CLI, "run", "-d", "synthetic", "-m", "openai-zero-shot", "--synthetic-size", "6,3,3", "--run-id", "a"]
    start = time.monotonic()
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and time.monotonic() - start < 60
    url = f"http://127.0.0.1:{port}/v1/models"
    assert proc.stderr.count(url) == 1 and proc.stdout.count(url) == 1  # said once as it happens, once at the end
    res = _results(tmp_path, "a")
    assert res["entries"] == [] and [f["model"] for f in res["failures"]] == ["openai-zero-shot"]


def test_the_endpoint_set_as_model_arguments_alone_reaches_a_text_only_server(tmp_path: Path, monkeypatch) -> None:
    """``-o`` instead of the environment: base URL, model name and ``images=off`` go on the card (and into the
    results); a text-only server is then sent plain strings only."""
    monkeypatch.chdir(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MULCOT_OPENAI_", "OPENAI_"))}
    env.update(MULCOT_BENCH_CACHE=str(tmp_path / "cache"), MULCOT_BENCH_BLOCK_PLUGINS=BLOCKED)
    with FakeOpenAI(text_only=True) as server:
        args = [CLI, "run", "-d", "synthetic", "-m", "openai-zero-shot", "--synthetic-size", "6,3,4", "--run-id", "a",
                "--bootstrap", "0", "-o", f"openai-zero-shot.base_url={server.url}",
                "-o", "openai-zero-shot.model=smollm2", "-o", "openai-zero-shot.images=off"]  # fmt: skip
        proc = subprocess.run([*args, "-o", "openai-zero-shot.concurrency=1"], env=env, capture_output=True, text=True,
                              timeout=300)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        asked = len(server.requests)
        assert asked and not any(r["listed"] for r in server.requests)
        # a runtime option is recorded but is not in the cache identity: without it, every answer comes from the cache
        rerun = list(args)
        rerun[args.index("--run-id") + 1] = "b"
        again = subprocess.run(rerun, env=env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr[-2000:]
        assert len(server.requests) == asked
    [entry] = _results(tmp_path, "a")["entries"]
    assert entry["n"] == 4 and entry["settings"]["images"] == "off" and entry["settings"]["model"] == "smollm2"
    assert entry["runtime"]["concurrency"] == 1 and "concurrency" not in entry["settings"]
    assert _results(tmp_path, "b")["entries"][0]["identity"] == entry["identity"]
    bad = subprocess.run([*args[:-1], "openai-zero-shot.images=sometimes"], env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert bad.returncode != 0 and "images='sometimes'; use one of" in bad.stderr + bad.stdout


@pytest.mark.slow  # trains enc-assistant on 24 items and scores its chains: about a minute on 2 busy cores
def test_the_teacher_writes_references_on_a_text_only_copy_and_chain_models_get_reasoning_scores(
    fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = Path(__file__).resolve().parents[4] / "shared" / "data" / "twitter2017"
    if not shared.is_dir():
        pytest.skip(f"real data not found at {shared} (the shared read-only data folder); this test needs it")
    copy = tmp_path / "data" / "twitter2017"  # the split files without any image: a text-only copy
    copy.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        (copy / f"{split}.tsv").write_bytes((shared / f"{split}.tsv").read_bytes())
    monkeypatch.chdir(tmp_path)
    args = [CLI, "run", "-d", "twitter2017", "--data-root", str(tmp_path / "data"), "-m", "enc-assistant",
            "--teacher", "openai", "--limit", "24,8,12", "--bootstrap", "0", "--run-id", "text"]  # fmt: skip
    done = subprocess.run(args, env=_env(tmp_path, fake), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "text-only copy(ies) (no images): twitter2017" in done.stderr
    res = _results(tmp_path, "text")
    (record,) = res["datasets"]
    assert record["modality"] == "text"
    assert record["references"]["source"] == "teacher" and record["references"]["teacher_written"] == 12
    (entry,) = [e for e in res["entries"] if e["model"] == "enc-assistant"]
    assert entry["inputs"] == ["text"] and entry["n"] == 12
    assert entry["scores"]["bleu4"] is not None and entry["scores"]["bertscore_f1"] is not None
    assert {r["kind"] for r in fake.requests} >= {"chain"}  # the teacher wrote the training and test chains
