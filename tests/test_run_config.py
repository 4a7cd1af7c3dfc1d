"""``run --config FILE.toml``: the same results as the same flags, flags override the file, one-line errors, the
file in the provenance, and its values reach a launcher's jobs."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from mulcot_bench.cli.run import eval_cmd, job_args, run_cmd

FLAGS = ("-d", "synthetic", "-m", "majority", "-m", "text-tfidf-lr", "--synthetic-size", "60,20,40",
         "--bootstrap", "0", "--seed", "7", "-o", "text-tfidf-lr.C=2.0", "--jobs", "1")  # fmt: skip
CONFIG = """\
# the same run as FLAGS
dataset = ["synthetic"]
model = ["majority", "text-tfidf-lr"]
synthetic-size = "60,20,40"
bootstrap = 0
seed = 7
model-arg = ["text-tfidf-lr.C=2.0"]
jobs = 1
"""


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mulcot_bench", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def results(folder: Path, run_id: str) -> dict[str, Any]:
    return json.loads((folder / "runs" / run_id / "results.json").read_text())


def entries(run: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    """Model -> what must not depend on how the options were given: scores, identity, settings, n, seed."""
    return {e["model"]: (e["scores"], e["identity"], e["settings"], e["n"], e["seed"]) for e in run["entries"]}


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_a_file_gives_the_same_results_as_the_same_flags_and_is_recorded(tmp_path: Path, config: Path) -> None:
    by_flags = cli("run", *FLAGS, "--run-id", "flags", cwd=tmp_path)
    assert by_flags.returncode == 0, by_flags.stderr
    by_file = cli("run", "--config", "run.toml", "--run-id", "file", cwd=tmp_path)
    assert by_file.returncode == 0, by_file.stderr
    flags, file = results(tmp_path, "flags"), results(tmp_path, "file")
    assert set(entries(file)) == {"majority", "text-tfidf-lr"}
    assert entries(file) == entries(flags)
    assert entries(file)["text-tfidf-lr"][2]["C"] == 2.0 and entries(file)["majority"][3] == 40
    assert flags["provenance"]["config"] is None
    recorded = file["provenance"]["config"]
    assert recorded["path"] == str(config.resolve())
    assert recorded["sha256"] == hashlib.sha256(config.read_bytes()).hexdigest()
    assert recorded["content"] == tomllib.loads(CONFIG)
    assert file["provenance"]["seed"] == 7


def test_a_flag_overrides_the_file(tmp_path: Path, config: Path) -> None:
    done = cli("run", "--config", str(config), "--seed", "3", "-o", "text-tfidf-lr.C=0.5", "-m", "majority",
               "--run-id", "over", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    run = results(tmp_path, "over")
    assert run["provenance"]["seed"] == 3
    assert set(entries(run)) == {"majority"}  # a repeatable flag replaces the file's list
    assert entries(run)["majority"][3] == 40  # what the flags leave alone comes from the file


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('datasets = ["synthetic"]\n', "unknown key 'datasets'; did you mean 'dataset'?"),
        ("resamples = 0\n", "unknown key 'resamples'; did you mean 'bootstrap'?"),
        ('seed = "7"\n', "seed: expected a whole number (got '7')"),
        ("seed = true\n", "seed: expected a whole number (got True)"),
        ("synthetic-size = [60, 20, 40]\n", "synthetic-size: expected a string (got a list)"),
        ("model = [1]\n", "model: expected a string or a list of them (got 1)"),
        ("strict = 1\n", "strict: expected true or false (got 1)"),
        ('protocol = "paper"\n', "protocol: 'paper' is not one of 'auto', 'reference', 'released-rationales'"),
        ("bootstrap = -1\n", "bootstrap: -1 is not in the range x>=0"),
        ("[seed]\nx = 1\n", "seed: expected a whole number (got a table)"),
        ("seed = 7\nbootstrap = \n", "not valid TOML: Invalid value (at line 2, column 13)"),
        ('dataset = ["synthetic"\n', "not valid TOML"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_and_the_key(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    done = cli("run", "--config", str(path), "--jobs", "1", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"error: config {path}: ") and says in done.stderr
    assert not (tmp_path / "runs").exists()


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    done = cli("run", "--config", "nope.toml", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr == "error: config nope.toml: no such file\n"


def test_launcher_jobs_repeat_the_file_values_as_flags(config: Path) -> None:
    config.write_text(CONFIG + 'quiet = false\nplugins-dir = ["here"]\n', encoding="utf-8")
    ctx = run_cmd.make_context("run", ["--config", str(config), "--seed", "3"])
    with ctx:
        args = job_args(ctx)
    assert "--config" not in args and "--dataset" not in args and "--model" not in args and "--jobs" not in args
    assert args[args.index("--seed") + 1] == "3"
    assert args[args.index("--synthetic-size") + 1] == "60,20,40"
    assert args[args.index("--bootstrap") + 1] == "0"
    assert args[args.index("--model-arg") + 1] == "text-tfidf-lr.C=2.0"
    assert args[args.index("--plugins-dir") + 1] == str(Path("here").resolve())
    assert "--quiet" not in args


def test_eval_takes_its_models_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "eval.toml"
    path.write_text('model = ["majority"]\ndataset = "synthetic"\n', encoding="utf-8")
    ctx = eval_cmd.make_context("eval", ["--config", str(path)])
    assert ctx.params["models"] == ("majority",) and ctx.params["datasets"] == ("synthetic",)
    assert eval_cmd.make_context("eval", ["--config", str(path), "text-tfidf-lr"]).params["models"] == (
        "text-tfidf-lr",
    )


def test_a_fanned_out_run_gives_its_jobs_the_file_values(tmp_path: Path, config: Path) -> None:
    one = cli("run", "--config", "run.toml", "--run-id", "one", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    fanned = cli("run", "--config", "run.toml", "--launcher", "local", "--run-id", "fanned", cwd=tmp_path)
    assert fanned.returncode == 0, fanned.stderr
    run = results(tmp_path, "fanned")
    assert run["provenance"]["launcher"]["jobs"] and run["provenance"]["config"]["content"] == tomllib.loads(CONFIG)
    assert entries(run) == entries(results(tmp_path, "one"))
