"""Real data and the real runner: a Twitter-2015 subset read in place, and a cached second run on synthetic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from mulcot_features.models import FeatureLogReg

from mulcot_bench.data.loaders import load_twitter
from mulcot_bench.labels import LABELS
from mulcot_bench.plugin.registry import Registry, build_registry
from mulcot_bench.runner import RunOptions, run
from mulcot_bench.types import FitContext

NAMES = ["minilm-lr", "effnet-lr", "minilm-effnet-lr"]


def test_twitter2015_subset_with_real_images(shared_data: Path, mulcot_registry: Registry) -> None:
    data = load_twitter(shared_data / "twitter2015", "twitter2015")
    train, dev, test = data.train[:24], data.dev[:8], data.test[:8]
    model = FeatureLogReg(mulcot_registry.model("minilm-effnet-lr").card)
    report = model.fit(train, dev, FitContext(seed=0, dataset="twitter2015", level="aspect"))
    images = report["images_train_dev"]
    assert images["requested"] == 32 and images["no_image"] == 0 and images["undecodable"] == 0
    assert report["feature_dim"] == 384 * 2 + 1280
    preds = model.predict(test)
    assert len(preds) == 8 and all(p.label in LABELS for p in preds)
    # two targets of one tweet: one image, so equal image features; different targets, different text features
    pairs = [(a, b) for i, a in enumerate(train) for b in train[i + 1:] if a.image == b.image and a.target != b.target]
    assert pairs, "the first 24 training items should hold a tweet with two targets"
    a, b = pairs[0]
    rows = model.features([a, b])
    np.testing.assert_array_equal(rows[0, 768:], rows[1, 768:])
    assert not np.allclose(rows[0, :768], rows[1, :768])


def test_runner_trains_once_then_serves_from_the_cache(tmp_path: Path) -> None:
    registry = build_registry()
    options = dict(datasets=["synthetic"], models=NAMES, runs_dir=tmp_path / "runs", reports_dir=tmp_path / "rep",
                   cache_dir=tmp_path / "cache", dataset_options={"synthetic": {"train": 60, "dev": 20, "test": 20}},
                   bootstrap=0)
    first = run(registry, RunOptions(run_id="first", **options)).results
    assert not first.failures, first.failures
    entries = {e.model: e for e in first.entries if e.dataset == "synthetic"}
    assert set(NAMES) <= set(entries)
    for name in NAMES:
        assert entries[name].role == "baseline" and entries[name].plugin == "features"
        assert 0.0 <= entries[name].scores["accuracy"] <= 1.0 and not entries[name].cached
        assert entries[name].stage["C"] in registry.model(name).card.settings["c_grid"]
    second = run(build_registry(), RunOptions(run_id="second", **options)).results
    again = {e.model: e for e in second.entries if e.dataset == "synthetic"}
    for name in NAMES:
        assert again[name].cached and again[name].scores == entries[name].scores
