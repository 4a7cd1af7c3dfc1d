"""The embedded synthetic dataset: sizes, determinism, balance, the label rule, chains and images."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict

import pytest
from PIL import Image

from mulcot_bench.data.synthetic import (
    FACES,
    OPINIONS,
    PALETTES,
    SKIES,
    TARGETS,
    Attributes,
    apply_rule,
    generate,
    resolution,
)
from mulcot_bench.labels import LABELS
from mulcot_bench.rationale import FIELDS, parse
from mulcot_bench.types import Sample, Splits

META_KEYS = {"text_sentiment", "image_mood", "face", "sky", "palette", "opinion", "conflict", "post"}
SMALL_FINGERPRINT = "63a5aa3fa1d8539feb1ec23ea0cb800bc2b4120671873be1dd6f188bd9c833ad"


@pytest.fixture(scope="module")
def timed() -> tuple[Splits, float]:
    start = time.perf_counter()
    splits = generate()
    return splits, time.perf_counter() - start


@pytest.fixture(scope="module")
def splits(timed: tuple[Splits, float]) -> Splits:
    return timed[0]


@pytest.fixture(scope="module")
def everything(splits: Splits) -> list[Sample]:
    return splits.train + splits.dev + splits.test


def test_default_sizes_name_and_level(splits: Splits) -> None:
    assert splits.counts() == {"train": 600, "dev": 200, "test": 200}
    assert (splits.name, splits.level) == ("synthetic", "aspect")
    ids = [s.id for split in ("train", "dev", "test") for s in splits.split(split)]
    assert len(set(ids)) == len(ids)
    assert all(s.id.startswith("train-") for s in splits.train)
    assert all(s.id.startswith("test-") for s in splits.test)


def test_custom_sizes_count_samples_not_posts() -> None:
    small = generate(seed=1, train=7, dev=1, test=0)
    assert small.counts() == {"train": 7, "dev": 1, "test": 0}
    with pytest.raises(ValueError, match="size"):
        generate(train=-1)


def test_generation_is_fast(timed: tuple[Splits, float]) -> None:
    assert timed[1] < 10.0


def test_same_seed_same_bytes(splits: Splits) -> None:
    again = generate()
    assert again.fingerprint == splits.fingerprint
    assert [s.image for s in again.test] == [s.image for s in splits.test]
    assert generate(seed=14).fingerprint != splits.fingerprint


def test_splits_do_not_depend_on_other_split_sizes(splits: Splits) -> None:
    alone = generate(train=0, dev=0, test=200)
    assert [(s.id, s.content_hash, s.label) for s in alone.test] == [
        (s.id, s.content_hash, s.label) for s in splits.test
    ]


def test_fingerprint_stable_across_processes() -> None:
    code = "from mulcot_bench.data.synthetic import generate; print(generate(5, 6, 3, 3).fingerprint)"
    prints = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        prints.add(done.stdout.strip())
    assert prints == {generate(5, 6, 3, 3).fingerprint}


def test_fingerprint_matches_golden_value() -> None:
    """Guards byte-stability across machines and library versions; update only on purpose."""
    assert generate(5, 6, 3, 3).fingerprint == SMALL_FINGERPRINT


def test_rule_table() -> None:
    expected = {
        ("positive", "positive"): "positive",
        ("positive", "neutral"): "positive",
        ("positive", "negative"): "neutral",
        ("neutral", "positive"): "positive",
        ("neutral", "neutral"): "neutral",
        ("neutral", "negative"): "negative",
        ("negative", "positive"): "neutral",
        ("negative", "neutral"): "negative",
        ("negative", "negative"): "negative",
    }
    assert {(t, i): apply_rule(t, i) for t in LABELS for i in LABELS} == expected
    assert resolution("positive", "negative") == "conflict"
    assert resolution("neutral", "negative") == "text_neutral"
    assert resolution("negative", "neutral") == "image_neutral"
    assert resolution("neutral", "neutral") == "agree"


def test_labels_roughly_balanced(everything: list[Sample]) -> None:
    shares = {label: n / len(everything) for label, n in Counter(s.label for s in everything).items()}
    assert set(shares) == set(LABELS)
    assert all(0.27 < share < 0.40 for share in shares.values()), shares


def _best_single_cue(samples: list[Sample], key: str) -> float:
    by_value: dict[str, Counter[str]] = defaultdict(Counter)
    for s in samples:
        by_value[s.meta[key]][s.label] += 1
    return sum(c.most_common(1)[0][1] for c in by_value.values()) / len(samples)


def test_label_needs_both_modalities(everything: list[Sample]) -> None:
    assert _best_single_cue(everything, "text_sentiment") < 0.65
    assert _best_single_cue(everything, "image_mood") < 0.65
    assert all(s.label == apply_rule(s.meta["text_sentiment"], s.meta["image_mood"]) for s in everything)
    conflicts = [s for s in everything if s.meta["conflict"] == "yes"]
    assert 0.15 < len(conflicts) / len(everything) < 0.35
    assert all(s.label == "neutral" for s in conflicts)


def test_meta_is_complete_and_consistent(everything: list[Sample]) -> None:
    for s in everything:
        assert set(s.meta) == META_KEYS and all(isinstance(v, str) for v in s.meta.values())
        assert s.meta["face"] == FACES[s.meta["image_mood"]]
        assert s.meta["post"] == s.id.rsplit("-", 1)[0]
        assert s.image_ref == f"synthetic/{s.meta['post']}.png"
        assert Attributes.from_meta(s.meta).label == s.label


def test_image_cues_agree_with_mood_mostly(everything: list[Sample]) -> None:
    for key, table in (("sky", SKIES), ("palette", PALETTES)):
        agree = sum(s.meta[key] == table[s.meta["image_mood"]] for s in everything) / len(everything)
        assert 0.72 < agree < 0.88, (key, agree)


def test_text_holds_target_and_opinion(everything: list[Sample]) -> None:
    for s in everything:
        assert s.target in s.text
        sentiment, opinion = s.meta["text_sentiment"], s.meta["opinion"]
        if sentiment == "neutral":
            assert opinion == ""
        else:
            assert opinion in OPINIONS[sentiment] and opinion in s.text.lower()


def test_posts_share_content_and_targets_vary(everything: list[Sample]) -> None:
    posts: dict[str, list[Sample]] = defaultdict(list)
    for s in everything:
        posts[s.meta["post"]].append(s)
    pairs = [group for group in posts.values() if len(group) == 2]
    assert 0.3 < len(pairs) / len(posts) < 0.5
    assert all(a.text == b.text and a.image == b.image and a.target != b.target for a, b in pairs)
    assert any(a.label != b.label for a, b in pairs)
    assert len({s.target for s in everything}) == len(TARGETS) >= 35


def test_targets_appear_on_every_split(splits: Splits) -> None:
    for split in ("train", "dev", "test"):
        assert len({s.target for s in splits.split(split)}) >= 30


def test_reference_chains_are_valid(everything: list[Sample]) -> None:
    for s in everything:
        chain = parse(s.rationale or "")
        assert chain.valid and chain.prediction == s.label, s.id
        assert chain.fields["Prediction"] == s.label
        assert s.target in chain.fields["Final_conclusion"]
        assert all(len(chain.fields[name].split()) <= 15 for name in FIELDS), s.rationale


def test_images_decode_at_32x32(splits: Splits) -> None:
    images = {s.image for s in splits.dev}
    assert len(images) > 100  # one per post, all different
    for data in list(images)[:50]:
        assert data is not None and data.startswith(b"\x89PNG")
        img = Image.open(io.BytesIO(data))
        img.load()
        assert img.size == (32, 32) and img.mode == "RGB"
