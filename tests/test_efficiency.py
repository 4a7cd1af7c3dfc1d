"""What each entry costs: latency, peak memory, parameter counts, cached figures kept with their machine, and the
quality-cost front of the leaderboard's chart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mulcot_bench
from mulcot_bench.efficiency import machine, memory, params, probe
from mulcot_bench.efficiency.front import front
from mulcot_bench.plugin import ModelCard, Prediction

MIB = 2**20
MB = 10**6
SIZES: dict[str, Any] = {"synthetic_size": (20, 10, 40), "bootstrap": 0}


def card(name: str, declared: int | None = None) -> ModelCard:
    return ModelCard(name=name, role="baseline", description=name, rationale=False, modalities=("text",),
                     params=declared)  # fmt: skip


class Sleepy:
    """Sleeps 20 ms per sample."""

    def __init__(self) -> None:
        self.card = card("sleepy")

    def predict(self, samples: list[Any]) -> list[Prediction]:
        time.sleep(0.020 * len(samples))
        return [Prediction(label="neutral") for _ in samples]


class Hog:
    """Holds a 200 MiB tensor while it predicts (and while it fits)."""

    def __init__(self) -> None:
        self.card = card("hog")

    @staticmethod
    def _hold() -> None:
        import torch

        block = torch.ones(200 * MIB // 4, dtype=torch.float32)  # every page written: resident
        time.sleep(0.05)
        assert float(block[-1]) == 1.0

    def fit(self, train: list[Any], dev: list[Any], ctx: Any) -> dict[str, Any]:
        self._hold()
        return {}

    def predict(self, samples: list[Any]) -> list[Prediction]:
        self._hold()
        return [Prediction(label="neutral") for _ in samples]


@pytest.fixture(autouse=True)
def _fresh_machine() -> Iterator[None]:
    machine.machine.cache_clear()
    yield
    machine.machine.cache_clear()


def _entry(results: Any, model: str) -> Any:
    return next(e for e in results.entries if e.model == model)


def test_a_model_sleeping_20_ms_per_sample_is_recorded_at_20_to_40_ms(tmp_path: Path) -> None:
    results = mulcot_bench.evaluate([Sleepy()], ["synthetic"], cache_dir=tmp_path / "c", **SIZES)
    eff = _entry(results, "sleepy").efficiency
    lat = eff.prediction.latency
    assert lat is not None and lat.items == 32 and lat.warmup_calls == 1
    assert 20.0 <= lat.median_ms <= 40.0
    assert lat.median_ms <= lat.p95_ms
    assert eff.prediction.items == 40 and 25.0 <= eff.prediction.throughput_per_second <= 50.0
    assert eff.ms_per_sample == lat.median_ms
    assert "timed:32" in eff.signature and "device:cpu" in eff.signature
    assert eff.parameters.source == "not reported" and eff.parameters.total is None
    assert eff.training is None  # nothing trained


@pytest.mark.parametrize("how", ["exact", "sampled"])
def test_a_model_holding_200_mib_is_recorded_at_least_200_mb_above_its_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    pytest.importorskip("torch")
    if how == "sampled":
        pytest.importorskip("psutil")
        monkeypatch.setattr(memory, "method", lambda: f"psutil sampled every {memory.SAMPLE_SECONDS * 1000:g} ms")
    elif memory.method() != "VmHWM":
        pytest.skip("the kernel's peak resident set size cannot be reset here")
    # the tensor is 200 MiB (209.7 MB); the process may hand a few hundred kB back while it is held
    results = mulcot_bench.evaluate([Hog()], ["synthetic"], cache_dir=tmp_path / "c", **SIZES)
    eff = _entry(results, "hog").efficiency
    assert eff.prediction.memory.rss_delta_bytes >= 200 * MB
    assert eff.peak_bytes == eff.prediction.memory.rss_delta_bytes
    assert eff.training is not None and eff.training.memory.rss_delta_bytes >= 200 * MB
    assert eff.training.wall_seconds is not None and eff.training.wall_seconds >= 0.05


def test_nested_phases_keep_the_outer_peak() -> None:
    if memory.method() != "VmHWM":
        pytest.skip("the kernel's peak resident set size cannot be reset here")
    with memory.PeakMemory() as outer:
        block = bytearray(100 * MIB)
        del block
        with memory.PeakMemory() as inner:
            pass
    assert outer.rss_delta >= 100 * MB
    assert inner.rss_delta < 100 * MB


def test_a_cached_entry_keeps_its_figures_and_its_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = mulcot_bench.evaluate([Sleepy(), "majority"], ["synthetic"], cache_dir=tmp_path / "c", **SIZES)
    monkeypatch.setattr(machine, "_cpu_model", lambda: "Another CPU")  # the second run: another machine
    machine.machine.cache_clear()
    second = mulcot_bench.evaluate([Sleepy(), "majority"], ["synthetic"], cache_dir=tmp_path / "c", report=True,
                                   **SIZES)  # fmt: skip
    assert second.provenance.machine.cpu == "Another CPU"
    assert first.provenance.machine.id != second.provenance.machine.id
    for name in ("sleepy", "majority"):
        before, after = _entry(first, name), _entry(second, name)
        assert after.cached
        assert after.efficiency.model_dump() == before.efficiency.model_dump()
        assert after.efficiency.run_id == first.run_id
        assert after.efficiency.machine.id == first.provenance.machine.id
    assert _entry(second, "majority").efficiency.training.run_id == first.run_id
    page = (second.report.parent / "dataset-synthetic.html").read_text()
    assert page.count("other machine") >= 2


def test_the_probe_can_be_turned_off_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(probe.ENV, "0")
    results = mulcot_bench.evaluate([Sleepy()], ["synthetic"], cache_dir=tmp_path / "c", **SIZES)
    eff = _entry(results, "sleepy").efficiency
    assert eff.prediction.latency is None and eff.ms_per_sample is None
    assert any(probe.ENV in note for note in eff.notes)
    monkeypatch.setenv(probe.ENV, "many")
    with pytest.raises(mulcot_bench.errors.UserError, match=probe.ENV):
        probe.probe_items()


def test_a_card_can_turn_the_probe_off(tmp_path: Path) -> None:
    """An endpoint model's card (each request a paid call) keeps the probe off: no extra calls, and a note."""
    quiet = Sleepy()
    quiet.card = ModelCard(**{**quiet.card.__dict__, "runtime": {"latency_probe": False}})
    calls: list[int] = []
    predict = quiet.predict
    quiet.predict = lambda samples: calls.append(len(samples)) or predict(samples)  # type: ignore[method-assign]
    results = mulcot_bench.evaluate([quiet], ["synthetic"], cache_dir=tmp_path / "c", **SIZES)
    eff = _entry(results, "sleepy").efficiency
    assert eff.prediction.latency is None and any("latency_probe" in note for note in eff.notes)
    assert sum(calls) == 40  # the test split once, no probe items


