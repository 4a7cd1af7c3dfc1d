"""``--seeds``: per-seed entries, their aggregate (mean, sd, seed-aware interval) and ``compare`` by seed."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pytest
from fakerun import cli

from mulcot_bench.scoring.metric import SampleScores
from mulcot_bench.scoring.seeds import mean_sd, seed_intervals
from mulcot_bench.scoring.stats import bootstrap_ci, mean_stat

SEEDS = [1, 2, 3]


def scores(values: list[float]) -> SampleScores:
    out = SampleScores(len(values))
    out.add_mean("accuracy", values)
    return out


def test_mean_sd() -> None:
    assert mean_sd([0.5, 0.7, 0.9]) == (pytest.approx(0.7), pytest.approx(0.2))
    assert mean_sd([0.5]) == (0.5, None)
    assert mean_sd([0.5, None]) == (None, None)


def test_identical_seeds_give_the_one_seed_interval() -> None:
    values = list(np.random.default_rng(0).integers(0, 2, size=50).astype(float))
    got = seed_intervals([scores(values)] * 3, 500, 42)["accuracy"]
    one = bootstrap_ci(mean_stat(values), 50, 500, 42)
    assert (got.value, got.low, got.high) == pytest.approx((one.value, one.low, one.high))


def test_seed_spread_widens_the_interval() -> None:
    rng = np.random.default_rng(1)
    base = rng.integers(0, 2, size=80).astype(float)
    apart = [scores(list(base)), scores([1.0] * 80), scores([0.0] * 80)]
    wide = seed_intervals(apart, 500, 42)["accuracy"]
    narrow = seed_intervals([scores(list(base))] * 3, 500, 42)["accuracy"]
    assert wide.value == pytest.approx((base.mean() + 1.0) / 3)
    assert wide.high - wide.low > 2 * (narrow.high - narrow.low)


@pytest.fixture(scope="module")
def seeded_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("seeds")
    done = cli(
        "run", "-d", "synthetic", "-m", "tiny-vlm-student", "-m", "majority", "--seeds", ",".join(map(str, SEEDS)),
        "--synthetic-size", "40,20,20", "--bootstrap", "200", "-o", "tiny-vlm-student.epochs=1",
        "-o", "tiny-vlm-assistant.epochs=1", "--run-id", "seeds", cwd=folder,
        env={"MULCOT_BENCH_CACHE": str(folder / "cache")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return folder


def read(folder: Path, rel: str) -> list[dict]:
    return [json.loads(line) for line in (folder / "runs" / "seeds" / rel).read_text().splitlines()]


def test_aggregate_is_the_mean_of_the_per_seed_entries(seeded_run: Path) -> None:
    results = json.loads((seeded_run / "runs" / "seeds" / "results.json").read_text())
    assert results["provenance"]["seeds"] == SEEDS
    entries = {e["model"]: e for e in results["entries"]}
    assert entries["synthetic-teacher"]["seed"] is None and not entries["synthetic-teacher"]["seeds"]
    student = entries["tiny-vlm-student"]
    per_seed = student["seeds"]
    assert [e["seed"] for e in per_seed] == SEEDS and student["seed"] is None
    assert len({e["identity"] for e in per_seed}) == 3  # each seed trained its own model
    for e in per_seed:  # each seed's score is what its own predictions file says
        rows = read(seeded_run, e["predictions_file"])
        assert e["predictions_file"].endswith(f".seed{e['seed']}.jsonl")
        assert e["scores"]["accuracy"] == pytest.approx(statistics.fmean(r["label"] == r["gold"] for r in rows))
    for name in ("accuracy", "macro_f1", "format_valid"):
        values = [e["scores"][name] for e in per_seed]
        assert student["scores"][name] == pytest.approx(statistics.fmean(values))
        assert student["sd"][name] == pytest.approx(statistics.stdev(values))
    low, high = student["intervals"]["accuracy"]
    assert low <= student["scores"]["accuracy"] <= high


def test_compare_pairs_by_seed_and_sample(seeded_run: Path) -> None:
    done = cli(
        "compare", str(seeded_run / "runs" / "seeds"), "tiny-vlm-student", "majority", "--no-model-metrics", "--json",
        cwd=seeded_run, env={"MULCOT_BENCH_CACHE": str(seeded_run / "cache")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)[0]
    assert result["seeds"] == SEEDS and result["n"] == 3 * 20
    results = json.loads((seeded_run / "runs" / "seeds" / "results.json").read_text())
    entries = {e["model"]: e for e in results["entries"]}
    b = c = 0
    for sa, sb in zip(entries["tiny-vlm-student"]["seeds"], entries["majority"]["seeds"], strict=True):
        assert sa["seed"] == sb["seed"]
        rb = {r["id"]: r for r in read(seeded_run, sb["predictions_file"])}
        for r in read(seeded_run, sa["predictions_file"]):
            right_a, right_b = r["label"] == r["gold"], rb[r["id"]]["label"] == r["gold"]
            b += right_a and not right_b
            c += right_b and not right_a
    assert (result["mcnemar"]["b"], result["mcnemar"]["c"]) == (b, c)


def test_bad_seeds_is_one_line(tmp_path: Path) -> None:
    done = cli("run", "-d", "synthetic", "-m", "majority", "--seeds", "1,1", cwd=tmp_path)
    assert done.returncode == 2 and "--seeds '1,1' must be distinct integers" in done.stderr


def test_leaderboard_and_score_table_show_mean_sd_and_each_seed(seeded_run: Path) -> None:
    results = json.loads((seeded_run / "runs" / "seeds" / "results.json").read_text())
    student = next(e for e in results["entries"] if e["model"] == "tiny-vlm-student")
    mean, sd = 100 * student["scores"]["accuracy"], 100 * student["sd"]["accuracy"]
    per_seed = ", ".join(f"seed {e['seed']}: {100 * e['scores']['accuracy']:.1f}" for e in student["seeds"])
    [page] = (seeded_run / "reports" / "seeds").glob("dataset-synthetic*.html")
    html = page.read_text()
    assert f'title="mean over seeds ({per_seed}); sd {sd:.2f}"' in html
    assert f"{mean:.1f} ± {sd:.1f}" in html
    from mulcot_bench.report.scoretable import score_table
    from mulcot_bench.results import RunResults

    table = score_table(RunResults.read(seeded_run / "runs" / "seeds"))
    assert "mean ± sd over seeds 1,2,3" in table and f"{mean:.1f} ± {sd:.1f}" in table
