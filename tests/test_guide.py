"""docs/plugins.md, followed literally: its titled code blocks are written and its commands run.

File blocks (```python title="path"``` / ```toml title="path"```) are written under a temporary folder
outside the repository; command blocks (```bash title="name"```) are run from there, with ``pip install -e``
made offline (``--no-deps --no-build-isolation``) and run outputs sent to temporary folders.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from mulcot_bench.plugin.contract import check_model
from mulcot_bench.plugin.registry import build_registry

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"
BIN = Path(sys.executable).parent
BLOCK = re.compile(r'^```(\w+) title="([^"]+)"\n(.*?)^```', re.S | re.M)


def blocks() -> dict[str, tuple[str, str]]:
    """Title -> (language, body) of every titled block in the guide."""
    found = {title: (lang, body) for lang, title, body in BLOCK.findall(GUIDE.read_text())}
    assert found, "no titled code blocks in docs/plugins.md"
    return found


def commands(title: str) -> list[str]:
    lang, body = blocks()[title]
    assert lang == "bash", title
    return [line for line in body.splitlines() if line.strip()]


def sh(argv: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 180) -> str:
    """Run a command; fail the test with its output when it exits non-zero."""
    done = subprocess.run(argv, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{argv} exited {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def bench(line: str, extra: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
    """A ``mulcot-bench ...`` line (with optional leading VAR=value) as argv for this venv, and its env."""
    words = shlex.split(line)
    env = {}
    while "=" in words[0] and words[0].split("=")[0].isupper():
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    assert words[0] == "mulcot-bench", line
    return [str(BIN / "mulcot-bench"), *words[1:], *(extra or [])], env


def write_files(where: Path) -> list[str]:
    written = []
    for title, (lang, body) in blocks().items():
        if lang in ("python", "toml"):
            path = where / title
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body)
            written.append(title)
    return written


def test_guide_blocks_are_marked() -> None:
    found = blocks()
    assert {"install", "test", "run-one", "run-fast", "run-all", "one-file"} <= set(found)
    assert "mulcot-keywords/mulcot_keywords/plugin.py" in found
    assert commands("run-one") == ["mulcot-bench run -d synthetic -m keyword-baseline"]
    assert commands("run-all") == ["mulcot-bench run --all"]
    assert "docs/plugins.md" in (ROOT / "README.md").read_text()


def test_one_file_plugin_from_the_guide(tmp_path: Path) -> None:
    write_files(tmp_path)
    listing = sh(bench(commands("one-file")[0])[0], cwd=tmp_path)
    assert "always_neutral  [-]  file" in listing and "model: always-neutral  (baseline)" in listing
    registry = build_registry([tmp_path / "my_plugins"])
    assert check_model("always-neutral", registry=registry).ok


@pytest.mark.slow
def test_guide_builds_installs_runs_and_ranks_the_plugin(tmp_path: Path) -> None:
    assert ROOT not in tmp_path.parents
    assert "mulcot-keywords/pyproject.toml" in write_files(tmp_path)
    install, listing, doctor = commands("install")
    assert install == "pip install -e mulcot-keywords"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    try:
        sh([*pip, "install", "--no-deps", "--no-build-isolation", "-e", str(tmp_path / "mulcot-keywords")], tmp_path)
        listed = sh(bench(listing)[0], tmp_path)
        assert "keywords  [mulcot-keywords 0.1.0]  entry point mulcot_keywords.plugin" in listed
        assert "model: keyword-baseline  (baseline)" in listed
        assert "keyword-baseline: ok" in sh(bench(doctor)[0], tmp_path)

        (test_line,) = commands("test")
        folder, _, pytest_cmd = test_line.removeprefix("cd ").partition(" && ")
        assert pytest_cmd == "pytest"
        sh([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], tmp_path / folder)

        (fast,) = commands("run-fast")
        outs = ["--runs-dir", str(tmp_path / "runs"), "--reports-dir", str(tmp_path / "reports"),
                "--cache-dir", str(tmp_path / "cache"), "--run-id", "guide"]
        argv, env = bench(fast, outs)
        assert argv[1:6] == ["run", "-d", "synthetic", "-m", "keyword-baseline"]
        sh(argv, tmp_path, env, timeout=300)
        results = json.loads((tmp_path / "runs" / "guide" / "results.json").read_text())
        (entry,) = [e for e in results["entries"] if e["model"] == "keyword-baseline"]
        assert (entry["role"], entry["plugin"], entry["plugin_version"]) == ("baseline", "keywords", "0.1.0")
        assert entry["dataset"] == "synthetic" and entry["n"] == 20 and not results["failures"]
        assert "keyword-baseline" in (tmp_path / "reports" / "guide" / "index.html").read_text()
    finally:
        subprocess.run([*pip, "uninstall", "-y", "mulcot-keywords"], capture_output=True, timeout=120)