def test_the_probe_subset_is_fixed_and_the_percentiles_interpolate() -> None:
    assert probe.subset(100, 32) == probe.subset(100, 32)
    assert len(probe.subset(100, 32)) == 32 and probe.subset(5, 32) == [0, 1, 2, 3, 4]
    assert probe.percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.95) == pytest.approx(4.8)
    assert probe.percentile([7.0], 0.95) == 7.0


def test_parameter_counts_from_the_hook_torch_modules_or_the_fit_report() -> None:
    torch = pytest.importorskip("torch")

    class Hooked:
        def parameter_counts(self) -> dict[str, int]:
            return {"total": 1000, "trainable": 10}

    class Torchy:
        def __init__(self) -> None:
            self.encoder = torch.nn.Linear(10, 5)  # 55 parameters, frozen below
            self.head = torch.nn.Linear(5, 3)  # 18
            self.parts = [self.head]  # the same module twice: counted once
            for p in self.encoder.parameters():
                p.requires_grad_(False)

    assert params.counts(Hooked()) == {"total": 1000, "trainable": 10, "source": "parameter_counts()"}
    assert params.counts(Torchy()) == {"total": 73, "trainable": 18, "source": "torch modules on the model"}
    assert params.counts(object(), {"params": 12}) == {"total": 12, "trainable": 12, "source": "fit report"}
    assert params.counts(object(), {})["source"] == "not reported"


