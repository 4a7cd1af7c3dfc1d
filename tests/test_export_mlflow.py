"""``export mlflow`` and ``run --mlflow``: a real run folder logged to a local SQLite store and read back with
MLflow's own client (``mlflow.search_runs``, ``MlflowClient``); exporting again adds no run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_stats import _main

from mulcot_bench.export.record import entry_key, entry_records, metrics_of, params_of, run_name
from mulcot_bench.results import RunResults

mlflow = pytest.importorskip("mlflow")
EXPERIMENT = "mulcot-bench"
RUN = ["run", "-d", "synthetic", "--synthetic-size", "30,10,20", "-m", "majority"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run: two baselines on the embedded set, plus their text-only ablation rows (four entries)."""
    from click.testing import CliRunner

    from mulcot_bench.cli import cli

    root = tmp_path_factory.mktemp("mlflow-run")
    args = [*RUN, "-m", "text-tfidf-lr", "--ablation", "text-only", "--bootstrap", "50", "--run-id", "r"]
    paths = ["--runs-dir", str(root / "runs"), "--reports-dir", str(root / "reports"), "--cache-dir", str(root / "c")]
    result = CliRunner().invoke(cli, [*args, *paths])
    assert result.exit_code == 0, result.output
    return root / "runs" / "r"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite tracking store; ``mlflow.search_runs`` reads it through ``MLFLOW_TRACKING_URI``."""
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def _runs():  # noqa: ANN202 - a pandas DataFrame
    return mlflow.search_runs(experiment_names=[EXPERIMENT])


def _export(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert _main(monkeypatch, "export", "mlflow", *args) == 0
    return capsys.readouterr().out


def test_one_run_per_entry_with_the_scores_params_and_artifacts_of_the_run(
    run_dir: Path, store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    results = RunResults.read(run_dir)
    out = _export(monkeypatch, capsys, str(run_dir), "--tracking-uri", store)
    assert f"logged {len(results.entries)}, replaced 0 (changed), unchanged 0" in out
    runs = _runs()
    assert len(results.entries) == len(runs) == 4
    client = mlflow.MlflowClient(store)
    for entry in results.entries:
        (row,) = [r for _, r in runs.iterrows() if r["tags.mlflow.runName"] == run_name(entry)]
        assert (row["tags.mulcot.model"], row["tags.mulcot.dataset"]) == (entry.model, entry.dataset)
        logged = client.get_run(row["run_id"]).data
        scored = {k: v for k, v in entry.scores.items() if v is not None}
        assert {k: logged.metrics[k] for k in scored} == scored
        assert logged.metrics["macro_f1.low"] == entry.intervals["macro_f1"][0]
        assert logged.metrics["macro_f1.high"] == entry.intervals["macro_f1"][1]
        assert not set(logged.metrics) - set(scored) - {f"{k}.{b}" for k in entry.intervals for b in ("low", "high")}
        assert logged.params["metric.macro_f1"] == "macro-F1" and logged.params["seed"] == "42"
        assert logged.params["signature.macro_f1"].startswith("sklearn.metrics.f1_score|average=macro")
        assert logged.params["dataset.fingerprint"] == results.datasets[0].fingerprint
        assert {f"settings.{k}": json.loads(logged.params[f"settings.{k}"]) for k in entry.settings} == {
            f"settings.{k}": v for k, v in entry.settings.items()
        }
        assert logged.params["provenance.mulcot_bench_version"] == results.provenance.mulcot_bench_version
        folder = Path(client.download_artifacts(row["run_id"], "", str(tmp_path / row["run_id"])))
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        predictions = str(Path("predictions", entry.predictions_file))
        board = [f"leaderboard/leaderboard{x}" for x in (".csv", "_long.csv", ".json", ".md")]
        board.append("leaderboard/overview.csv")
        assert files == sorted([*board, predictions, "results.json"])
        assert (folder / predictions).read_bytes() == (run_dir / entry.predictions_file).read_bytes()
        assert RunResults.read(folder).model_dump() == results.model_dump()  # equal apart from the folder read
    assert sorted(runs["tags.mulcot.variant"].fillna("-")) == ["-", "-", "text-only", "text-only"]


def test_exporting_again_adds_no_run_and_a_changed_entry_replaces_its_run(
    run_dir: Path, store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _export(monkeypatch, capsys, str(run_dir), "--tracking-uri", store)
    first = set(_runs()["run_id"])
    out = _export(monkeypatch, capsys, str(run_dir), "--tracking-uri", store)
    assert "logged 0, replaced 0 (changed), unchanged 4" in out
    assert set(_runs()["run_id"]) == first

    changed = tmp_path / "r"  # the same run id with one score changed (a re-scored run)
    subprocess.run(["cp", "-r", str(run_dir), str(changed)], check=True)
    results = RunResults.read(changed)
    results.entries[0].scores["accuracy"] = 0.123
    results.write(changed)
    out = _export(monkeypatch, capsys, str(changed), "--tracking-uri", store)
    assert "logged 0, replaced 4 (changed), unchanged 0" in out  # results.json differs: every entry re-logged
    runs = _runs()
    assert len(runs) == 4 and not set(runs["run_id"]) & first
    (row,) = [r for _, r in runs.iterrows() if r["tags.mlflow.runName"] == run_name(results.entries[0])]
    assert row["metrics.accuracy"] == 0.123


def test_a_half_logged_run_is_logged_again(
    run_dir: Path, store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _export(monkeypatch, capsys, str(run_dir), "--tracking-uri", store)
    client = mlflow.MlflowClient(store)
    broken = _runs()["run_id"][0]
    client.delete_tag(broken, "mulcot.content")  # as an export stopped before its last step leaves it
    out = _export(monkeypatch, capsys, str(run_dir), "--tracking-uri", store)
    assert "logged 0, replaced 1 (changed), unchanged 3" in out
    runs = _runs()
    assert len(runs) == 4 and broken not in set(runs["run_id"]) and runs["tags.mulcot.content"].notna().all()


def test_default_store_is_mlruns_in_the_working_folder(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    out = _export(monkeypatch, capsys, str(run_dir))
    assert f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}" in out
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    assert len(_runs()) == 4
    assert len(list((tmp_path / "mlruns" / "mlflow-artifacts").glob("*/artifacts/results.json"))) == 4


def test_run_with_mlflow_logs_the_run_after_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert _main(monkeypatch, "run", "--mlflow", *RUN[1:], "--bootstrap", "0", "--run-id", "a") == 0  # the default
    assert "logged 1, replaced 0" in capsys.readouterr().out
    uri = f"sqlite:///{tmp_path / 'other.db'}"
    assert _main(monkeypatch, *RUN, "--bootstrap", "0", "--run-id", "b", "--mlflow", uri) == 0
    assert "logged 1, replaced 0" in capsys.readouterr().out
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    (row,) = [r for _, r in _runs().iterrows()]
    assert (
        row["tags.mulcot.run_id"] == "b"
        and row["metrics.accuracy"] == RunResults.read(tmp_path / "runs" / "b").entries[0].scores["accuracy"]
    )


def test_without_mlflow_one_line_and_exit_2_before_any_work(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow raises ImportError
    monkeypatch.chdir(tmp_path)
    assert _main(monkeypatch, "export", "mlflow", str(run_dir)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'mulcot-bench[mlflow]'" in err
    assert _main(monkeypatch, *RUN, "--mlflow") == 2
    assert "pip install" in capsys.readouterr().err and not (tmp_path / "runs").exists()
    assert _main(monkeypatch, "export", "mlflow", str(tmp_path / "nowhere")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nowhere has no results.json" in err


def test_a_store_that_cannot_be_made_stops_the_run_before_it_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.chdir(tmp_path)
    assert _main(monkeypatch, *RUN, "--mlflow", str(tmp_path / "file" / "store")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot make the MLflow store folder" in err and not (tmp_path / "runs").exists()


def test_failures_are_counted_and_long_params_cut_never_dropped(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from demo_runs import demo_run

    run = demo_run(tmp_path, models=3, datasets=1, n=20)  # it records one failed model
    results = RunResults.read(run)
    results.entries[0].settings["prompt"] = "x" * 7000
    results.write(run)
    out = _export(monkeypatch, capsys, str(run), "--tracking-uri", store)
    assert "mlflow: 1 failures not logged (no scores; listed in results.json)" in out
    assert "1 params cut to MLflow's length limit (full values in results.json): settings.prompt" in out
    runs = _runs()
    assert len(runs) == len(results.entries) and "broken-model" not in set(runs["tags.mulcot.model"])
    (cut,) = runs["params.settings.prompt"].dropna()
    assert len(cut) == 6000 and cut.endswith("(cut; see results.json)")


def test_keys_separate_seeds_variants_and_repeated_entries(run_dir: Path) -> None:
    results = RunResults.read(run_dir)
    entry = results.entries[0]
    seeded = [entry.model_copy(update={"seed": s}) for s in (entry.seed, 1, 2)]
    assert len({entry_key("r", e) for e in seeded}) == 3 and entry_key("r", seeded[0]) == entry_key("r", entry)
    assert run_name(seeded[1]) == "synthetic/majority seed 1"
    assert entry_key("r", entry) != entry_key("other-run", entry)
    results.entries.append(entry)  # the same tuple twice still gets two runs
    records = entry_records(run_dir, results, [])
    assert len({r.key for r in records}) == len(results.entries) == 5


def test_the_command_line_does_not_import_mlflow() -> None:
    code = "import sys, mulcot_bench.cli, mulcot_bench.export.mlflow; print('mlflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "False"


def test_a_server_that_does_not_answer_is_one_line_and_exit_2(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    assert _main(monkeypatch, "export", "mlflow", str(run_dir), "--tracking-uri", "http://127.0.0.1:9") == 2  # closed
    captured = capsys.readouterr()
    assert "mlflow: contacting http://127.0.0.1:9" in captured.out
    assert captured.err.count("\n") == 1 and captured.err.startswith(
        "error: MLflow export to http://127.0.0.1:9 failed"
    )


def test_an_entry_over_several_seeds_logs_its_seeds_and_standard_deviations(run_dir: Path) -> None:
    results = RunResults.read(run_dir)
    entry = results.entries[0]
    per_seed = [entry.model_copy(update={"seed": s}) for s in (1, 2, 3)]
    folded = entry.model_copy(update={"seed": None, "seeds": per_seed, "sd": {"accuracy": 0.02, "macro_f1": None}})
    params, metrics = params_of(results, folded), metrics_of(folded)
    assert params["seeds"] == "1,2,3" and params["seed"] == "null"
    assert metrics["accuracy.sd"] == 0.02 and "macro_f1.sd" not in metrics


def test_a_seeds_run_logs_its_aggregate_and_one_run_per_seed(
    run_dir: Path, store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import shutil

    folder = tmp_path / "seeded"
    shutil.copytree(run_dir, folder)
    results = RunResults.read(folder)
    entry = results.entries[0]
    per_seed = [
        entry.model_copy(update={"seed": s, "scores": {**entry.scores, "accuracy": a}}) for s, a in ((1, 0.5), (2, 0.7))
    ]
    results.entries[0] = entry.model_copy(
        update={"seed": None, "seeds": per_seed, "scores": {**entry.scores, "accuracy": 0.6}, "sd": {"accuracy": 0.1}}
    )
    results.write(folder)
    out = _export(monkeypatch, capsys, str(folder), "--tracking-uri", store)
    assert f"logged {len(results.entries) + 2}, replaced 0" in out
    runs = _runs().set_index("tags.mlflow.runName")
    assert len(runs) == len(results.entries) + 2
    assert runs.loc["synthetic/majority", "metrics.accuracy"] == 0.6
    assert runs.loc["synthetic/majority", "metrics.accuracy.sd"] == 0.1
    assert runs.loc["synthetic/majority", "tags.mulcot.seeds"] == "1,2"
    assert runs.loc["synthetic/majority", "params.seeds"] == "1,2"
    for seed, accuracy in ((1, 0.5), (2, 0.7)):
        row = runs.loc[f"synthetic/majority seed {seed}"]
        assert (row["metrics.accuracy"], row["tags.mulcot.seed"], row["params.seed"]) == (
            accuracy,
            str(seed),
            str(seed),
        )
    again = _export(monkeypatch, capsys, str(folder), "--tracking-uri", store)
    assert f"logged 0, replaced 0 (changed), unchanged {len(results.entries) + 2}" in again
