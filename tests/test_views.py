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
