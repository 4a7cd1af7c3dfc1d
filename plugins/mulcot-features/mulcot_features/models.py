"""Logistic regression on frozen pretrained features: text-only, image-only, and both concatenated.

Features (all from :mod:`mulcot_features.encoders`, cached on disk by content):

- ``text``: the all-MiniLM-L6-v2 embedding of ``text_input`` (``"{target}: {text}"`` at aspect level, the text
  alone at post level), plus, when ``target_embedding`` is set and the data is aspect-level, the embedding of
  the target alone, so two targets of one post get different features;
- ``image``: the mean-pooled EfficientNet-Lite0 feature map (zeros, counted, for a sample without an image).

The blocks are concatenated, standardised with the training mean and deviation, and fed to a multinomial
logistic regression. ``C`` is chosen from ``c_grid`` by dev accuracy (ties: macro-F1, then the smaller C). With
both modalities the standardised image block is also multiplied by a weight from ``image_weight_grid``, chosen
on dev with C: a weight w is an L2 penalty 1/w^2 times stronger on the image block than on the text block.
The trained state is saved as safetensors plus JSON; prediction is plain numpy, so a fitted model and one
loaded from the cache give identical outputs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from mulcot_bench.plugin import (
    LABELS,
    FitContext,
    ModelCard,
    Prediction,
    Sample,
    asked_input,
    count_torch_parameters,
    default_cache_dir,
    write_text,
)

WEIGHTS_FILE = "weights.safetensors"
META_FILE = "model.json"


@lru_cache(maxsize=4)
def shared_text_encoder(cache_dir: Path, max_length: int, threads: int | None) -> Any:
    """One MiniLM per process and setting: the text-only and the fused model load it once."""
    from mulcot_features.encoders import TextEncoder

    return TextEncoder(cache_dir, max_length=max_length, threads=threads)


@lru_cache(maxsize=4)
def shared_image_encoder(cache_dir: Path, image_size: int, max_upscale: float | None, batch_size: int,
                         threads: int | None, runtime: str = "auto") -> Any:
    """One EfficientNet-Lite0 per process and setting (its counters are read as differences)."""
    from mulcot_features.encoders import ImageEncoder

    return ImageEncoder(cache_dir, image_size=image_size, max_upscale=max_upscale, batch_size=batch_size,
                        threads=threads, runtime=runtime)


def text_input(sample: Sample, template: str) -> str:
    """What the text encoder reads: the template filled with target and text (the text alone at post level)."""
    if sample.target is None:
        return sample.text
    return template.format(target=sample.target, text=sample.text)


def softmax_probs(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax; a single logit column is the binary case (sigmoid), as scikit-learn does."""
    if logits.shape[1] == 1:
        pos = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        return np.stack([1.0 - pos, pos], axis=1)
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


