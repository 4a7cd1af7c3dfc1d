"""``torchrun --nproc-per-node 2 -m mulcot_bench run`` (gloo, CPU) against the one-process run, and a killed rank.

The fake models (``tests/fake_plugins/counting.py``: teacher chains, an assistant that samples, a student, a rule
baseline) give the whole pipeline in seconds; the tiny VLM (evaluated from the one-process run's checkpoint, so the
same weights) gives greedy labels and chains from a real decoder with a KV cache, sharded 10 and 10 instead of 20.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakerun import blocked, calls, command, comparable, env

pytest.importorskip("torch")

FAKES = ("count-assistant", "count-student", "count-rule")
SIZES = "20,5,20"
LAUNCH = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
TINY = {"d_model": 32, "layers": 1, "heads": 2, "cnn_channels": 4, "epochs": 2, "max_new_tokens": 40,
        "max_len": 200, "batch_size": 8, "warmup_steps": 2}  # fmt: skip


def _same(a: object, b: object, where: str = "") -> None:
    """Equal, except floats within 1e-6 relative: BERTScore's float32 network is not bit-reproducible across
    processes (two one-process runs differ the same way: docs/results.md, "CI and reproducibility"); labels and
    chains are exact."""
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-9), where
    elif isinstance(a, dict) and isinstance(b, dict):
        assert list(a) == list(b), where
        for k in a:
            _same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _launched(cmd: list[str]) -> list[str]:
    """The same command under torchrun with two ranks (``python -m mulcot_bench.cli ...`` -> ``-m ...``)."""
    assert cmd[1] == "-m"
    return [*LAUNCH, "-m", *cmd[2:]]


def _fake(tmp: Path, run_id: str, ranks: int, *more: str, **extra: str) -> subprocess.CompletedProcess[str]:
    cmd = command(tmp, run_id, tmp / f"cache{ranks}", FAKES, SIZES, *more)
    env_ = env(tmp, OMP_NUM_THREADS="1", **extra)
    return subprocess.run(_launched(cmd) if ranks == 2 else cmd, cwd=tmp, env=env_, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("one")
    done = _fake(tmp, "one", 1)
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp, comparable(tmp, "one")


@pytest.mark.slow
def test_two_ranks_give_the_one_process_results_and_files(tmp_path: Path, one_process) -> None:  # noqa: ANN001
    ref_dir, expected = one_process
    done = _fake(tmp_path, "one", 2)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "data-parallel: 2 ranks (2 on this machine), cache layout shared" in done.stderr
    _same(comparable(tmp_path, "one"), expected)  # scores, identities, every predictions line
    run_dir = tmp_path / "runs" / "one"
    rank1 = (run_dir / "run.rank1.log").read_text()
    assert "[synthetic] step" in rank1 and "[synthetic] step" not in done.stdout
    # the fake models have no DDP support: rank 0 trains each once, rank 1 loads the artifact it stored
    assert "training count-assistant" in (run_dir / "run.log").read_text() and "training count-" not in rank1
    for name in ("results.json", "predictions", "run.log"):
        assert not list(run_dir.glob(f"{name}.rank*"))  # one results.json, one predictions folder, rank 0's log
    journals = sorted(p.name for p in (run_dir / "journal").iterdir())
    assert "count-student.rank1.jsonl" in journals and "count-student.jsonl" in journals
    # each rank asked only its own shard: every (model, call, sample) once over both ranks, as in one process
    assert calls(tmp_path) == calls(ref_dir)


@pytest.mark.slow
def test_a_killed_rank_is_one_line_and_the_rerun_resumes(tmp_path: Path, one_process) -> None:  # noqa: ANN001
    _, expected = one_process
    marker = tmp_path / "marker"
    cmd = _launched(command(tmp_path, "one", tmp_path / "cache2", FAKES, SIZES, "--cache-layout", "sharded"))
    extra = {"MULCOT_BENCH_FAILPOINT": "calls-committed-rank1:2", "MULCOT_BENCH_FAILPOINT_MARKER": str(marker)}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env(tmp_path, OMP_NUM_THREADS="1", **extra),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read()[-3000:] if proc.stderr else ""
        assert time.monotonic() < deadline, "rank 1 did not reach the failpoint"
        time.sleep(0.05)
    os.kill(int(marker.read_text().split()[1]), signal.SIGKILL)  # rank 1, after its second committed batch
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    ours = [line for line in err.splitlines() if "error: rank 0 of 2 " in line]
    assert len(ours) == 1 and "another rank" in ours[0] and "--run-id one to resume" in ours[0], err[-3000:]
    assert "rank      : 1 (local_rank: 1)" in err  # torchrun's report names the killed rank
    before = calls(tmp_path)
    assert before and list((tmp_path / "cache2").glob("cache.rank1.sqlite3"))  # its shard file is left behind
    again = subprocess.run(cmd, cwd=tmp_path, env=env(tmp_path, OMP_NUM_THREADS="1"), capture_output=True,
                           text=True, timeout=300)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert "cache layout sharded" in again.stderr
    _same(comparable(tmp_path, "one"), expected)
    twice = {k: n for k, n in calls(tmp_path).items() if n > 1}
    assert not twice, f"asked again after the kill: {list(twice)[:5]}"  # the shards' and journals' work was kept
    assert not list((tmp_path / "cache2").glob("cache.rank*"))  # rank 0 merged every shard file


@pytest.mark.slow
def test_tiny_vlm_greedy_labels_and_chains_match_across_ranks(tmp_path: Path) -> None:
    pytest.importorskip("mulcot_tiny")
    keep = {"tiny"}
    block = ",".join(p for p in blocked().split(",") if p not in keep)
    base = [sys.executable, "-m", "mulcot_bench", "run", "-d", "synthetic", "--synthetic-size", SIZES, "-m",
            "synthetic-teacher", "-m", "tiny-vlm-assistant", "--bootstrap", "0", "--run-id", "t"]  # fmt: skip
    for k, v in TINY.items():
        base += ["-o", f"tiny-vlm-assistant.{k}={v}"]
    env_ = {**os.environ, "MULCOT_BENCH_BLOCK_PLUGINS": block, "OMP_NUM_THREADS": "1"}

    def where(tag: str) -> list[str]:
        return ["--cache-dir", str(tmp_path / f"c{tag}"), "--runs-dir", str(tmp_path / f"runs{tag}"),
                "--reports-dir", str(tmp_path / f"rep{tag}")]  # fmt: skip

    one = subprocess.run([*base, *where("1")], cwd=tmp_path, env=env_, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    res1 = json.loads((tmp_path / "runs1" / "t" / "results.json").read_text())
    ckpt = next(e["checkpoint"] for e in res1["entries"] if e["model"] == "tiny-vlm-assistant")
    two_cmd = [*LAUNCH, *base[1:], *where("2"), "-o", f"tiny-vlm-assistant.checkpoint={ckpt}"]
    two = subprocess.run(two_cmd, cwd=tmp_path, env=env_, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    res2 = json.loads((tmp_path / "runs2" / "t" / "results.json").read_text())
    _same([e["scores"] for e in res2["entries"]], [e["scores"] for e in res1["entries"]])
    for model in ("synthetic-teacher", "tiny-vlm-assistant"):
        a, b = ([json.loads(line) for line in (tmp_path / f"runs{t}" / "t" / "predictions" / "synthetic" /
                 f"{model}.jsonl").read_text().splitlines()] for t in "12")  # fmt: skip
        assert [(r["id"], r["label"], r["rationale"]) for r in a] == [(r["id"], r["label"], r["rationale"]) for r in b]
        for x, y in zip(a, b, strict=True):  # a batch of 10 instead of 20: float noise in the probabilities only
            assert x["probs"] == pytest.approx(y["probs"], abs=1e-5)
