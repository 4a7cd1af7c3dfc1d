"""Reasoning-health metrics: recomputed independently on hand-made chains, and through the registry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mulcot_bench.metrics import health
from mulcot_bench.rationale import FIELDS, parse, render_chain
from mulcot_bench.types import Prediction, Sample

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # the shared read-only data beside the checkout
TOPIC_FIELDS = FIELDS[:-1]
OUTPUTS = ("repeated_trigrams", "post_words_used", "target_mentioned", "image_facts_used", "field_topic")

POSTS = [
    ("Great match tonight for Arsenal at the Emirates stadium", "Arsenal", "positive", "players celebrating a goal"),
    ("Traffic jam again on the highway near Boston , terrible commute", "Boston", "negative", "cars stuck in a queue"),
    ("Obama visits the flooded town and meets residents", "Obama", "neutral", "a man shaking hands outdoors"),
    ("Lovely sunset over Malibu beach with friends", "Malibu", "positive", "orange clouds above waves"),
    ("Rain cancelled the concert by Coldplay , fans upset", "Coldplay", "negative", "an empty stage under umbrellas"),
    ("Apple announces new keyboard design at the event", "Apple", "neutral", "a speaker holding a laptop"),
]


def reference(text: str, target: str, label: str, scene: str) -> str:
    """A reference chain in the teacher's style: each field with its own wording."""
    return render_chain(
        {
            "Text_analysis": f"The text says '{text}'. The wording of the tweet expresses a {label} attitude toward "
            f"{target}; its phrases and hashtags carry the tone.",
            "Image_analysis": f"The image shows {scene}. The picture depicts the scene visually; the colours, faces "
            f"and composition of the photo suggest a {label} mood.",
            "Conflict_resolution": "There are no conflicts between the text and the image analyses. Both modalities "
            "agree, so no discrepancy needs resolving.",
            "Final_conclusion": f"Integrating insights from both the text and the image, the overall sentiment toward "
            f"{target} is {label}. In summary the combined evidence supports this conclusion.",
            "Prediction": label,
        }
    )


REFS = [reference(*p) for p in POSTS]
LOOP_SENTENCE = "The text is happy about the game."  # 7 words, 7 distinct cyclic trigrams
LOOP = " ".join([LOOP_SENTENCE] * 10)
NORMAL = render_chain(  # about POSTS[3], in its own words
    {
        "Text_analysis": "The tweet wording about Malibu expresses a positive attitude; the phrases 'lovely sunset' "
        "and 'with friends' carry the tone of the text.",
        "Image_analysis": "The photo shows orange clouds above waves; the picture's colours and composition suggest a "
        "positive mood.",
        "Conflict_resolution": "No conflicts: both modalities agree, so there is no discrepancy to resolve.",
        "Final_conclusion": "Integrating both insights, the overall sentiment toward Malibu is positive; in summary "
        "the combined evidence supports it.",
        "Prediction": "positive",
    }
)


def rotated(chain: str) -> str:
    """The chain with its four free-text fields moved one name on (each field under another's name)."""
    fields = health.chain_fields(chain)
    values = [fields.get(f, "") for f in TOPIC_FIELDS]
    return render_chain(dict(zip(TOPIC_FIELDS, values[1:] + values[:1], strict=True)) | {"Prediction": "x"})


#: item 0 loops, item 1 copies its post, item 2 has its fields swapped, item 3 is a normal chain in its own words,
#: item 4 is its reference, item 5 wrote nothing
CHAINS: list[str | None] = [LOOP, POSTS[1][0], rotated(REFS[2]), NORMAL, REFS[4], None]


def _gold() -> list[Sample]:
    return [
        Sample(id=str(i), text=t, label=lab, target=tg, rationale=r)
        for i, ((t, tg, lab, _), r) in enumerate(zip(POSTS, REFS, strict=True))
    ]


def _preds() -> list[Prediction]:
    return [Prediction(label="neutral", rationale=c) for c in CHAINS]


# --- independent recomputation ------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.lower())


def _repeated(text: str) -> float:
    tokens = _words(text)
    seen: set[tuple[str, ...]] = set()
    repeats = 0
    for i in range(len(tokens) - 2):
        gram = tuple(tokens[i : i + 3])
        repeats += gram in seen
        seen.add(gram)
    return repeats / (len(tokens) - 2)


