"""A card's ``datasets`` scope: ``run`` without ``-m`` leaves a model out of other datasets, counts and says so;
naming it with ``-m`` runs it anywhere; the launcher plans the same jobs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fakerun import env, plugins_dir, results
from test_plugins import GOOD

from mulcot_bench.plugin.registry import build_registry
from mulcot_bench.runner.jobs import plan_jobs
from mulcot_bench.runner.selection import OUT_OF_SCOPE, scoped

#: two local plugin files made from test_plugins' template: one model scoped to twitter2015, one unscoped
PLUGINS = {
    "scoped.py": GOOD.replace("{name}", "only-twitter").replace(
        "rationale=False)", "rationale=False, datasets=('twitter2015',))"
    ),
    "anywhere.py": GOOD.replace("{name}", "anywhere"),
}


def _run(tmp: Path, run_id: str, *models: str) -> subprocess.CompletedProcess[str]:
    folder = plugins_dir(tmp, PLUGINS)
    cmd = [sys.executable, "-m", "mulcot_bench.cli", "run", "-d", "synthetic", "--plugins-dir", str(folder),
           "--cache-dir", str(tmp / "cache"), "--run-id", run_id, "--runs-dir", str(tmp / "runs"),
           "--reports-dir", str(tmp / "reports"), "--synthetic-size", "60,20,40", "--bootstrap", "0"]
    for m in models:
        cmd += ["-m", m]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp, env=env(tmp))


def test_a_scoped_model_is_left_out_of_other_datasets_and_the_skip_is_counted(tmp_path: Path) -> None:
    done = _run(tmp_path, "default")  # no -m: every default model, each in its scope
    assert done.returncode == 0, done.stderr
    res = results(tmp_path, "default")
    models = {e["model"] for e in res["entries"]}
    assert "anywhere" in models and "only-twitter" not in models
    assert res["skipped"] == {OUT_OF_SCOPE: 1}
    (synthetic,) = [d for d in res["datasets"] if d["name"] == "synthetic"]
    assert any("only-twitter" in n and "-m" in n for n in synthetic["notes"])
    assert "1 model(s) not run on synthetic: only-twitter" in done.stderr
    assert "skipped: 1 models out of their dataset scope" in done.stdout + done.stderr

    named = _run(tmp_path, "named", "only-twitter", "anywhere")  # named: runs here too
    assert named.returncode == 0, named.stderr
    res = results(tmp_path, "named")
    assert {e["model"] for e in res["entries"]} >= {"only-twitter", "anywhere"}
    assert res["skipped"] == {}


def test_tiny_models_are_scoped_to_synthetic_in_run_and_in_the_launcher_plan() -> None:
    reg = build_registry()
    tiny = ["synthetic-teacher", "tiny-vlm-assistant", "tiny-vlm-student", "tiny-vlm-student-nokd"]
    models = [*tiny, "majority", "enc-assistant"]
    assert scoped(reg, models, "synthetic", named=False) == (models, [])
    assert scoped(reg, models, "twitter2015", named=False) == (["majority", "enc-assistant"], tiny)
    assert scoped(reg, models, "twitter2015", named=True) == (models, [])
    jobs = plan_jobs(reg, ["synthetic", "twitter2015"], models, named=False)
    on = {d: {m for j in jobs if j.dataset == d for m in j.models} for d in ("synthetic", "twitter2015")}
    assert on["synthetic"] == set(models) and on["twitter2015"] == {"majority", "enc-assistant"}
