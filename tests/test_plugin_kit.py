"""The plugin kit: ``plugins`` listing, ``plugins new`` scaffold, ``check_model`` and ``plugins doctor``."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from mulcot_bench.cli import cli
from mulcot_bench.errors import UserError
from mulcot_bench.labels import LABELS
from mulcot_bench.plugin.contract import ContractError, check_model
from mulcot_bench.plugin.registry import plugin_registry
from mulcot_bench.plugin.scaffold import scaffold
from mulcot_bench.plugin.specs import ModelSpec
from mulcot_bench.rationale import render_chain
from mulcot_bench.types import ModelCard, Prediction

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

PLUGIN = '''
from mulcot_bench.plugin.hookspecs import hookimpl
from mulcot_bench.plugin.specs import ModelSpec
from mulcot_bench.types import ModelCard, Prediction


class Model:
    def __init__(self, card):
        self.card = card

    def predict(self, samples):
        return [Prediction(label={label!r}) for _ in samples{cut}]


@hookimpl
def {hook}(register):
    register(ModelSpec(ModelCard({name!r}, "baseline", "test", rationale=False), Model))
'''


def _plugin(folder: Path, stem: str, name: str, label: str = "neutral", cut: str = "",
            hook: str = "register_models") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.py").write_text(PLUGIN.format(name=name, label=label, cut=cut, hook=hook))


def _spec(cls: type, **card: object) -> ModelSpec:
    fields = {"rationale": False, **card}
    return ModelSpec(ModelCard("under-test", "baseline", "test", **fields), cls)  # type: ignore[arg-type]


def _chain(label: str) -> str:
    return render_chain({"Text_analysis": "t", "Image_analysis": "i", "Conflict_resolution": "c",
                   "Final_conclusion": "f", "Prediction": label})


# packaging and listing ---------------------------------------------------------------------------------------
def test_pyproject_ships_templates_and_the_pytest_plugin() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["pytest11"] == {"mulcot_bench.testing": "mulcot_bench.plugin.testing"}
    assert "plugin/templates/*.j2" in project["tool"]["setuptools"]["package-data"]["mulcot_bench"]


def test_kit_and_doctor_import_without_torch() -> None:
    code = ("import sys, mulcot_bench.plugin.testing, mulcot_bench.plugin.doctor, mulcot_bench.cli.plugins, "
            "mulcot_bench.plugin.scaffold; assert 'torch' not in sys.modules and 'sklearn' not in sys.modules, "
            "'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_plugins_without_subcommand_still_lists(tmp_path: Path) -> None:
    _plugin(tmp_path, "echo_plugin", "echo")
    result = CliRunner().invoke(cli, ["plugins", "--plugins-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "baselines  [mulcot-baselines 0.1.0]  entry point mulcot_baselines.plugin\n" in result.output
    assert "    model: majority  (baseline)\n" in result.output
    assert f"echo_plugin  [-]  file {tmp_path / 'echo_plugin.py'}\n    model: echo  (baseline)" in result.output
    helptext = CliRunner().invoke(cli, ["plugins", "--help"]).output
    assert "new" in helptext and "doctor" in helptext


# check_model ---------------------------------------------------------------------------------------------------
def test_check_model_passes_first_party_models() -> None:
    for name in ("majority", "synthetic-teacher"):
        report = check_model(name)
        assert report.ok and report.plugin in ("baselines", "tiny")
        assert {"outputs", "labels", "determinism", "identity"} <= {c.name for c in report.checks}


class _Short:
    def __init__(self, card: ModelCard) -> None:
        self.card = card

    def predict(self, samples: list) -> list[Prediction]:
        return [Prediction(label="neutral") for _ in samples[1:]]


class _Random(_Short):
    def predict(self, samples: list) -> list[Prediction]:
        return [Prediction(label=random.choice(LABELS)) for _ in samples]


class _BadChain(_Short):
    def predict(self, samples: list) -> list[Prediction]:
        return [Prediction(label="neutral", rationale='"Prediction": "neutral"') for _ in samples]


class _Mismatch(_Short):
    def predict(self, samples: list) -> list[Prediction]:
        return [Prediction(label="neutral", rationale=_chain("positive")) for _ in samples]


class _BadProbs(_Short):
    def predict(self, samples: list) -> list[Prediction]:
        return [Prediction(label="neutral", probs={"neutral": 0.5}) for _ in samples]


@pytest.mark.parametrize(
    ("cls", "card", "check", "words"),
    [
        (_Short, {}, "outputs", "7 outputs for 8 samples"),
        (_Random, {}, "determinism", "differs"),
        (_BadChain, {}, "rationale", "five-field"),
        (_Mismatch, {}, "rationale", "predicts 'positive'"),
        (_BadProbs, {}, "probs", "sum to 0.5"),
        (_Short, {"settings": {"when": object()}}, "settings", "plain JSON"),
    ],
)
def test_check_model_names_the_failed_check(cls: type, card: dict, check: str, words: str) -> None:
    with pytest.raises(ContractError, match=words) as info:
        check_model(_spec(cls, **card))
    assert f"check {check!r} failed" in str(info.value)
    assert "plugin '(unregistered)', model 'under-test'" in str(info.value)


class _NoChain(_Short):
    def predict(self, samples: list) -> list[Prediction]:
        return [Prediction(label="neutral") for _ in samples]


def test_check_model_requires_rationales_the_card_promises() -> None:
    assert check_model(_spec(_NoChain)).ok
    report = check_model(_spec(_NoChain, rationale=True), raise_on_failure=False)
    assert [c.name for c in report.failures] == ["rationale"] and "wrote no rationale" in report.failures[0].message
    assert check_model(_spec(_NoChain, rationale=True), rationale=False).ok


def test_plugin_registry_loads_only_that_plugin(tmp_path: Path) -> None:
    _plugin(tmp_path, "solo", "solo-model")
    registry = plugin_registry(str(tmp_path / "solo.py"))
    assert set(registry.models) == {"solo-model"} and "synthetic" in registry.datasets
    assert set(plugin_registry("baselines").models) == {"majority", "text-tfidf-lr"}
    _plugin(tmp_path, "typo", "typo-model", hook="register_model")
    with pytest.raises(UserError, match="check 'hooks' failed: hook 'register_model' matches no hook spec"):
        plugin_registry(str(tmp_path / "typo.py"))


# scaffold ----------------------------------------------------------------------------------------------------
def test_scaffold_refuses_bad_names_and_occupied_folders(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="lower-case"):
        scaffold("My_Model", "baseline", tmp_path)
    folder = scaffold("mulcot-ok", "baseline", tmp_path)
    assert folder.name == "mulcot-ok" and (folder / "mulcot_ok" / "plugin.py").is_file()
    with pytest.raises(UserError, match="already exists"):
        scaffold("mulcot-ok", "baseline", tmp_path)


@pytest.mark.slow
def test_scaffolded_packages_install_and_pass_their_own_tests(tmp_path: Path) -> None:
    roles = ("baseline", "student", "assistant", "teacher")
    runner = CliRunner()
    folders = []
    for role in roles:
        result = runner.invoke(cli, ["plugins", "new", f"kitcheck-{role}", "--role", role, "--dir", str(tmp_path)])
        assert result.exit_code == 0, result.output
        folders.append(tmp_path / f"mulcot-kitcheck-{role}")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    editable = [arg for folder in folders for arg in ("-e", str(folder))]
    try:
        subprocess.run([*pip, "install", "--no-deps", "--no-build-isolation", *editable], check=True,
                       capture_output=True, timeout=300)
        listing = subprocess.run([str(BIN / "mulcot-bench"), "plugins"], capture_output=True, text=True, timeout=120)
        for role in roles:
            assert f"kitcheck-{role}  [mulcot-kitcheck-{role} 0.1.0]" in listing.stdout
            assert f"model: kitcheck-{role}  ({role})" in listing.stdout
        runs = [
            subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=folder,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
            for folder in folders
        ]
        for folder, proc in zip(folders, runs, strict=True):
            out, _ = proc.communicate(timeout=180)
            assert proc.returncode == 0 and " passed" in out, f"{folder.name}:\n{out[-4000:]}"
    finally:
        names = [f"mulcot-kitcheck-{role}" for role in roles]
        subprocess.run([*pip, "uninstall", "-y", *names], capture_output=True, timeout=120)


KIT_ENV_TESTS = """
import os