def _content(text: str) -> set[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return {w for w in _words(text) if len(w) > 3 and w not in ENGLISH_STOP_WORDS}


def _post_used(post: str, chain: str) -> float:
    wanted = _content(post)
    return len(wanted & set(_words(chain))) / len(wanted)


def _sklearn_topic(refs: list[str], chain: str, left_out: int) -> float:
    """scikit-learn's multinomial naive Bayes (add-one, uniform prior) fitted on the other references' fields."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB

    docs, classes = [], []
    for i, ref in enumerate(refs):
        if i != left_out:
            fields = health.chain_fields(ref)  # the released chains include Markdown-headed ones
            docs += [fields.get(f, "") for f in TOPIC_FIELDS]
            classes += list(range(len(TOPIC_FIELDS)))
    vectorizer = CountVectorizer(token_pattern=r"[^\W_]+", lowercase=True)
    model = MultinomialNB(alpha=1.0, fit_prior=False).fit(vectorizer.fit_transform(docs), classes)
    fields = health.chain_fields(chain)
    present = [f for f in TOPIC_FIELDS if fields.get(f)]
    if not present:
        return 0.0
    guessed = model.predict(vectorizer.transform([fields[f] for f in present]))
    return sum(int(g) == TOPIC_FIELDS.index(f) for g, f in zip(guessed, present, strict=True)) / len(TOPIC_FIELDS)


def _expected() -> dict[str, list[float | None]]:
    """Every output per sample, from the code above (item 5 wrote nothing: the empty chain)."""
    chains = [c or "" for c in CHAINS]
    posts = [p[0] for p in POSTS]
    facts = [_content(parse(r).fields["Image_analysis"]) - set(_words(t)) for r, t in zip(REFS, posts, strict=True)]
    return {
        "repeated_trigrams": [_repeated(c) if len(_words(c)) >= 3 else None for c in chains],
        "post_words_used": [_post_used(t, c) for t, c in zip(posts, chains, strict=True)],
        "target_mentioned": [float(p[1].lower() in c.lower()) for p, c in zip(POSTS, chains, strict=True)],
        "image_facts_used": [
            len(f & set(_words(parse(c).fields.get("Image_analysis", "")))) / len(f)
            for f, c in zip(facts, chains, strict=True)
        ],
        "field_topic": [_sklearn_topic(REFS, c, i) for i, c in enumerate(chains)],
    }


def test_hand_made_chains_have_their_known_values() -> None:
    expected = _expected()
    # one 7-word sentence ten times: 68 trigrams, of which only the first 7 are new
    assert expected["repeated_trigrams"][0] == pytest.approx(1 - 7 / 68)
    assert expected["post_words_used"][1] == 1.0  # the chain is the post
    assert expected["field_topic"][2] == 0.0 and expected["field_topic"][3] == 1.0  # swapped vs normal fields
    assert expected["field_topic"][4] == 1.0 and expected["image_facts_used"][4] == 1.0  # the reference itself
    assert expected["repeated_trigrams"][5] is None and expected["post_words_used"][5] == 0.0
    assert expected["field_topic"][0] == expected["field_topic"][1] == 0.0  # no fields at all


def test_registered_metrics_give_the_independent_values() -> None:
    from mulcot_bench.plugin.registry import build_registry

    registry = build_registry()
    gold, preds, expected = _gold(), _preds(), _expected()
    found: dict[str, list[float | None]] = {}
    means: dict[str, float | None] = {}
    for metric_id in ("repetition", "grounding", "field_topic"):
        metric = registry.metrics[metric_id].build()
        assert "tok:regex" in metric.signature() and f"v{health.VERSION}" in metric.signature()
        found.update(metric.per_sample(gold, preds, None).values)
        means.update(metric.compute(gold, preds, None))
    for name in OUTPUTS:
        assert found[name] == pytest.approx(expected[name], abs=1e-12), name
        defined = [v for v in expected[name] if v is not None]
        assert means[name] == pytest.approx(sum(defined) / len(defined), abs=1e-12), name


def test_registered_with_display_names_and_intervals() -> None:
    from mulcot_bench.plugin.registry import build_registry
    from mulcot_bench.scoring.scorer import Scorer

    registry = build_registry()
    display = {k: v for s in registry.metrics.values() for k, v in s.outputs.items()}
    assert display["repeated_trigrams"] == "repeated trigrams (share)"
    assert display["post_words_used"] == "post words used (share)"
    assert display["target_mentioned"] == "target mentioned (share)"
    assert display["image_facts_used"] == "reference image facts used (share)"
    assert display["field_topic"] == "fields on their own topic (share)"
    assert all(registry.metrics[m].kind == "rationale" for m in ("repetition", "grounding", "field_topic"))
    scorer = Scorer(registry, None, resamples=200)
    found = scorer.sample_scores(_gold(), _preds(), model_metrics=False)
    intervals = scorer.intervals(found)
    for name in OUTPUTS:
        defined = [v for v in found.values[name] if v is not None]
        low, high = intervals[name]
        assert low <= sum(defined) / len(defined) <= high, name
    assert found.row(5)["post_words_used"] == 0.0 and "repeated_trigrams" not in found.row(5)


def test_target_is_matched_by_words_and_absent_at_post_level() -> None:
    assert health.target_mentioned("# LFC", "fans of #LFC cheer") == 1.0
    assert health.target_mentioned("US", "because of the weather") == 0.0
    assert health.target_mentioned("New York", "a new york story") == 1.0
    assert health.target_mentioned(None, "anything") is None
    gold = [Sample(id=s.id, text=s.text, label=s.label, rationale=s.rationale) for s in _gold()]  # post level
    grounding = health.Grounding()
    assert grounding.compute(gold, _preds(), None)["target_mentioned"] is None
    assert "target_mentioned" not in grounding.per_sample(gold, _preds(), None).values


def test_no_references_no_reference_scores() -> None:
    gold = [Sample(id=s.id, text=s.text, label=s.label, target=s.target) for s in _gold()]
    means = {k: v for m in health.HEALTH_METRICS for k, v in m().compute(gold, _preds(), None).items()}
    assert means["image_facts_used"] is None and means["field_topic"] is None
    assert means["post_words_used"] is not None and means["repeated_trigrams"] is not None
    silent = [Prediction(label="neutral") for _ in gold]
    assert all(v is None for m in health.HEALTH_METRICS for v in m().compute(gold, silent, None).values())


def test_markdown_fields_are_read_like_quoted_ones() -> None:
    markdown = "## Analysis\n\n" + "\n\n".join(f"### {f}\n{parse(REFS[0]).fields[f]}" for f in FIELDS)
    assert health.chain_fields(markdown) == parse(REFS[0]).fields == health.chain_fields(REFS[0])
    inside = "**Text_analysis**: happy words.\nImage analysis shows nothing new here.\n**Image_analysis**: a beach"
    assert health.chain_fields(inside) == {
        "Text_analysis": "happy words.\nImage analysis shows nothing new here.",
        "Image_analysis": "a beach",
    }


def test_reference_ceiling_scores_the_references() -> None:
    gold = _gold()
    gold[5] = Sample(id="5", text=POSTS[5][0], label="neutral", target="Apple")  # no reference
    ceiling = health.reference_ceiling(gold)
    as_model = [Prediction(label=None, rationale=s.rationale) for s in gold]
    for metric in health.HEALTH_METRICS:
        for name, column in metric().per_sample(gold, as_model, None).values.items():
            assert ceiling.values[name][:5] == column[:5] and ceiling.values[name][5] is None
    assert ceiling.values["field_topic"][:5] == [1.0] * 5 and ceiling.values["image_facts_used"][:5] == [1.0] * 5


# --- released Twitter-2015 test chains ------------------------------------------------------------------


@pytest.fixture(scope="module")
def released() -> list[Sample]:
    if not (DATA / "twitter2015" / "teacher_cot" / "test.json").is_file():
        pytest.skip(f"released Twitter-2015 test rationales not found under {DATA}")
    from mulcot_bench.data.loaders import load_twitter

    return load_twitter(DATA / "twitter2015", "twitter2015").test


def test_released_references_ceiling(released: list[Sample]) -> None:
    ceiling = health.reference_ceiling(released)
    means = {
        k: sum(v for v in col if v is not None) / sum(v is not None for v in col) for k, col in ceiling.values.items()
    }
    # 13.20% with these words; the 13.5% quoted for the references used \w+ words, which keep "Text_analysis" as one
    # word (13.47%): splitting the field names adds five words of new trigrams to every chain
    assert means["repeated_trigrams"] == pytest.approx(0.1320, abs=0.0005)
    # 67.88% over the 1,036 posts with a content word; the quoted 67.5% counted every word over 3 letters without a
    # stop list (67.56% that way): scikit-learn's stop words take out a few words the chains rarely repeat
    assert means["post_words_used"] == pytest.approx(0.6788, abs=0.0005)
    assert len([v for v in ceiling.values["post_words_used"] if v is not None]) == 1036
    assert means["target_mentioned"] == pytest.approx(0.9961, abs=0.0005)  # "# LFC" is found as "#LFC"
    assert means["image_facts_used"] == 1.0  # the reference's own Image_analysis: 1 by definition
    assert means["field_topic"] == pytest.approx(0.9870, abs=0.0005)  # leave-one-out: not a lookup


def test_released_field_topic_agrees_with_sklearn(released: list[Sample]) -> None:
    refs = [s.rationale or "" for s in released]
    model = health.FieldTopicModel(refs)
    for i in (0, 1, 500):
        for chain in (refs[i], rotated(refs[i])):
            assert model.on_topic(chain, i) == pytest.approx(_sklearn_topic(refs, chain, i))


def test_released_looping_and_swapped_chains_score_low(released: list[Sample]) -> None:
    text_fields = [health.chain_fields(s.rationale).get("Text_analysis", "") for s in released]
    loops = [Prediction(label=None, rationale=" ".join([text] * 5)) for text in text_fields]
    swapped = [Prediction(label=None, rationale=rotated(s.rationale or "")) for s in released]
    looping = health.Repetition().compute(released, loops, None)["repeated_trigrams"]
    assert looping is not None and looping > 0.75
    assert health.FieldTopic().compute(released, swapped, None)["field_topic"] < 0.05


def test_compare_has_health_rows() -> None:
    from mulcot_bench.plugin.registry import build_registry
    from mulcot_bench.scoring.compare import compare
    from mulcot_bench.scoring.scorer import Scorer

    def records(chains: list[str | None]) -> list[dict]:
        return [
            {"id": s.id, "text": s.text, "gold": s.label, "target": s.target, "reference": s.rationale}
            | {"label": "neutral", "rationale": c}
            for s, c in zip(_gold(), chains, strict=True)
        ]

    scorer = Scorer(build_registry(), None, resamples=100)
    found = compare(records(CHAINS), records(REFS), ("t", "model", "references"), 100, 42, scorer, model_metrics=False)
    rows = {row.name: row.result for row in found.rows}
    expected = _expected()
    loop_share = sum(v for v in expected["repeated_trigrams"] if v is not None) / 5
    assert rows["repeated trigrams (share)"].a.value == pytest.approx(loop_share)
    assert rows["fields on their own topic (share)"].b.value == 1.0
    for name in ("post words used (share)", "target mentioned (share)", "reference image facts used (share)"):
        assert name in rows


def test_the_board_marks_the_lowest_repetition_as_the_best() -> None:
    from mulcot_bench.report.tables import Column, TableRow, Value, _mark_best

    col = Column("repeated_trigrams", "repeated trigrams (share)", "repetition", False, lower_is_better=True)
    rows = [TableRow("measured", f"r{i}", f"m{i}", None, "student", {col.key: Value(v, v * 100)})
            for i, v in enumerate((0.4, 0.1, 0.3))]  # fmt: skip
    _mark_best(rows, [col])
    assert [bool(r.best) for r in rows] == [False, True, False]
    from mulcot_bench.plugin.registry import build_registry

    spec = next(s for s in build_registry().metrics.values() if s.id == "repetition")
    assert spec.lower_is_better == ("repeated_trigrams",)


def test_a_run_records_the_references_ceiling_and_the_board_shows_it(tmp_path: Path) -> None:
    from mulcot_bench.plugin.registry import build_registry
    from mulcot_bench.runner import RunOptions, run

    options = RunOptions(
        datasets=["synthetic"], models=["synthetic-teacher"], runs_dir=tmp_path / "runs",
        reports_dir=tmp_path / "reports", cache_dir=tmp_path / "cache", run_id="t", bootstrap=50,
        dataset_options={"synthetic": {"train": 30, "dev": 10, "test": 20}},
    )  # fmt: skip
    outcome = run(build_registry(), options)
    (record,) = outcome.results.datasets
    from mulcot_bench.data.synthetic import generate

    gold = generate(seed=13, train=30, dev=10, test=20).test  # the run's test split (the synthetic default seed)
    want = health.reference_ceiling(gold).values["repeated_trigrams"]
    health_record = record.references["health"]
    kept = [v for v in want if v is not None]
    assert health_record["n"] == len(kept) == 20
    assert health_record["scores"]["repeated_trigrams"] == pytest.approx(sum(kept) / len(kept))
    assert len(health_record["intervals"]["post_words_used"]) == 2
    page = (tmp_path / "reports" / "t" / "dataset-synthetic.html").read_text()
    assert "references (ceiling)" in page

