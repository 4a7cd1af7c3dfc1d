"""A metric registered by a plugin gets per-sample values, bootstrap intervals and ``compare`` rows, like a
built-in one: the scorer, the run and ``compare`` all walk the registered metrics."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mulcot_bench.plugin.registry import build_registry
from mulcot_bench.runner import RunOptions, run
from mulcot_bench.scoring.scorer import Scorer
from mulcot_bench.types import Prediction, Sample

PLUGIN = '''
from mulcot_bench.plugin import MetricSpec, SampleScores, hookimpl


class NeutralRate:
    """Share of answers that say neutral (a label metric with a value per sample)."""

    def signature(self):
        return "neutral answer rate|test plugin"

    def compute(self, gold, preds, cache):
        return {"neutral_rate": sum(p.label == "neutral" for p in preds) / len(preds)}

    def per_sample(self, gold, preds, cache):
        out = SampleScores(len(gold))
        out.add_mean("neutral_rate", [float(p.label == "neutral") for p in preds])
        return out


@hookimpl
def register_metrics(register):
    register(MetricSpec("neutral_rate", "label", {"neutral_rate": "neutral answer rate"}, NeutralRate))
'''


def _plugin_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "neutral_rate.py").write_text(PLUGIN)
    return folder


def test_scorer_gives_a_plugin_metric_values_and_an_interval(tmp_path: Path) -> None:
    scorer = Scorer(build_registry([_plugin_dir(tmp_path)]), None, resamples=200)
    gold = [Sample(str(i), "t", "neutral" if i % 2 else "positive") for i in range(40)]
    preds = [Prediction("neutral" if i % 4 else "positive") for i in range(40)]
    found = scorer.sample_scores(gold, preds)
    assert found.values["neutral_rate"] == [0.0 if i % 4 == 0 else 1.0 for i in range(40)]
    low, high = scorer.intervals(found)["neutral_rate"]
    assert low < 0.75 < high
    assert scorer.score(gold, preds)["neutral_rate"] == 0.75


def test_run_and_compare_carry_a_plugin_metric(tmp_path: Path) -> None:
    plugins = _plugin_dir(tmp_path)
    registry = build_registry([plugins])
    options = RunOptions(
        datasets=["synthetic"],
        models=["majority", "text-tfidf-lr"],
        runs_dir=tmp_path / "runs",
        reports_dir=tmp_path / "reports",
        cache_dir=tmp_path / "cache",
        run_id="plugin-metric",
        dataset_options={"synthetic": {"seed": 13, "train": 60, "dev": 20, "test": 40}},
        bootstrap=200,
    )
    outcome = run(registry, options)
    entry = next(e for e in outcome.results.entries if e.model == "text-tfidf-lr")
    lines = [json.loads(x) for x in (outcome.run_dir / entry.predictions_file).read_text().splitlines()]
    rate = entry.scores["neutral_rate"]
    assert rate == sum(r["label"] == "neutral" for r in lines) / len(lines)
    assert [r["scores"]["neutral_rate"] for r in lines] == [float(r["label"] == "neutral") for r in lines]
    low, high = entry.intervals["neutral_rate"]
    assert low <= rate <= high
    cmd = [sys.executable, "-m", "mulcot_bench", "compare", str(outcome.run_dir), "text-tfidf-lr", "majority",
           "--no-model-metrics", "--resamples", "200", "--plugins-dir", str(plugins)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "neutral answer rate" in done.stdout
