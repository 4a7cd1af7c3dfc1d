"""Dataset views: the released-rationales protocol variant and seeded subsets."""

from __future__ import annotations

import pytest

from mulcot_bench.data.synthetic import generate
from mulcot_bench.data.views import apply_views, choose_protocol, released_rationales, subset
from mulcot_bench.errors import UserError


def _without_train_chains():  # noqa: ANN202
    data = generate(seed=2, train=30, dev=20, test=10)
    data.train = [s.with_rationale(None) for s in data.train]
    return data


def test_released_rationales_moves_dev_chains_into_train_and_holds_out_a_slice() -> None:
    data = _without_train_chains()
    view = released_rationales(data, seed=1)
    assert len(view.train) == 30 + 16 and len(view.dev) == 4 and view.test == data.test
    assert sum(s.rationale is not None for s in view.train) == 16
    assert {s.id for s in view.dev}.isdisjoint(s.id for s in view.train)
    assert {s.id for s in view.dev} | {s.id for s in view.train[30:]} == {s.id for s in data.dev}
    assert "released-rationales" in view.notes[-1]
    assert released_rationales(data, seed=1).dev == view.dev  # seeded
    assert released_rationales(data, seed=2).dev != view.dev


def test_released_rationales_without_dev_chains_says_so() -> None:
    data = generate(seed=2, train=10, dev=10, test=5)
    data.dev = [s.with_rationale(None) for s in data.dev]
    view = released_rationales(data, seed=1)
    assert view.train == data.train and "not applied" in view.notes[-1]


def test_subset_is_seeded_in_file_order_and_changes_the_fingerprint() -> None:
    data = generate(seed=2, train=30, dev=20, test=10)
    view = subset(data, (5, 20, 3), seed=4)
    assert [len(view.train), len(view.dev), len(view.test)] == [5, 20, 3]
    ids = [s.id for s in data.train]
    assert [ids.index(s.id) for s in view.train] == sorted(ids.index(s.id) for s in view.train)
    assert subset(data, (5, 20, 3), seed=4).train == view.train
    assert view.fingerprint != data.fingerprint
    assert "train 5/30" in view.notes[-1]


def test_unknown_protocol_is_one_clear_error() -> None:
    with pytest.raises(UserError, match="unknown protocol 'paper'"):
        apply_views(generate(seed=2, train=5, dev=5, test=5), "paper", None, 1)


def test_auto_protocol_uses_the_released_chains_only_where_no_teacher_serves_the_train_split() -> None:
    released = _without_train_chains()  # dev chains, no train chains: as the Twitter-2015 release
    assert choose_protocol("auto", released, teacher_serves_train=False) == "released-rationales"
    assert choose_protocol("auto", released, teacher_serves_train=True) == "reference"
    with_train_chains = generate(seed=2, train=10, dev=10, test=5)
    assert choose_protocol("auto", with_train_chains, teacher_serves_train=False) == "reference"
    assert choose_protocol("reference", released, teacher_serves_train=False) == "reference"
    assert choose_protocol("released-rationales", with_train_chains, True) == "released-rationales"
    with pytest.raises(UserError, match="unknown protocol 'paper'"):
        choose_protocol("paper", released, True)


def test_a_teacher_serves_the_train_split_only_where_it_has_chains_for_it() -> None:
    from mulcot_bench.plugin.registry import build_registry
    from mulcot_bench.runner.intake import train_served

    reg = build_registry()
    released = _without_train_chains()
    released.name = "twitter2015"  # the replay teacher replays a real set's chains; the synthetic teacher: synthetic
    assert train_served(reg, None)(released) is False
    released.name = "synthetic"
    assert train_served(reg, None)(released) is True


def test_subset_with_none_keeps_the_whole_split() -> None:
    data = generate(seed=2, train=30, dev=20, test=10)
    view = apply_views(data, "reference", (None, None, 4), seed=4)
    assert [len(view.train), len(view.dev), len(view.test)] == [30, 20, 4]
    assert view.train == data.train and view.dev == data.dev
    assert "train 30/30, dev 20/20, test 4/10" in view.notes[-1]


@pytest.mark.parametrize(("value", "limits"), [("7", (None, None, 7)), ("3,4,5", (3, 4, 5)), (None, None)])
def test_limit_one_number_is_test_items_three_numbers_are_per_split(
    value: str | None, limits: tuple | None, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # noqa: ANN001
    from test_stats import _main

    seen = {}

    def fake_run(registry, options):  # noqa: ANN001, ANN202
        seen["limits"] = options.limits
        raise SystemExit(0)

    monkeypatch.setattr("mulcot_bench.runner.run", fake_run)
    args = ["run", "-d", "synthetic", "-m", "majority", "--runs-dir", str(tmp_path)]
    assert _main(monkeypatch, *args, *(["--limit", value] if value else [])) == 0
    assert seen["limits"] == limits


@pytest.mark.parametrize("value", ["0", "1,2", "a", "5,0,5", "1,2,3,4"])
def test_a_bad_limit_is_one_line_and_exit_2(value: str, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path) -> None:  # noqa: ANN001
    from test_stats import _main

    monkeypatch.setattr("mulcot_bench.runner.run", lambda *a: pytest.fail("ran"))
    assert _main(monkeypatch, "run", "-d", "synthetic", "--limit", value, "--runs-dir", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--limit {value!r} must be one positive integer N (test samples)" in err


def test_limit_help_names_both_forms() -> None:
    from click.testing import CliRunner

    from mulcot_bench.cli import cli

    out = CliRunner().invoke(cli, ["run", "--help"], terminal_width=200).output
    assert "--limit N|TRAIN,DEV,TEST" in out and "N test samples (train and dev whole)" in out
