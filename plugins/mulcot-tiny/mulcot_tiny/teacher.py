"""The synthetic teacher: a stand-in for the large MLLM teacher of MulCoT-RD on the ``synthetic`` dataset.

It "perceives" the generating attributes stored in ``Sample.meta`` with set error rates, applies the
dataset's label rule and writes a five-field chain in its own (varied) words. ``explain`` is the
correction step: told the gold label, it looks again carefully and writes a chain that reaches it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from mulcot_bench.plugin import LABELS, ModelCard, Prediction, Sample, check_label, render_chain, synthetic

DEFAULTS: dict[str, float | int] = {"image_noise": 0.12, "text_noise": 0.05, "seed": 0}
_PALETTE_WORDS = {"warm": "warm", "grey": "grey", "cool-dark": "dark, cool"}

_TEXT_WORD = (
    "The post describes {t} as {w}, which is {s}.",
    "Toward {t}, the text uses {w}: a {s} view.",
    "{t} is called {w} here, so the text is {s}.",
)
_TEXT_POLAR = (
    "The wording about {t} seems {s}.",
    "The text reads as {s} toward {t}.",
)
_TEXT_NEUTRAL = (
    "The post only gives a fact about {t}, no opinion.",
    "The text mentions {t} without any opinion word.",
    "Nothing in the text judges {t}; it is neutral.",
)
_IMAGE = (
    "The picture has a {f} face and {k}; it feels {l}.",
    "A {f} face under {k}, with {p} colours: a {l} scene.",
    "The photo shows {k} and a {f} face, so it looks {l}.",
)
_RESOLVE = {
    "agree": ("Both text and image are {s}, so they agree.", "The image matches the text: both are {s}."),
    "text_neutral": ("The text has no opinion, so the image mood decides.", "With neutral text, the image sets it."),
    "image_neutral": ("The picture is neutral, so the text decides.", "With a neutral image, the text sets it."),
    "conflict": (
        "The text and the image point opposite ways, so it is mixed.",
        "Text and image clash, so the overall sentiment is mixed.",
    ),
}
_CONCLUDE = (
    "Overall, the sentiment toward {t} is {l}.",
    "So the sentiment toward {t} is {l}.",
    "The overall sentiment for {t} is {l}.",
)


class SyntheticTeacher:
    """Noisy attribute reader + label rule + paraphrased chains; deterministic per (seed, sample content)."""

    def __init__(self, card: ModelCard) -> None:
        self.card = card
        settings = {**DEFAULTS, **card.settings}
        self.image_noise = _rate(settings["image_noise"], "image_noise")
        self.text_noise = _rate(settings["text_noise"], "text_noise")
        self.seed = int(settings["seed"])

    @staticmethod
    def asked(card: ModelCard, sample: Sample) -> dict[str, Any]:
        """No prompt: it reads the synthetic generating attributes of the sample (with noise)."""
        attributes = {k: sample.meta.get(k) for k in sorted(synthetic.Attributes.__dataclass_fields__)}
        note = "reads the synthetic generating attributes (Sample.meta) with noise; no prompt, no text or image"
        return {"kind": "input", "inputs": {"meta": attributes}, "image": False, "note": note}

    def supports(self, dataset: str) -> bool:
        """Only the synthetic dataset carries the attributes this teacher reads."""
        return dataset == synthetic.NAME

    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        """One noisy reading and chain per sample, independent of the rest of the batch."""
        return [self._predict_one(sample) for sample in samples]

    def explain(self, samples: Sequence[Sample], gold_labels: Sequence[str]) -> list[Prediction]:
        """The correction step: a careful second look that writes a chain ending in the gold label."""
        if len(samples) != len(gold_labels):
            raise ValueError(f"explain got {len(samples)} samples but {len(gold_labels)} gold labels")
        return [self._explain_one(sample, gold) for sample, gold in zip(samples, gold_labels, strict=True)]

    def _predict_one(self, sample: Sample) -> Prediction:
        rng = self._rng(sample, "predict")
        truth = _attributes(sample)
        seen = self._perceive(rng, truth)
        label = seen.label
        return Prediction(label=label, rationale=write_chain(rng, _target(sample), seen, label))

    def _explain_one(self, sample: Sample, gold: str) -> Prediction:
        check_label(gold, f"gold label of sample {sample.id!r}")
        rng = self._rng(sample, "explain")
        seen = reconcile(_attributes(sample), gold)
        return Prediction(label=gold, rationale=write_chain(rng, _target(sample), seen, gold))

    def _rng(self, sample: Sample, step: str) -> random.Random:
        return random.Random(f"synthetic-teacher:{self.seed}:{step}:{sample.content_hash}")

    def _perceive(self, rng: random.Random, truth: synthetic.Attributes) -> synthetic.Attributes:
        """Misread the text sentiment and the image mood with the set rates."""
        text = _misread(rng, truth.text_sentiment, self.text_noise)
        mood = _misread(rng, truth.image_mood, self.image_noise)
        opinion = truth.opinion if text == truth.text_sentiment else ""
        return replace(truth, text_sentiment=text, opinion=opinion, image_mood=mood, face=synthetic.FACES[mood])


def reconcile(truth: synthetic.Attributes, gold: str) -> synthetic.Attributes:
    """The true attributes if they give ``gold``; else the fewest changes (image first) that do."""
    candidates = [(truth.text_sentiment, truth.image_mood)]
    candidates += [(truth.text_sentiment, mood) for mood in LABELS]
    candidates += [(text, mood) for text in LABELS for mood in LABELS]
    text, mood = next((t, m) for t, m in candidates if synthetic.apply_rule(t, m) == gold)
    opinion = truth.opinion if text == truth.text_sentiment else ""
    return replace(truth, text_sentiment=text, opinion=opinion, image_mood=mood, face=synthetic.FACES[mood])


def write_chain(rng: random.Random, target: str, seen: synthetic.Attributes, label: str) -> str:
    """A five-field chain in the teacher's words, one variant per field chosen by ``rng``."""
    return render_chain(
        {
            "Text_analysis": _text_analysis(rng, target, seen),
            "Image_analysis": rng.choice(_IMAGE).format(
                f=seen.face,
                k=synthetic.SKY_PHRASES[seen.sky],
                p=_PALETTE_WORDS[seen.palette],
                l=synthetic.LOOKS[seen.image_mood],
            ),
            "Conflict_resolution": rng.choice(
                _RESOLVE[synthetic.resolution(seen.text_sentiment, seen.image_mood)]
            ).format(s=seen.text_sentiment),
            "Final_conclusion": rng.choice(_CONCLUDE).format(t=target, l=label),
            "Prediction": label,
        }
    )


def _text_analysis(rng: random.Random, target: str, seen: synthetic.Attributes) -> str:
    if seen.text_sentiment == "neutral":
        return rng.choice(_TEXT_NEUTRAL).format(t=target)
    frames = _TEXT_WORD if seen.opinion else _TEXT_POLAR
    return rng.choice(frames).format(t=target, w=seen.opinion, s=seen.text_sentiment)


def _misread(rng: random.Random, value: str, rate: float) -> str:
    wrong = rng.random() < rate
    other = rng.choice([label for label in LABELS if label != value])
    return other if wrong else value


def _attributes(sample: Sample) -> synthetic.Attributes:
    try:
        return synthetic.Attributes.from_meta(sample.meta)
    except KeyError as missing:
        raise ValueError(
            f"sample {sample.id!r} lacks the synthetic attribute {missing.args[0]!r} in its meta; "
            f"the synthetic teacher only serves the {synthetic.NAME!r} dataset"
        ) from None


def _target(sample: Sample) -> str:
    return sample.target or "the post"


def _rate(value: float | str, name: str) -> float:
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"synthetic teacher setting {name} must be in [0, 1], got {value!r}")
    return rate