def test_a_card_that_understates_its_size_is_a_warning() -> None:
    counted = {"total": 73, "trainable": 18, "source": "torch modules on the model"}
    assert params.understated(18, counted) is None
    assert params.understated(19, counted) is None
    assert params.understated(None, counted) is None
    warning = params.understated(10, counted)
    assert warning is not None and "declares 10" in warning and "18 trainable" in warning


def test_disk_size_counts_every_file(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "a.bin").write_bytes(b"x" * 100)
    (tmp_path / "w" / "sub").mkdir()
    (tmp_path / "w" / "sub" / "b.json").write_bytes(b"y" * 20)
    assert params.disk_bytes(tmp_path / "w") == 120
    assert params.disk_bytes(None) is None and params.disk_bytes(tmp_path / "missing") is None


def test_the_front_on_hand_made_points() -> None:
    # (ms/sample, accuracy): a is cheapest, c best; b is beaten by a (cheaper and better); d ties c on quality
    # but costs more; e equals a exactly (both on the front); f costs more than c and scores lower
    points = [(1.0, 60.0), (2.0, 55.0), (5.0, 80.0), (9.0, 80.0), (1.0, 60.0), (20.0, 70.0), (3.0, 70.0)]
    assert front(points) == [0, 4, 6, 2]
    assert front([]) == []
    assert front([(4.0, 10.0)]) == [0]


def _cost_row(name: str, ms: float, acc: float, machine_id: str = "m1") -> Any:
    from mulcot_bench.efficiency.schema import Efficiency, Latency, Machine
    from mulcot_bench.efficiency.schema import Prediction as Predicted
    from mulcot_bench.report.costs import RowCost
    from mulcot_bench.report.tables import TableRow, Value

    latency = Latency(median_ms=ms, p95_ms=ms, items=32)
    eff = Efficiency(
        run_id="r", measured_at="2026-01-01T00:00:00+00:00", machine=Machine(id=machine_id, cpu="cpu"), signature="",
        prediction=Predicted(items=1, wall_seconds=1.0, batch_size=1, latency=latency),
    )  # fmt: skip
    return TableRow(kind="measured", key=name, model=name, variant=None, role="baseline",
                    values={"accuracy": Value(acc / 100, acc)}, cost=RowCost(eff, other_machine=False))  # fmt: skip


def test_the_cost_chart_rings_the_front_of_one_machine_only() -> None:
    from mulcot_bench.report.charts import quality_vs_cost
    from mulcot_bench.report.tables import Column, LeaderTable
    from mulcot_bench.results import DatasetRecord

    rows = [
        _cost_row("fast", 1.0, 60.0),
        _cost_row("beaten", 2.0, 55.0),
        _cost_row("best", 5.0, 80.0),
        _cost_row("slow-tie", 9.0, 80.0),
        _cost_row("elsewhere", 0.5, 90.0, machine_id="m2"),  # would beat them all: another machine, not compared
    ]
    column = Column("accuracy", "Accuracy", "accuracy", headline=True)
    ds = DatasetRecord(name="d", title="D", level="post", status="present")
    table = LeaderTable(ds, [column], [column], rows, [], ["accuracy"])
    chart = quality_vs_cost(table, "c")
    assert [p.label for p in chart.points] == ["fast", "beaten", "best", "slow-tie", "elsewhere"]
    assert [chart.points[i].label for i in chart.front] == ["fast", "best"]
    assert [p.variant for p in chart.points] == [False, False, False, False, True]  # hollow: the other machine
    assert chart.log_x and "another machine" in chart.note


def test_exports_and_compare_carry_the_costs(tmp_path: Path) -> None:
    import csv
    import io
    import json

    from mulcot_bench.report import render_runs
    from mulcot_bench.scoring.compare_costs import cost_rows

    results = mulcot_bench.evaluate([Sleepy(), "majority"], ["synthetic"], cache_dir=tmp_path / "c", **SIZES)
    sleepy, majority = _entry(results, "sleepy"), _entry(results, "majority")
    written = render_runs([results.run_dir], tmp_path / "out", ("md", "csv", "json"))
    rows = {r["model"]: r for r in csv.DictReader(io.StringIO(written["csv"].read_text()))}
    assert float(rows["sleepy"]["ms_per_sample"]) == sleepy.efficiency.ms_per_sample
    assert rows["majority"]["params_trainable"] == "0" and rows["sleepy"]["other_machine"] == "false"
    assert rows["sleepy"]["machine_id"] == results.provenance.machine.id
    doc = json.loads(written["json"].read_text())
    got = {r["model"]: r for r in doc["datasets"][0]["rows"]}
    assert got["sleepy"]["efficiency"]["prediction"]["latency"]["median_ms"] == sleepy.efficiency.ms_per_sample
    md = written["md"].read_text()
    assert "| trainable | ms/sample | peak mem |" in md and "median latency at batch size 1" in md

    costs, notes = cost_rows(sleepy, majority)
    by_name = {c.name: c for c in costs}
    ms = by_name["ms/sample, batch size 1, median"]
    assert ms.ratio == pytest.approx(sleepy.efficiency.ms_per_sample / majority.efficiency.ms_per_sample)
    assert notes == []
    moved = majority.model_copy(deep=True)
    moved.efficiency.machine.id = "elsewhere"
    costs, notes = cost_rows(sleepy, moved)
    assert {c.name: c.ratio for c in costs}["ms/sample, batch size 1, median"] is None
    assert notes and "two machines" in notes[0]


class Understated(Sleepy):
    """Declares 10 parameters, counts 1,000 trainable."""

    def __init__(self) -> None:
        self.card = card("understated", declared=10)

    def predict(self, samples: list[Any]) -> list[Prediction]:
        return [Prediction(label="neutral") for _ in samples]

    def parameter_counts(self) -> dict[str, int]:
        return {"total": 5000, "trainable": 1000}


def test_a_run_warns_when_a_card_understates_its_size(tmp_path: Path) -> None:
    results = mulcot_bench.evaluate([Understated()], ["synthetic"], cache_dir=tmp_path / "c", **SIZES)
    p = _entry(results, "understated").efficiency.parameters
    assert (p.total, p.trainable, p.declared, p.source) == (5000, 1000, 10, "parameter_counts()")
    assert p.warning is not None and "declares 10" in p.warning
    log = (results.run_dir / "run.log").read_text()
    assert "WARNING [synthetic] model 'understated': the card declares 10 parameters but 1,000 trainable" in log


def test_plugins_show_lists_the_declared_count() -> None:
    from click.testing import CliRunner

    from mulcot_bench.cli import cli

    out = CliRunner().invoke(cli, ["plugins", "show", "enc-student"])
    assert out.exit_code == 0, out.output
    assert "params: 550,000 (550k" in out.output and "declared by the card" in out.output


def test_the_cost_chart_draws_without_overlap() -> None:
    from test_report_charts import problems

    from mulcot_bench.report.charts import quality_vs_cost
    from mulcot_bench.report.plot import render
    from mulcot_bench.report.tables import Column, LeaderTable
    from mulcot_bench.results import DatasetRecord

    names = ["a-very-long-model-name-with-many-parts-student", "tfidf", "minilm-effnet-logistic-regression-baseline"]
    rows = [_cost_row(n, ms, acc) for n, ms, acc in zip(names, (30.0, 0.5, 9.0), (74.0, 37.5, 62.0), strict=True)]
    column = Column("accuracy", "Accuracy", "accuracy", headline=True)
    table = LeaderTable(DatasetRecord(name="d", title="D", level="post", status="present"), [column], [column], rows,
                        [], ["accuracy"])  # fmt: skip
    chart = quality_vs_cost(table, "cost")
    assert len(chart.front) == 3
    render([chart])
    assert chart.svg and problems(chart.svg) == []
