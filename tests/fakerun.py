"""Helpers for tests that run ``mulcot-bench run`` on the fake models of ``tests/fake_plugins/counting.py``.

Only the built-in plugins and the fake plugin file load (every installed entry-point plugin is blocked), so
these runs take seconds and do not depend on what other plugins are installed.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

FAKE = Path(__file__).parent / "fake_plugins" / "counting.py"
MODELS = ("count-assistant", "count-student", "count-rule", "count-rule-shifted")
SIZES = "60,20,150"  # test split of 150: three prediction batches of 64, 64 and 22


def plugins_dir(tmp: Path, extra: dict[str, str] | None = None) -> Path:
    """A plugin folder holding the fake plugin file (and ``extra`` files: name -> source)."""
    folder = tmp / "plugins"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "counting.py").write_text(FAKE.read_text())
    for name, text in (extra or {}).items():
        (folder / name).write_text(text)
    return folder


def blocked() -> str:
    """Every installed entry-point plugin, for ``MULCOT_BENCH_BLOCK_PLUGINS``."""
    return ",".join(sorted({ep.name for ep in importlib.metadata.entry_points(group="mulcot_bench")}))


def env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a fake run: no entry-point plugins, the calls file, offline."""
    out = {k: v for k, v in os.environ.items() if not k.startswith(("MULCOT_BENCH_", "FAKE_"))}
    out.update(
        MULCOT_BENCH_BLOCK_PLUGINS=blocked(),
        FAKE_CALLS_FILE=str(tmp / "calls.txt"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONUNBUFFERED="1",
        MULCOT_BENCH_JOBS="1",
        # no latency probe: it asks the model again on purpose, and these runs count what was asked twice
        MULCOT_BENCH_PROBE_ITEMS="0",
    )
    out.update(extra)
    return out


def command(
    tmp: Path, run_id: str, cache: Path, models: tuple[str, ...] = MODELS, sizes: str = SIZES, *more: str
) -> list[str]:
    """The ``mulcot-bench run`` command line of a fake run."""
    cmd = [sys.executable, "-m", "mulcot_bench.cli", "run", "-d", "synthetic", "--teacher", "count-teacher"]
    for m in models:
        cmd += ["-m", m]
    cmd += ["--plugins-dir", str(plugins_dir(tmp)), "--cache-dir", str(cache), "--run-id", run_id]
    cmd += ["--runs-dir", str(tmp / "runs"), "--reports-dir", str(tmp / "reports"), "--synthetic-size", sizes]
    cmd += ["--bootstrap", "0", *more]
    return cmd


def run(tmp: Path, run_id: str, cache: Path, *more: str, timeout: float = 300, **env_extra: str):  # noqa: ANN201
    """Run to the end; the CompletedProcess."""
    return subprocess.run(
        command(tmp, run_id, cache, MODELS, SIZES, *more),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp,
        env=env(tmp, **env_extra),
    )


def results(tmp: Path, run_id: str) -> dict[str, Any]:
    return json.loads((tmp / "runs" / run_id / "results.json").read_text())


def comparable(tmp: Path, run_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """What must not depend on crashes, caches or timing: per (model, dataset) scores, counts and predictions."""
    res = results(tmp, run_id)
    out = {}
    for e in res["entries"]:
        lines = (tmp / "runs" / run_id / e["predictions_file"]).read_text().splitlines()
        out[(e["model"], e["dataset"])] = {
            "scores": e["scores"],
            "n": e["n"],
            "invalid": e["invalid"],
            "confusion": e["confusion"],
            "identity": e["identity"],
            "predictions": [json.loads(line) for line in lines],
        }
    return out


def calls(tmp: Path) -> Counter[tuple[str, str, str]]:
    """How many times each (model, method, sample content) was answered, from the fake plugin's calls file."""
    path = tmp / "calls.txt"
    if not path.exists():
        return Counter()
    return Counter(tuple(line.split("\t")) for line in path.read_text().splitlines() if line)  # type: ignore[misc]


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``mulcot-bench ARGS`` in a subprocess with every installed plugin (``env`` added to this environment)."""
    return subprocess.run(
        [sys.executable, "-m", "mulcot_bench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )
