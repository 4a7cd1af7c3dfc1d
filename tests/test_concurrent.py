"""One cache, several processes; and cache entries never shared between models or settings."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from fakerun import FAKE, calls, command, comparable, env

from mulcot_bench.cache import Cache
from mulcot_bench.data.synthetic import generate
from mulcot_bench.plugin.registry import build_registry
from mulcot_bench.runner.pipeline import DatasetPipeline

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from mulcot_bench.cache import Cache
    time.sleep(max(0.0, float(sys.argv[3]) - time.time()))  # every writer opens the fresh cache at once
    cache = Cache(Path(sys.argv[1]))
    who = sys.argv[2]
    for i in range(150):
        cache.put_many("ns", {f"{who}-{i}-{j}": {"who": who, "i": i, "j": j} for j in range(5)})
        cache.get_many("ns", [f"a-{i}-0", f"b-{i}-0"])
    print("done", who)
    """
)


def test_two_processes_write_one_cache_at_once(tmp_path: Path) -> None:
    """Both open a cache that does not exist yet at the same moment (SQLite's switch to WAL does not wait on a
    busy lock, so the cache retries it), then write and read interleaved."""
    start = str(time.time() + 3)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path / "c"), who, start], stdout=subprocess.PIPE, text=True
        )
        for who in ("a", "b")
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    cache = Cache(tmp_path / "c")
    found = cache.get_many("ns", [f"{who}-{i}-{j}" for who in "ab" for i in range(150) for j in range(5)])
    assert len(found) == 2 * 150 * 5
    mode = cache._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


@pytest.mark.slow
def test_two_runs_started_at_once_on_one_cache(tmp_path: Path) -> None:
    """Two ``run`` processes share a cache; a third, alone on its own cache, gives the reference."""
    sizes = "200,30,400"
    jobs = {
        "a": (tmp_path / "shared", tmp_path / "a"),
        "b": (tmp_path / "shared", tmp_path / "b"),
        "ref": (tmp_path / "own", tmp_path / "ref"),
    }
    procs = {}
    for run_id, (cache, tmp) in jobs.items():
        tmp.mkdir()
        cmd = command(tmp, run_id, cache, ("count-assistant", "count-student", "count-rule"), sizes)
        procs[run_id] = subprocess.Popen(
            cmd, cwd=tmp, env=env(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    for run_id, p in procs.items():
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, f"{run_id}: {err[-3000:]}"
    ref = comparable(jobs["ref"][1], "ref")
    assert len(ref) == 4  # teacher, assistant, student, baseline
    assert comparable(jobs["a"][1], "a") == ref
    assert comparable(jobs["b"][1], "b") == ref
    # whatever was computed twice (both processes missing the same entry at once), nothing was lost
    shared = calls(jobs["a"][1]) + calls(jobs["b"][1])
    assert set(shared) == set(calls(jobs["ref"][1]))


@pytest.fixture()
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    from fakerun import blocked

    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "counting.py").write_text(FAKE.read_text())
    monkeypatch.setenv("MULCOT_BENCH_BLOCK_PLUGINS", blocked())
    monkeypatch.delenv("FAKE_CALLS_FILE", raising=False)
    return build_registry([folder])


def test_models_and_settings_never_share_entries(tmp_path: Path, registry) -> None:  # noqa: ANN001
    """Same class, two settings; and two models: each one's cached answers are its own, on one cache."""
    data = generate(seed=5, train=20, dev=5, test=40)
    names = ["count-rule", "count-rule-shifted", "count-faulty"]
    cache = Cache(tmp_path / "cache")
    pipe = DatasetPipeline(registry, data, cache, 42, names, "count-teacher")
    runs = {n: pipe.evaluate(n) for n in names}
    labels = {n: [p.label for p in r.predictions] for n, r in runs.items()}
    for n in names:  # each equals the model's own answers, computed fresh without a cache
        assert labels[n] == [p.label for p in registry.model(n).build().predict(data.test)]
    assert labels["count-rule"] != labels["count-rule-shifted"]
    # count-faulty behaves like count-rule here (no fault set): same answers, yet its own entries
    assert labels["count-rule"] == labels["count-faulty"]
    unique = len({s.content_hash for s in data.test})
    rows = cache._db.execute("SELECT COUNT(*) FROM kv WHERE ns = 'predict-test'").fetchone()[0]
    assert rows == len(names) * unique
    again = DatasetPipeline(registry, data, cache, 42, names, "count-teacher")
    assert all(again.evaluate(n).cached for n in names)


def test_identity_covers_version_and_every_setting(
    tmp_path: Path,
    registry,  # noqa: ANN001
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Plugin version and any card setting (a prompt template's hash included) change the cache identity."""
    from dataclasses import replace

    from mulcot_bench.plugin.specs import ModelSpec

    pipe = DatasetPipeline(registry, generate(seed=5, train=10, dev=5, test=5), Cache(tmp_path / "c"), 42, [])
    spec = registry.models["count-rule"]
    seen = {pipe.identity("count-rule")}
    for extra in ({"prompt_template_hash": "0" * 64}, {"prompt_template_hash": "1" * 64}, {"shift": 2}):
        card = replace(spec.card, settings={**spec.card.settings, **extra})
        monkeypatch.setitem(registry.models, "count-rule", ModelSpec(card, spec.factory))
        seen.add(pipe.identity("count-rule"))
    assert len(seen) == 4
    monkeypatch.setitem(registry.models, "count-rule", spec)
    info = registry.loaded.info(registry.plugin_of("models", "count-rule"))
    monkeypatch.setattr(info, "version", "9.9")
    assert pipe.identity("count-rule") not in seen
