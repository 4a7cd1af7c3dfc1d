"""The Python API (``mulcot_bench.evaluate``): docs/python.md's example runs as written, registered names and
in-memory objects run, and bad input is one clear error."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

import mulcot_bench
from mulcot_bench.errors import UserError
from mulcot_bench.plugin import ModelCard, Prediction
from mulcot_bench.results import RunResults
from mulcot_bench.runner.api import fingerprint

DOC = Path(__file__).resolve().parents[1] / "docs" / "python.md"
TINY: dict[str, Any] = {"synthetic_size": (20, 10, 20), "bootstrap": 20}


def example() -> str:
    """The body of docs/python.md's example block (```python title="keyword_rule.py"```)."""
    found = re.findall(r'^```python title="keyword_rule.py"\n(.*?)^```', DOC.read_text(), re.S | re.M)
    assert len(found) == 1, "docs/python.md needs exactly one keyword_rule.py block"
    return found[0]


class Constant:
    """An in-memory model: always ``label``."""

    def __init__(self, label: str = "neutral", name: str = "constant") -> None:
        self.card = ModelCard(name=name, role="baseline", description="always one label", rationale=False,
                              modalities=("text",), settings={"label": label})  # fmt: skip

    def predict(self, samples: list[Any]) -> list[Prediction]:
        return [Prediction(label=self.card.settings["label"]) for _ in samples]


def test_the_docs_example_runs_and_its_scores_come_back(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the example's temporary run folder
    namespace: dict[str, Any] = {"__name__": "keyword_rule"}
    exec(compile(example(), str(DOC), "exec"), namespace)  # noqa: S102 - the documented example, run as written
    results = namespace["results"]
    assert isinstance(results, RunResults) and results.failures == []
    by_model = {e.model: e for e in results.entries}
    assert set(by_model) == {"keyword-rule", "majority"}
    assert all(0.0 <= by_model[m].scores["accuracy"] <= 1.0 for m in by_model)
    assert by_model["keyword-rule"].plugin == "in-memory:keyword-rule"
    assert by_model["keyword-rule"].plugin_version.startswith("mem-")
    assert results.run_dir is not None and (results.run_dir / "results.json").is_file()
    assert results.run_dir.is_relative_to(tmp_path) and results.report is None
    assert (results.run_dir / "predictions" / "synthetic" / "keyword-rule.jsonl").is_file()
    table = namespace["table"]
    assert len(table) == sum(len(e.scores) for e in results.entries)
    assert not table.duplicated(["dataset", "model", "metric"]).any()
    row = table[(table.model == "keyword-rule") & (table.metric == "accuracy")].iloc[0]
    assert row.value == by_model["keyword-rule"].scores["accuracy"] and row.low <= row.value <= row.high
    assert {"variant", "seed", "split", "n"} <= set(table.columns)


def test_a_registered_name_runs_where_asked_and_reads_back(tmp_path: Path) -> None:
    results = mulcot_bench.evaluate(["majority"], ["synthetic"], runs_dir=str(tmp_path / "runs"), seed=3, **TINY)
    assert [e.model for e in results.entries] == ["majority"] and results.failures == []
    assert results.run_dir == tmp_path / "runs" / results.run_id
    assert results.provenance.seed == 3 and results.provenance.command.startswith("mulcot_bench.evaluate(")
    assert not (tmp_path / "reports").exists() and not Path("reports", results.run_id).exists()
    again = RunResults.read(results.run_dir)
    assert again.run_dir == results.run_dir and again.entries == results.entries


def test_an_object_and_a_name_together_and_the_report_on_request(tmp_path: Path) -> None:
    results = mulcot_bench.evaluate(
        [Constant("negative"), "majority"], ["synthetic"], runs_dir=tmp_path / "runs",
        reports_dir=tmp_path / "reports", report=True, **TINY,
    )  # fmt: skip
    scores = {e.model: e.scores["accuracy"] for e in results.entries}
    assert set(scores) == {"constant", "majority"} and results.failures == []
    assert results.report is not None and results.report.is_file() and results.report.is_relative_to(tmp_path)


@pytest.mark.parametrize(
    ("obj", "says"),
    [(object(), "has no 'card'"), (type("NoPredict", (), {"card": Constant().card})(), "has no predict(samples)"),
     (type("DictCard", (), {"card": {"name": "x"}, "predict": print})(), "a 'card' of type dict")],
)  # fmt: skip
def test_an_object_off_the_contract_is_one_line(obj: object, says: str) -> None:
    with pytest.raises(UserError) as caught:
        mulcot_bench.evaluate(["majority", obj], ["synthetic"], **TINY)
    message = str(caught.value)
    assert says in message and "\n" not in message and message.startswith("models[1] (a ")


class Learner(Constant):
    """A trainable in-memory model: predicts the most frequent training label."""

    def fit(self, train: list[Any], dev: list[Any], ctx: Any) -> dict[str, Any]:
        labels = [s.label for s in train]
        self.learnt = max(sorted(set(labels)), key=labels.count)
        return {"learnt": self.learnt}

    def predict(self, samples: list[Any]) -> list[Prediction]:
        return [Prediction(label=self.learnt) for _ in samples]


def test_an_object_with_fit_is_trained_and_model_args_reach_registered_models(tmp_path: Path) -> None:
    learner = Learner(name="learner")
    results = mulcot_bench.evaluate(
        [learner, "text-tfidf-lr"], ["synthetic"], runs_dir=tmp_path, seed=5, model_args=["text-tfidf-lr.C=0.5"],
        **TINY,
    )  # fmt: skip
    by_model = {e.model: e for e in results.entries}
    assert results.failures == [] and learner.learnt in ("positive", "neutral", "negative")
    assert by_model["learner"].seed == 5 and by_model["text-tfidf-lr"].settings["C"] == 0.5
    with pytest.raises(UserError, match="'learner' is an object: set it on its card"):
        mulcot_bench.evaluate([learner], ["synthetic"], model_args=["learner.label=x"], **TINY)


def test_an_object_may_not_take_a_registered_name() -> None:
    with pytest.raises(UserError, match="'majority' is already registered by a plugin"):
        mulcot_bench.evaluate([Constant(name="majority")], ["synthetic"], **TINY)


def test_an_unknown_keyword_is_named() -> None:
    with pytest.raises(TypeError) as caught:
        mulcot_bench.evaluate(["majority"], ["synthetic"], sead=1)
    assert isinstance(caught.value, UserError)
    assert "unknown keyword 'sead'" in str(caught.value) and "did you mean 'seed'" in str(caught.value)


def test_the_fingerprint_follows_the_settings_and_the_code() -> None:
    assert fingerprint(Constant("neutral")) == fingerprint(Constant("neutral"))
    assert fingerprint(Constant("neutral")) != fingerprint(Constant("positive"))

    class Other(Constant):
        def predict(self, samples: list[Any]) -> list[Prediction]:
            return [Prediction(label="positive") for _ in samples]

    assert fingerprint(Other("neutral")) != fingerprint(Constant("neutral"))


def test_importing_the_package_stays_light() -> None:
    code = (
        "import sys, mulcot_bench\nassert callable(mulcot_bench.__getattr__)\n"
        "heavy = [m for m in ('torch', 'pandas', 'numpy', 'pydantic') if m in sys.modules]\nassert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
