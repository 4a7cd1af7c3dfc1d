"""Plugin loading: entry points, local files, isolation of failures, blocking, duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from mulcot_bench.errors import PluginError, UserError
from mulcot_bench.plugin.registry import build_registry

GOOD = '''
from mulcot_bench.plugin.hookspecs import hookimpl
from mulcot_bench.plugin.specs import ModelSpec
from mulcot_bench.types import ModelCard, Prediction


class Echo:
    def __init__(self, card):
        self.card = card

    def predict(self, samples):
        return [Prediction(label="neutral") for _ in samples]


@hookimpl
def register_models(register):
    register(ModelSpec(ModelCard("{name}", "baseline", "always neutral", rationale=False), Echo))
'''


def _write(folder: Path, stem: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.py"
    path.write_text(text)
    return path


def test_first_party_plugins_register_through_entry_points() -> None:
    reg = build_registry()
    assert {"synthetic", "twitter2015", "twitter2017", "mvsa_single", "mvsa_multiple"} <= set(reg.datasets)
    assert {"majority", "text-tfidf-lr"} <= set(reg.models)
    assert reg.plugin_of("models", "majority") == "baselines"
    assert reg.loaded.info("baselines").source.startswith("entry point")
    assert reg.plugin_version("models", "majority") == "0.1.0"
    assert {"accuracy", "macro_f1", "weighted_f1", "bleu4", "bertscore"} <= set(reg.metrics)


def test_local_plugin_file_is_loaded(tmp_path: Path) -> None:
    _write(tmp_path, "echo_plugin", GOOD.replace("{name}", "echo"))
    reg = build_registry([tmp_path])
    assert reg.model("echo").card.role == "baseline"
    assert reg.plugin_of("models", "echo") == "echo_plugin"


def test_plugins_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, "env_plugin", GOOD.replace("{name}", "from-env"))
    monkeypatch.setenv("MULCOT_BENCH_PLUGINS_DIR", str(tmp_path))
    assert "from-env" in build_registry().models


def test_broken_plugin_is_isolated_and_reported(tmp_path: Path) -> None:
    _write(tmp_path, "broken", "import not_a_real_module_xyz\n")
    _write(tmp_path, "fine", GOOD.replace("{name}", "fine"))
    reg = build_registry([tmp_path])
    assert "fine" in reg.models
    failure = reg.loaded.info("broken")
    assert "not_a_real_module_xyz" in (failure.error or "")
    with pytest.raises(PluginError, match="broken"):
        build_registry([tmp_path], strict=True)


def test_plugin_raising_in_registration_is_isolated(tmp_path: Path) -> None:
    _write(tmp_path, "raiser", "from mulcot_bench.plugin.hookspecs import hookimpl\n\n@hookimpl\n"
           "def register_models(register):\n    raise RuntimeError('boom')\n")
    reg = build_registry([tmp_path])
    assert "boom" in (reg.loaded.info("raiser").error or "")
    assert "majority" in reg.models


def test_blocked_plugin_is_not_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, "blocked_one", GOOD.replace("{name}", "blocked-model"))
    monkeypatch.setenv("MULCOT_BENCH_BLOCK_PLUGINS", "blocked_one,baselines")
    reg = build_registry([tmp_path])
    assert "blocked-model" not in reg.models
    assert "majority" not in reg.models


def test_duplicate_name_names_both_plugins(tmp_path: Path) -> None:
    _write(tmp_path, "dup_plugin", GOOD.replace("{name}", "majority"))
    with pytest.raises(PluginError, match="'baselines'.*'dup_plugin'"):
        build_registry([tmp_path])


def test_unknown_model_suggests_a_close_name() -> None:
    reg = build_registry()
    with pytest.raises(UserError, match="Did you mean 'majority'"):
        reg.model("majorty")


def test_missing_plugins_dir_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="does not exist"):
        build_registry([tmp_path / "nope"])
