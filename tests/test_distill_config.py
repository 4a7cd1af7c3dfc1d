"""Distillation config: profiles, validation errors, overrides on the cards, print-config, and a tiny distill run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mulcot_bench.distill.config import apply, config_text, load_config, profile_names, stage_overrides
from mulcot_bench.errors import UserError
from mulcot_bench.plugin.registry import build_registry


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mulcot_bench", *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_profiles_ship_and_validate() -> None:
    assert {"cpu-tiny", "cpu-smol", "paper"} <= set(profile_names())
    for name in profile_names():
        loaded = load_config(name)
        assert loaded.config.profile == name and loaded.config.seed == 42


def test_paper_print_config_shows_every_reference_hyper_parameter() -> None:
    done = _cli("distill", "--profile", "paper", "--print-config")
    assert done.returncode == 0, done.stderr
    fields = {}
    for line in done.stdout.splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        name, _, rest = line.partition("=")
        fields[name.strip()] = rest.split("#")[0].strip()
    expect_both = {
        "training.optimizer": '"adamw"',
        "training.lr": "0.0003",
        "training.batch_size": "2",
        "training.grad_accum": "20",
        "training.epochs": "20",
        "training.plateau_patience": "2",
        "training.plateau_factor": "0.5",
        "training.min_lr": "1e-06",
        "lora.r": "16",
        "lora.alpha": "32",
        "lora.targets": '["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]',
        "images.resize": "280",
        "generation.decoding": '"greedy"',
        "generation.max_new_tokens": "512",
    }
    for role in ("assistant", "student"):
        for key, value in expect_both.items():
            assert fields[f"{role}.{key}"] == value, (role, key, fields.get(f"{role}.{key}"))
    assert fields["assistant.lora.dropout"] == "0.2" and fields["student.lora.dropout"] == "0.05"
    assert fields["seed"] == "42" and fields["augmentation.temperature"] == "0.7"
    assert fields["student.kd.lambda"] == "0.3" and fields["student.kd.temperature"] == "2.0"
    assert fields["student.kd.t2"] == "false" and fields["student.kd.mask"] == '"reference"'
    assert fields["assistant.model"] == '"qwen2.5-vl-assistant"' and fields["student.model"] == '"qwen2.5-vl-student"'
    assert "labels != 0" in done.stdout  # the mask choice is stated


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('extends = "cpu-tiny"\n[student.kd]\nlamda = 0.5\n', "student.kd.lamda: unknown key"),
        ('extends = "cpu-tiny"\n[student.training]\nepochs = "ten"\n', "student.training.epochs: Input should be"),
        ('extends = "cpu-tiny"\n[student.kd]\nmask = "all"\n', "student.kd.mask:"),
        ('extends = "cpu-tiny"\nseed = [1]\n', "seed:"),
        ("[assistant]\nmodel = 'x'\n", "student: Field required"),
        ('extends = "no-such"\n', "unknown distillation profile 'no-such'"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_bad_config_is_one_line_naming_file_and_key(tmp_path: Path, body: str, needle: str) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(body)
    with pytest.raises(UserError) as err:
        load_config(None, path)
    message = str(err.value)
    assert needle in message and "\n" not in message
    if "profile" not in needle:
        assert str(path) in message


def test_cli_error_exit_code_and_single_line(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('extends = "cpu-tiny"\n[student.kd]\nlamda = 0.5\n')
    done = _cli("distill", "--config", str(path), "--print-config")
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("warning:")]
    assert lines == [f"error: config {path}: student.kd.lamda: unknown key"]


def test_cpu_tiny_changes_no_card_and_a_user_file_overrides(tmp_path: Path) -> None:
    pytest.importorskip("mulcot_tiny")
    registry = build_registry()
    before = {n: dict(registry.model(n).card.settings) for n in ("tiny-vlm-assistant", "tiny-vlm-student")}
    loaded = load_config("cpu-tiny")
    apply(loaded.config, registry, "cpu-tiny")
    assert {n: registry.model(n).card.settings for n in before} == before  # same cache identities as `run`
    path = tmp_path / "mine.toml"
    path.write_text(
        'extends = "cpu-tiny"\nseed = 7\n[student.kd]\nlambda = 0.5\ntop_k = 0\n[student.settings]\nd_model = 32\n'
    )
    loaded = load_config(None, path)
    assert stage_overrides(loaded.config.student) == {"kd_lambda": 0.5, "kd_top_k": 0, "d_model": 32}
    apply(loaded.config, registry, str(path))
    card = registry.model("tiny-vlm-student").card
    assert (
        card.settings["kd_lambda"] == 0.5 and card.settings["d_model"] == 32 and card.assistant == "tiny-vlm-assistant"
    )
    text = config_text(loaded, registry)
    assert "student.kd.lambda" in text and "config -> setting kd_lambda" in text and "seed" in text
    path.write_text('extends = "cpu-tiny"\n[student.lora]\nr = 8\n')
    with pytest.raises(UserError, match=r"student.lora.r: model 'tiny-vlm-student' has no setting 'lora_r'"):
        apply(load_config(None, path).config, build_registry(), str(path))


@pytest.mark.slow
def test_distill_runs_the_pipeline_and_writes_a_summary(tmp_path: Path) -> None:
    pytest.importorskip("mulcot_tiny")
    small = "d_model = 32\nlayers = 1\nheads = 2\ncnn_channels = 8\nmax_new_tokens = 48\n"
    path = tmp_path / "small.toml"
    path.write_text(
        'extends = "cpu-tiny"\n'
        "[assistant.training]\nepochs = 2\n[assistant.settings]\n" + small + "[student.training]\nepochs = 2\n"
        "[student.kd]\ntop_k = 32\n[student.settings]\n" + small
    )
    args = ["distill", "--config", str(path), "-d", "synthetic", "--synthetic-size", "50,20,20", "--run-id", "t"]
    args += ["--limit", "40,20,20", "--protocol", "reference"]  # the run's dataset views, as in `run`
    args += [
        "--runs-dir",
        str(tmp_path / "runs"),
        "--reports-dir",
        str(tmp_path / "rep"),
        "--cache-dir",
        str(tmp_path / "c"),
    ]
    done = _cli(*args)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "runs" / "t" / "distill.json").read_text())
    results = json.loads((tmp_path / "runs" / "t" / "results.json").read_text())
    assert {e["model"] for e in results["entries"]} == {"synthetic-teacher", "tiny-vlm-assistant", "tiny-vlm-student"}
    record = next(d for d in results["datasets"] if d["name"] == "synthetic")
    assert record["protocol"] == "reference" and any("subset (seed 42): train 40/50" in n for n in record["notes"])
    student = summary["stages"]["tiny-vlm-student"]
    assert student["kd"]["top_k"] == 32 and student["kd"]["source"] == "cached"
    assert len(student["losses"]) == 2 and 1 <= student["selected_epoch"] <= 2
    assert student["peak_rss_mib"] > 0 and student["counts"]["train"] >= 40
    assert summary["stages"]["tiny-vlm-assistant"]["augmentation"]["sampled"] == 40
    assert not (tmp_path / "c" / "partial").exists() or not any((tmp_path / "c" / "partial").iterdir())
    assert any(r["field"] == "student.kd.top_k" and r["value"] == 32 for r in summary["resolved"])
