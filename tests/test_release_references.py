"""Twitter-2015's released test chains are the references the reference protocol scores against: all 1,037 of
them, as the release writes them (its `cot` field, byte for byte), whatever their format or label. Needs the
shared data folder (../shared/data)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mulcot_bench.data.views import apply_views
from mulcot_bench.distill.config import load_config
from mulcot_bench.plugin.registry import build_registry
from mulcot_bench.rationale import parse, parse_label_released
from mulcot_bench.runner.selection import load_dataset
from mulcot_bench.scoring.pairs import reference_pairs
from mulcot_bench.types import Prediction

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="module")
def released() -> list[dict]:
    path = DATA / "twitter2015" / "teacher_cot" / "test.json"
    if not path.is_file():
        pytest.skip(f"{path} not found (the shared read-only data folder); this test needs it")
    return json.loads(path.read_text(encoding="utf-8"))


def test_paper_profile_scores_every_released_test_chain_as_written(released: list[dict]) -> None:
    config = load_config("paper").config
    assert config.chain_filter == "reference"  # the paper profile; the filter never touches released references
    spec = build_registry([]).dataset("twitter2015")
    data, _ = load_dataset(spec, DATA, {"allow_missing_images": True})
    assert data is not None
    test = apply_views(data, "reference", None, config.seed).test  # the data view distill --protocol reference uses
    keep, _, refs = reference_pairs(test, [Prediction(label=None, rationale="a chain") for _ in test])
    assert len(test) == len(released) == len(keep) == 1037
    assert sorted(refs) == sorted(item["cot"] for item in released)  # every chain, none rewritten or dropped
    # what the release scores and a filter would have dropped: 39 chains without the five fields, 21 whose label
    # (as the release's parser reads it) is not the gold one; about 60% quote the Prediction, the rest do not
    assert sum(not parse(r).valid for r in refs) == 39
    assert sum(parse_label_released(r) != s.label for r, s in zip(refs, test, strict=True)) == 21
    assert sum(bool(re.search(r'"Prediction"\s*:\s*"', r)) for r in refs) == 606
    # one chain byte for byte: the first released chain that lacks a field, found by its post
    item = next(i for i in released if not parse(i["cot"]).valid)
    sample = next(s for s in test if (s.text, s.target, s.meta["image_id"], s.label)
                  == (item["text"], item["aspect"], item["image_path"], item["label"]))  # fmt: skip
    assert sample.rationale is not None and sample.rationale.encode("utf-8") == item["cot"].encode("utf-8")
