"""The three feature baselines: registration, target dependence, fit/predict, the contract, save/load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mulcot_features.models import FeatureLogReg

from mulcot_bench.data.synthetic import generate
from mulcot_bench.labels import LABELS
from mulcot_bench.plugin.registry import Registry
from mulcot_bench.plugin.testing import check_model, tiny_data
from mulcot_bench.types import FitContext, Sample

NAMES = ("minilm-lr", "effnet-lr", "minilm-effnet-lr")


@pytest.fixture(scope="module")
def small():  # noqa: ANN201
    return generate(seed=5, train=60, dev=20, test=20)


def _model(registry: Registry, name: str) -> FeatureLogReg:
    spec = registry.model(name)
    return FeatureLogReg(spec.card)


def test_registered_as_default_baselines_without_rationales(mulcot_registry: Registry) -> None:
    for name in NAMES:
        card = mulcot_registry.model(name).card
        assert card.role == "baseline" and card.default and card.rationale is False
        assert card.settings["c_grid"] and "max_iter" in card.settings
    assert [mulcot_registry.model(n).card.params for n in NAMES] == [2307, 3843, 6147]
    assert mulcot_registry.model("minilm-lr").card.modalities == ("text",)
    assert mulcot_registry.model("effnet-lr").card.modalities == ("image",)
    assert mulcot_registry.model("minilm-effnet-lr").card.modalities == ("text", "image")


def test_text_features_depend_on_the_target(mulcot_registry: Registry) -> None:
    model = _model(mulcot_registry, "minilm-lr")
    text = "Great game by Messi tonight, but Ronaldo was awful"
    rows = model.features([Sample("a", text, "positive", target="Messi"),
                           Sample("b", text, "negative", target="Ronaldo"),
                           Sample("c", text, "positive", target="Messi")])
    assert rows.shape == (3, 768)
    assert not np.allclose(rows[0, :384], rows[1, :384])  # "target: text" differs
    assert not np.allclose(rows[0, 384:], rows[1, 384:])  # the target embedding differs
    np.testing.assert_array_equal(rows[0], rows[2])
    post = model.features([Sample("d", text, "positive")])  # post level: the text alone
    assert post.shape == (1, 384)


@pytest.mark.parametrize("name", NAMES)
def test_fits_and_predicts_on_synthetic(mulcot_registry: Registry, small, name: str, tmp_path: Path) -> None:
    model = _model(mulcot_registry, name)
    report = model.fit(small.train, small.dev, FitContext(seed=3, dataset="synthetic", level="aspect"))
    dims = {"minilm-lr": 768, "effnet-lr": 1280, "minilm-effnet-lr": 2048}[name]
    assert report["feature_dim"] == dims and report["params"] == 3 * dims + 3
    grid, weights = model.card.settings["c_grid"], model.card.settings.get("image_weight_grid", [1.0])
    assert report["C"] in grid and len(report["c_search"]) == len(grid) * len(weights)
    assert ("image_weight" in report) == (name == "minilm-effnet-lr")
    assert 0.0 <= report["dev_accuracy"] <= 1.0
    preds = model.predict(small.test)
    assert len(preds) == len(small.test)
    for p in preds:
        assert p.label in LABELS and p.rationale is None
        assert abs(sum(p.probs.values()) - 1.0) < 1e-9 and p.label == max(p.probs, key=p.probs.get)
    if "image" in model.blocks:
        assert report["images_train_dev"]["requested"] == 80 and report["images_train_dev"]["no_image"] == 0
    # the artifact round-trip gives the same probabilities
    model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "weights.safetensors"]
    loaded = _model(mulcot_registry, name)
    loaded.load(tmp_path)
    assert [p.probs for p in loaded.predict(small.test)] == [p.probs for p in preds]


def test_load_refuses_features_from_other_weights(mulcot_registry: Registry, small, tmp_path: Path) -> None:
    model = _model(mulcot_registry, "minilm-lr")
    model.fit(small.train[:30], small.dev[:10], FitContext(seed=0, dataset="synthetic", level="aspect"))
    model.save(tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["encoders"]["text"]["weights_sha256"] = "0" * 64
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(RuntimeError, match="other encoder weights"):
        _model(mulcot_registry, "minilm-lr").load(tmp_path)


def test_fusion_sees_both_modalities(mulcot_registry: Registry, small) -> None:
    """Blanking the image or the text changes the fused model's probabilities."""
    from dataclasses import replace

    model = _model(mulcot_registry, "minilm-effnet-lr")
    model.fit(small.train, small.dev, FitContext(seed=0, dataset="synthetic", level="aspect"))
    base = [p.probs for p in model.predict(small.test[:8])]
    no_image = [p.probs for p in model.predict([replace(s, image=None) for s in small.test[:8]])]
    no_text = [p.probs for p in model.predict([replace(s, text="") for s in small.test[:8]])]
    assert base != no_image and base != no_text


@pytest.mark.parametrize("name", NAMES)
def test_meets_the_contract(mulcot_registry: Registry, name: str) -> None:
    check_model(name, registry=mulcot_registry, data=tiny_data())


def test_the_cards_image_runtime_reaches_the_encoder(mulcot_registry: Registry) -> None:
    from dataclasses import replace

    card = mulcot_registry.model("effnet-lr").card
    assert card.runtime["image_runtime"] == "auto" and "image_runtime" not in card.settings  # not in the identity
    assert FeatureLogReg(card).image_encoder().runtime_used == "onnxruntime"  # installed by the set-up line
    eager = replace(card, runtime={**card.runtime, "image_runtime": "torch"})
    assert FeatureLogReg(eager).image_encoder().runtime_used == "torch"