ISOLATED = ("MULCOT_BENCH_PLUGINS_DIR", "MULCOT_BENCH_BLOCK_PLUGINS", "MULCOT_BENCH_DATA_ROOT")
seen = []


def test_one(mulcot_env):
    assert os.environ["MULCOT_BENCH_CACHE"] == str(mulcot_env) and mulcot_env.is_dir()
    assert os.environ["HF_HUB_OFFLINE"] == os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert not [name for name in ISOLATED if name in os.environ]
    seen.append(mulcot_env)


def test_two(mulcot_env):
    seen.append(mulcot_env)
    assert len(set(seen)) == EXPECTED
"""
SHARED_CACHE = """
import pytest


@pytest.fixture(scope="session")
def mulcot_cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("shared")
"""


def test_the_kits_environment_isolates_each_test_and_its_cache_can_be_shared(tmp_path: Path) -> None:
    (tmp_path / "test_fresh.py").write_text(KIT_ENV_TESTS.replace("EXPECTED", "2"))
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "conftest.py").write_text(SHARED_CACHE)
    (tmp_path / "shared" / "test_shared.py").write_text(KIT_ENV_TESTS.replace("EXPECTED", "1"))
    outer = {"MULCOT_BENCH_PLUGINS_DIR": str(tmp_path), "MULCOT_BENCH_BLOCK_PLUGINS": "tiny", "HF_HUB_OFFLINE": "0",
             "MULCOT_BENCH_DATA_ROOT": str(tmp_path), "MULCOT_BENCH_CACHE": str(tmp_path / "outer")}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env={**os.environ, **outer})  # fmt: skip
    assert done.returncode == 0 and "4 passed" in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]


# doctor ------------------------------------------------------------------------------------------------------
def test_doctor_names_plugin_and_check_of_each_failure(tmp_path: Path) -> None:
    _plugin(tmp_path, "short_output", "short-output", cut="[1:]")
    _plugin(tmp_path, "bad_label", "bad-label", label="happy")
    _plugin(tmp_path, "misspelt", "misspelt-model", hook="register_model")
    _plugin(tmp_path, "fine", "fine-model")
    result = CliRunner().invoke(cli, ["plugins", "doctor", "--skip-slow", "--plugins-dir", str(tmp_path)])
    out = result.output
    assert result.exit_code == 1, out
    assert result.stdout.splitlines()[0].startswith("mulcot-bench 0.1.0, pluggy ")  # stderr may log before it
    assert ("plugin 'short_output', model 'short-output': check 'outputs' failed: "
            "predict returned 7 outputs for 8 samples") in out
    assert "plugin 'bad_label', model 'bad-label': check 'labels' failed: predict output 0 has label 'happy'" in out
    assert ("plugin 'misspelt': check 'hooks' failed: hook 'register_model' matches no hook spec; "
            "did you mean 'register_models'?") in out
    assert "model fine-model: ok" in out and "model majority: ok" in out
    assert "tiny-vlm-student: skipped (--skip-slow: settings declare epochs=" in out
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("doctor: 3 plugin(s) failed:")
    for part in ("short_output (outputs)", "bad_label (labels)", "misspelt (hooks)"):
        assert part in summary


def test_doctor_model_filter_and_clean_exit(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["plugins", "doctor", "-m", "majority"])
    assert result.exit_code == 0, result.output
    assert "model majority: ok" in result.output and "text-tfidf-lr" not in result.output
    assert result.output.strip().endswith("plugins ok")
    unknown = CliRunner().invoke(cli, ["plugins", "doctor", "-m", "majorty"])
    assert isinstance(unknown.exception, UserError) and "Did you mean 'majority'" in str(unknown.exception)
