"""Plugins written against the old import paths still load, each old path warning once what to import instead."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mulcot_bench.plugin.registry import build_registry

OLD_STYLE = '''
from mulcot_bench.hookspecs import hookimpl
from mulcot_bench.specs import ModelSpec
from mulcot_bench.types import ModelCard, Prediction
from mulcot_bench.rationale import render


class OldStyle:
    def __init__(self, card):
        self.card = card

    def predict(self, samples):
        chain = render({"Text_analysis": "t", "Image_analysis": "i", "Conflict_resolution": "c",
                        "Final_conclusion": "f", "Prediction": "neutral"})
        return [Prediction("neutral", chain) for _ in samples]


@hookimpl
def register_models(register):
    register(ModelSpec(ModelCard("old-style", "baseline", "written against 0.1 paths", settings={"v": 1}), OldStyle))
'''


def test_a_plugin_on_old_import_paths_loads_and_registers(tmp_path: Path) -> None:
    (tmp_path / "old_style.py").write_text(OLD_STYLE)
    registry = build_registry([tmp_path], strict=True)
    model = registry.model("old-style").build()
    assert model.predict([None])[0].label == "neutral"


def test_old_paths_are_the_new_modules_and_warn_what_to_import() -> None:
    code = (
        "import warnings; warnings.simplefilter('error')\n"
        "import mulcot_bench.plugin.hookspecs as new\n"
        "try:\n"
        "    import mulcot_bench.hookspecs\n"
        "except DeprecationWarning as w:\n"
        "    print(w)\n"
        "warnings.simplefilter('ignore')\n"
        "import mulcot_bench.hookspecs as old, mulcot_bench.testing as kit, mulcot_bench.plugin.testing as kit2\n"
        "assert old is new and kit is kit2\n"
        "from mulcot_bench.builtin.synthetic import generate\n"
        "from mulcot_bench.runner import default_data_root, RunOptions, run\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "mulcot_bench.hookspecs moved to mulcot_bench.plugin.hookspecs; import from mulcot_bench.plugin instead"
    )


def test_a_removed_module_is_one_clear_line() -> None:
    code = "import mulcot_bench.persample"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: mulcot_bench.persample was removed: per-sample scores now come from")
