"""The frozen inputs of a list of samples, held in memory once per call, and their collation into batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mulcot_features.store import features_root, sha256

from mulcot_bench.plugin import Sample
from mulcot_encoder.net import IMAGE_DIM, TEXT_DIM, Batch

IMAGE_CHUNK = 256


@lru_cache(maxsize=4)
def token_encoder(root: Path, max_length: int, threads: int | None) -> Any:
    """One MiniLM token-state encoder per process, cache folder and setting."""
    from mulcot_encoder.tokens import TokenEncoder

    return TokenEncoder(max_length=max_length, threads=threads)


@lru_cache(maxsize=4)
def image_encoder(root: Path, image_size: int, threads: int | None) -> Any:
    """One EfficientNet-Lite0 per process, cache folder and setting."""
    from mulcot_features.encoders import ImageEncoder

    return ImageEncoder(None, image_size=image_size, threads=threads)


@dataclass
class Inputs:
    """Per-sample text rows ``(L, 385)`` float16, an index into ``images`` ``(K, P, 1280)`` (-1: no image), and
    the post's words with their rows in the text array (what a chain may copy)."""

    texts: list[np.ndarray]
    images: np.ndarray
    image_of: np.ndarray
    words: list[list[tuple[str, list[int]]]]

    def __len__(self) -> int:
        return len(self.texts)

    def batch(self, rows: Sequence[int]) -> Batch:
        """Pad the text rows of ``rows`` and gather their image grids (zeros where there is none)."""
        length = max(1, max(self.texts[r].shape[0] for r in rows))
        text = np.zeros((len(rows), length, TEXT_DIM + 1), np.float32)
        mask = np.zeros((len(rows), length), bool)
        for i, r in enumerate(rows):
            n = self.texts[r].shape[0]
            text[i, :n] = self.texts[r]
            mask[i, :n] = True
        which = self.image_of[list(rows)]
        if len(self.images):
            image = self.images[np.maximum(which, 0)].astype(np.float32)
            image[which < 0] = 0.0
        else:  # no post has an image (a text-only ablation, a dataset without images)
            image = np.zeros((len(rows), *self.images.shape[1:]), np.float32)
        return Batch(torch.from_numpy(text[..., :TEXT_DIM]), torch.from_numpy(text[..., TEXT_DIM]).long(),
                     torch.from_numpy(mask), torch.from_numpy(image), torch.from_numpy(which >= 0))


def identities(settings: dict[str, Any]) -> dict[str, Any]:
    """The encoders' identities (weights sha256, layout, sizes), for the saved model's metadata."""
    root = features_root(None)
    return {"text": token_encoder(root, int(settings["text_max_length"]), settings["torch_threads"]).identity,
            "image": image_encoder(root, int(settings["image_size"]), settings["torch_threads"]).identity}


def load_inputs(samples: Sequence[Sample], settings: dict[str, Any]) -> tuple[Inputs, dict[str, Any]]:
    """Token states and pooled grids of ``samples`` (encoded where not cached) and the encoders' counters."""
    from mulcot_features.encoders import IMAGE_PREPROCESSING

    if settings["image_preprocessing"] != IMAGE_PREPROCESSING:
        raise RuntimeError(f"card says image preprocessing {settings['image_preprocessing']!r}, the encoder does "
                           f"{IMAGE_PREPROCESSING!r}; update mulcot_encoder/plugin.py and raise the plugin version")
    root = features_root(None)
    threads = settings["torch_threads"]
    tokens = token_encoder(root, int(settings["text_max_length"]), threads)
    pairs = [(s.text, s.target) for s in samples]
    texts = tokens.encode(pairs)
    words = tokens.words(pairs)
    distinct: dict[str, int] = {}
    blobs: list[bytes] = []
    image_of = np.full(len(samples), -1, np.int64)
    for i, s in enumerate(samples):
        if s.image is None:
            continue
        key = sha256(s.image)
        if key not in distinct:
            distinct[key] = len(blobs)
            blobs.append(s.image)
        image_of[i] = distinct[key]
    pool = int(settings["image_pool"])
    images = np.zeros((len(blobs), pool * pool, IMAGE_DIM), np.float16)
    encoder = image_encoder(root, int(settings["image_size"]), threads)
    before = dict(encoder.stats)
    for start in range(0, len(blobs), IMAGE_CHUNK):
        grid = encoder.grid(blobs[start : start + IMAGE_CHUNK])
        if grid.shape[-1] != pool:
            grid = torch.nn.functional.adaptive_avg_pool2d(grid, pool)
        images[start : start + len(grid)] = grid.flatten(2).transpose(1, 2).numpy().astype(np.float16)
    stats = {k: encoder.stats[k] - before.get(k, 0) for k in encoder.stats}
    stats["distinct_images"] = len(blobs)
    return Inputs(texts, images, image_of, words), stats
