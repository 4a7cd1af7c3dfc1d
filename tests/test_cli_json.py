"""Machine-readable output: ``--json`` on ``plugins``, ``datasets list`` and ``compare``; and ``datasets list``
refuses a data root that does not exist, as ``run`` does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_stats import _main, _write_run

from mulcot_bench.scoring.compare import read_lines


def test_plugins_json_lists_each_plugin_and_its_models(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # noqa: ANN001
    assert _main(monkeypatch, "plugins", "--json") == 0
    found = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert found["baselines"]["registered"]["models"] == ["majority", "text-tfidf-lr"]
    assert found["baselines"]["models"]["majority"]["role"] == "baseline"
    assert "accuracy" in found["metrics"]["registered"]["metrics"] and found["metrics"]["error"] is None


def test_datasets_list_json_and_a_missing_data_root(monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path) -> None:  # noqa: ANN001
    assert _main(monkeypatch, "datasets", "list", "--data-root", str(tmp_path), "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    status = {d["name"]: d["status"] for d in doc["datasets"]}
    assert doc["data_root"] == str(tmp_path)
    assert status["synthetic"] == "embedded" and status["twitter2015"] == "missing"
    assert _main(monkeypatch, "datasets", "list", "--data-root", str(tmp_path / "nowhere")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nowhere does not exist" in err


def test_compare_json_matches_the_predictions(monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path) -> None:  # noqa: ANN001
    _write_run(tmp_path, n=120)
    code = _main(monkeypatch, "compare", str(tmp_path), "good", "bad", "--resamples", "200", "--no-model-metrics",
                 "--json")  # fmt: skip
    assert code == 0
    (doc,) = json.loads(capsys.readouterr().out)
    a = read_lines(tmp_path / "predictions/toy/good.jsonl")
    b = read_lines(tmp_path / "predictions/toy/bad.jsonl")
    only_a = sum(x["label"] == x["gold"] and y["label"] != y["gold"] for x, y in zip(a, b, strict=True))
    only_b = sum(x["label"] != x["gold"] and y["label"] == y["gold"] for x, y in zip(a, b, strict=True))
    assert (doc["mcnemar"]["b"], doc["mcnemar"]["c"]) == (only_a, only_b)
    rows = {r["metric"]: r for r in doc["rows"]}
    accuracy = sum(x["label"] == x["gold"] for x in a) / len(a)
    assert rows["accuracy"]["a"]["value"] == pytest.approx(accuracy)
    assert rows["BLEU-4 (corpus, sacrebleu)"]["percent"] is True and doc["n"] == 120


def test_datasets_json_without_list_is_the_listing(monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path) -> None:  # noqa: ANN001
    assert _main(monkeypatch, "datasets", "--json", "--data-root", str(tmp_path)) == 0
    doc = json.loads(capsys.readouterr().out)
    assert _main(monkeypatch, "datasets", "list", "--json", "--data-root", str(tmp_path)) == 0
    assert json.loads(capsys.readouterr().out) == doc
    missing = {d["name"]: d for d in doc["datasets"] if d["status"] == "missing"}
    assert missing["twitter2015"]["fetch"] == f"mulcot-bench datasets fetch twitter2015 --data-root {tmp_path}"


def test_datasets_group_options_before_a_subcommand_are_one_line(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # noqa: ANN001
    assert _main(monkeypatch, "datasets", "--json", "verify", "twitter2015") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'datasets verify' prints no JSON" in err
    assert _main(monkeypatch, "datasets", "--data-root", "x", "fetch", "twitter2015") == 2
    assert "--data-root before 'fetch' is not read" in capsys.readouterr().err