class FeatureLogReg:
    """A baseline whose card says which feature blocks it reads (``settings["features"]``)."""

    def __init__(self, card: ModelCard) -> None:
        self.card = card
        self.settings = card.settings
        self.blocks: list[str] = list(card.settings["features"])
        self._text: Any = None
        self._image: Any = None
        self.state: dict[str, np.ndarray] | None = None
        self.meta: dict[str, Any] = {}

    @staticmethod
    def asked(card: ModelCard, sample: Sample) -> dict[str, Any]:
        """The strings the text encoder embeds and whether the image encoder reads the image (no prompt)."""
        s = card.settings
        inputs: dict[str, str | None] = {}
        if "text" in s["features"]:
            inputs["text"] = text_input(sample, s["text_input"])
            if s.get("target_embedding") and sample.target is not None:
                inputs["target"] = sample.target
        image = "image" in s["features"] and sample.image is not None
        blocks = " + ".join(s["features"])
        return asked_input(inputs, image, f"frozen {blocks} features (no prompt) into a logistic regression")

    # features ------------------------------------------------------------------------------------------------
    def text_encoder(self) -> Any:
        if self._text is None:
            self._text = shared_text_encoder(default_cache_dir(), int(self.settings["text_max_length"]),
                                             self.settings["torch_threads"])
        return self._text

    def image_encoder(self) -> Any:
        if self._image is None:
            from mulcot_features.encoders import IMAGE_PREPROCESSING

            if self.settings["image_preprocessing"] != IMAGE_PREPROCESSING:
                raise RuntimeError(f"{self.card.name}: card says image preprocessing "
                                   f"{self.settings['image_preprocessing']!r}, the encoder does "
                                   f"{IMAGE_PREPROCESSING!r}; update the card in mulcot_features/plugin.py "
                                   "and raise the plugin version")
            upscale = self.settings["max_upscale"]
            self._image = shared_image_encoder(default_cache_dir(), int(self.settings["image_size"]),
                                               None if upscale is None else float(upscale),
                                               int(self.settings["batch_size"]), self.settings["torch_threads"],
                                               self.card.runtime.get("image_runtime", "auto"))
        return self._image

    def parameter_counts(self) -> dict[str, int | None] | None:
        """Trainable: the regression's weights; total: those plus the frozen encoders' (None when an encoder in
        use is not a torch module here, e.g. an ONNX runtime). None before fit or load."""
        if self.state is None:
            return None
        head = int(self.state["coef"].size + self.state["intercept"].size)
        total: int | None = head
        for block, encoder in (("text", self._text), ("image", self._image)):
            if block not in self.blocks:
                continue
            found = count_torch_parameters(encoder) if encoder is not None else None
            total = None if found is None or total is None else total + found[0]
        return {"total": total, "trainable": head}

    def encoder_identities(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "text" in self.blocks:
            out["text"] = self.text_encoder().identity
        if "image" in self.blocks:
            out["image"] = self.image_encoder().identity
        return out

    def blocks_of(self, samples: Sequence[Sample]) -> list[tuple[str, np.ndarray]]:
        """The feature blocks, each ``(modality, rows)``."""
        parts = []
        if "text" in self.blocks:
            enc = self.text_encoder()
            parts.append(("text", enc.embed([text_input(s, self.settings["text_input"]) for s in samples])))
            if self.settings["target_embedding"] and any(s.target is not None for s in samples):
                parts.append(("text", enc.embed([s.target or "" for s in samples])))
        if "image" in self.blocks:
            parts.append(("image", self.image_encoder().pooled([s.image for s in samples])))
        return parts

    def features(self, samples: Sequence[Sample]) -> np.ndarray:
        """The concatenated feature blocks, one row per sample (float64 for the regression)."""
        return np.concatenate([rows for _, rows in self.blocks_of(samples)], axis=1).astype(np.float64)

    # training ------------------------------------------------------------------------------------------------
    def fit(self, train: Sequence[Sample], dev: Sequence[Sample], ctx: FitContext) -> dict[str, Any]:
        """Standardise, then pick (C, image weight) on dev; the image weight scales the standardised image block,
        which is the same as a stronger L2 penalty on it (by 1 / weight^2). BLAS and OpenMP run on one thread: the
        problems are small, more threads only spin on a busy machine, and one thread makes the sums reproducible."""
        import sklearn.linear_model  # noqa: F401 - loads scipy's own BLAS before the thread limit below is set
        from threadpoolctl import threadpool_limits

        image_before = dict(self.image_encoder().stats) if "image" in self.blocks else {}
        examples_before = len(self.image_encoder().undecodable_examples) if "image" in self.blocks else 0
        y_train = [s.label for s in train]
        if len(set(y_train)) < 2:
            raise ValueError(f"{self.card.name}: the training split has one label only ({y_train[0]!r}); "
                             "logistic regression needs at least two")
        blocks = self.blocks_of(train)
        is_image = np.concatenate([np.full(rows.shape[1], kind == "image") for kind, rows in blocks])
        x_train = np.concatenate([rows for _, rows in blocks], axis=1).astype(np.float64)
        x_dev, y_dev = (self.features(dev), [s.label for s in dev]) if dev else (None, [])
        mean = x_train.mean(axis=0)
        scale = x_train.std(axis=0)
        scale[scale < 1e-12] = 1.0  # constant columns (e.g. all images missing) stay zero
        weights = [float(w) for w in self.settings.get("image_weight_grid", [1.0])] if is_image.any() else [1.0]
        if not dev:
            weights, c_grid = weights[-1:], [float(self.settings["c_without_dev"])]
        else:
            c_grid = [float(c) for c in self.settings["c_grid"]]
        tried: list[dict[str, Any]] = []
        with threadpool_limits(limits=1):
            best = self._search(x_train, y_train, x_dev, y_dev, mean, scale, is_image, weights, c_grid, ctx.seed,
                                tried)
        _, lr, c, w, col_scale = best
        self.state = {"coef": np.asarray(lr.coef_, np.float64), "intercept": np.asarray(lr.intercept_, np.float64),
                      "mean": mean, "scale": col_scale}
        self.meta = {"classes": [str(k) for k in lr.classes_], "C": c, "image_weight": w, "level": ctx.level,
                     "feature_dim": int(x_train.shape[1]), "encoders": self.encoder_identities()}
        report: dict[str, Any] = {
            "n_train": len(train), "n_dev": len(dev), "feature_dim": int(x_train.shape[1]), "C": c,
            "c_search": tried or "no dev split: C fixed to c_without_dev",
            "params": int(lr.coef_.size + lr.intercept_.size),
            "encoders": self.meta["encoders"],
        }
        if is_image.any() and not is_image.all():
            report["image_weight"] = w
        if tried:
            chosen = next(t for t in tried if t["C"] == c and t["image_weight"] == w)
            report["dev_accuracy"], report["dev_macro_f1"] = chosen["dev_accuracy"], chosen["dev_macro_f1"]
        if "image" in self.blocks:
            after = self.image_encoder().stats
            report["images_train_dev"] = {k: after[k] - image_before.get(k, 0) for k in after}
            examples = self.image_encoder().undecodable_examples[examples_before:]
            if examples:
                report["undecodable_examples"] = examples
        return report

    def _search(self, x_train: np.ndarray, y_train: list[str], x_dev: np.ndarray | None, y_dev: list[str],
                mean: np.ndarray, scale: np.ndarray, is_image: np.ndarray, weights: list[float],
                c_grid: list[float], seed: int, tried: list[dict[str, Any]]) -> tuple:
        """Fit one regression per (image weight, C); the best by dev accuracy, macro-F1, smaller C, larger weight."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import accuracy_score, f1_score

        dev = x_dev is not None
        best: tuple[tuple[float, ...], Any, float, float, np.ndarray] | None = None
        for w in weights:
            col_scale = np.where(is_image, scale / w, scale)
            z_train = (x_train - mean) / col_scale
            z_dev = (x_dev - mean) / col_scale if dev else None
            for c in c_grid:
                lr = LogisticRegression(C=c, max_iter=int(self.settings["max_iter"]), random_state=seed,
                                        class_weight=self.settings["class_weight"])
                lr.fit(z_train, y_train)
                rank: tuple[float, ...] = (0.0, 0.0, -c, w)
                if dev:
                    pred = lr.predict(z_dev)
                    acc = float(accuracy_score(y_dev, pred))
                    mf1 = float(f1_score(y_dev, pred, labels=list(LABELS), average="macro", zero_division=0))
                    tried.append({"C": c, "image_weight": w, "dev_accuracy": round(acc, 4),
                                  "dev_macro_f1": round(mf1, 4), "iterations": int(np.max(lr.n_iter_))})
                    rank = (acc, mf1, -c, w)
                if best is None or rank > best[0]:
                    best = (rank, lr, c, w, col_scale)
        assert best is not None
        return best

    # prediction ----------------------------------------------------------------------------------------------
    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        if self.state is None:
            raise RuntimeError(f"{self.card.name} used before fit")
        if not samples:
            return []
        z = (self.features(samples) - self.state["mean"]) / self.state["scale"]
        if z.shape[1] != self.meta["feature_dim"]:
            raise ValueError(f"{self.card.name}: features have {z.shape[1]} columns, the model was trained on "
                             f"{self.meta['feature_dim']} (post-level and aspect-level data mixed?)")
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            probs = softmax_probs(z @ self.state["coef"].T + self.state["intercept"])
        classes = self.meta["classes"]
        out = []
        for row in probs:
            dist = {lab: float(row[classes.index(lab)]) if lab in classes else 0.0 for lab in LABELS}
            label = max(LABELS, key=lambda lab: (dist[lab], -LABELS.index(lab)))
            out.append(Prediction(label=label, probs=dist))
        return out

    # artifacts -----------------------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        from safetensors.numpy import save_file

        if self.state is None:
            raise RuntimeError(f"{self.card.name}: nothing to save before fit")
        save_file({k: np.ascontiguousarray(v) for k, v in self.state.items()}, str(folder / WEIGHTS_FILE))
        write_text(folder / META_FILE, json.dumps(self.meta, indent=2, sort_keys=True) + "\n")

    def load(self, folder: Path) -> None:
        from safetensors.numpy import load_file

        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        now = self.encoder_identities()
        if meta["encoders"] != now:
            raise RuntimeError(
                f"{self.card.name}: the cached model in {folder} was trained on features of other encoder weights "
                f"or preprocessing ({meta['encoders']} vs installed {now}); delete that folder to retrain"
            )
        self.state = dict(load_file(str(folder / WEIGHTS_FILE)))
        self.meta = meta
