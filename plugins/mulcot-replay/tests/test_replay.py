"""The replay teacher: content matching (not ids), misses, explain, fallback, supports, files and the contract."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
from mulcot_replay.settings import file_entry, parse_files, replay_settings
from mulcot_replay.teacher import ReplayTeacher

from mulcot_bench.cache import Cache
from mulcot_bench.errors import UserError
from mulcot_bench.plugin.registry import build_registry, plugin_registry
from mulcot_bench.plugin.specs import ModelSpec
from mulcot_bench.rationale import FIELDS, parse, parse_label, render_chain
from mulcot_bench.runner.stages import teacher_rationales
from mulcot_bench.types import ModelCard, Sample

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
T15 = DATA / "twitter2015"
needs_data = pytest.mark.skipif(not (T15 / "teacher_cot" / "test.json").is_file(), reason=f"no Twitter-2015 at {T15}")


@pytest.fixture(autouse=True)
def _clean_env(mulcot_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kit's isolated environment, without the replay teacher's own variables."""
    for name in ("MULCOT_REPLAY_FILES", "MULCOT_REPLAY_FALLBACK"):
        monkeypatch.delenv(name, raising=False)


def teacher(**settings: object) -> ReplayTeacher:
    return ReplayTeacher(ModelCard("replay", "teacher", "test", settings=replay_settings(**settings)))  # type: ignore[arg-type]


def chain(label: str, words: str = "it") -> str:
    return render_chain({**{f: f"{words} {f.lower()}" for f in FIELDS[:-1]}, "Prediction": label})


IMG_A, IMG_B = b"\xff\xd8\xff image A", b"\xff\xd8\xff image B"


def jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.fixture(scope="module")
def twitter():
    if not (T15 / "teacher_cot" / "test.json").is_file():
        pytest.skip(f"no Twitter-2015 at {T15}")
    from mulcot_bench.data.loaders import load_twitter

    return load_twitter(T15, "twitter2015")


@needs_data
def test_serves_the_dataset_chains_and_counts_train_misses(twitter, capsys: pytest.CaptureFixture[str]) -> None:
    model = teacher()
    dev = twitter.dev[:50]
    preds = model.predict(dev)
    assert [p.rationale for p in preds] == [s.rationale for s in dev]
    # the label is the chain's Prediction field; for the few released chains in another layout (markdown
    # headings), the reference answer parser's label
    assert all(p.label == (parse(p.rationale).prediction or parse_label(p.rationale)) for p in preds)
    assert any(not parse(p.rationale).valid and p.label for p in preds)
    train = twitter.train[:40]
    misses = model.predict(train)  # the released data has no train chains
    assert all(p.label is None and p.rationale is None and p.raw is None for p in misses)
    assert model.stats["served"] == 50 and model.stats["misses"] == 40 and model.stats["asked"] == 90
    assert "[replay] predict so far: 50/50 served from saved chains, 0 misses" in capsys.readouterr().err
    model._logged.clear()
    model.predict(train[:1])
    assert "[replay] predict so far: 50/91 served from saved chains, 41 misses" in capsys.readouterr().err


@needs_data
def test_released_json_matches_by_content_not_by_id(twitter) -> None:
    model = teacher(files=[file_entry("twitter2015", T15 / "teacher_cot" / "test.json")], dataset_rationales=False)
    # new ids, no attached chain, and image known only by its path: still matched by content
    samples = [
        replace(s, id=f"x{i}", rationale=None, meta={}, image_ref=f"elsewhere/{s.meta['image_id']}")
        for i, s in enumerate(twitter.test)
    ]
    preds = model.predict(samples)
    served = [p for p in preds if p.rationale is not None]
    assert len(served) == len(samples) - model.stats["misses"] and model.stats["misses"] == 0
    # the chain served is the one the loader matched on (image, text, target, label), except where one post
    # has several chains (identical rows): then the first is served for each
    agree = sum(p.rationale == s.rationale for p, s in zip(preds, twitter.test, strict=True))
    assert agree >= len(samples) - 10
    assert model.supports("twitter2015") and not model.supports("synthetic")


def test_jsonl_by_image_sha256_and_whitespace(tmp_path: Path) -> None:
    sha = hashlib.sha256(IMG_A).hexdigest()
    path = jsonl(
        tmp_path / "chains.jsonl",
        [
            {
                "text": "great  goal by\tSmith",
                "target": "Smith",
                "image": sha,
                "label": "positive",
                "rationale": chain("positive"),
            },
            {"text": "no picture here", "target": None, "image": None, "rationale": chain("neutral")},
        ],
    )
    model = teacher(files=[file_entry("mine", path)])
    hit = Sample("a", "great goal by Smith", "positive", target="Smith", image=IMG_A)
    other_image = replace(hit, id="b", image=IMG_B)
    no_image = Sample("c", "no picture here", "neutral")
    preds = model.predict([hit, other_image, no_image])
    assert preds[0].label == "positive" and preds[0].rationale == chain("positive")
    assert preds[1].label is None  # same words, another image: another post
    assert preds[2].label == "neutral"
    assert model.supports("mine") and not model.supports("twitter2015")


def test_explain_serves_only_a_chain_that_reaches_the_gold_label(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "c.jsonl",
        [
            {"text": "meh", "target": "x", "image": "1.jpg", "rationale": chain("negative", "first")},
            {"text": "meh", "target": "x", "image": "1.jpg", "rationale": chain("neutral", "second")},
        ],
    )
    model = teacher(files=[file_entry("d", path)])
    s = Sample("s", "meh", "neutral", target="x", image=b"jpg", meta={"image_id": "1.jpg"})
    assert model.predict([s])[0].label == "negative"  # the first chain filed
    assert model.explain([s], ["neutral"])[0].rationale == chain("neutral", "second")
    miss = model.explain([s], ["positive"])[0]
    assert (miss.label, miss.rationale, miss.raw) == (None, None, None)
    assert model.stats["explain_served"] == 1 and model.stats["explain_misses"] == 1
    with pytest.raises(ValueError, match="gold label 'great'"):
        model.explain([s], ["great"])


def test_misses_become_label_only_items_in_the_pipeline_stage(tmp_path: Path) -> None:
    from mulcot_bench.data.synthetic import generate

    train = generate(train=12, dev=0, test=0).train
    stripped = [s.with_rationale(None) if i % 3 == 0 else s for i, s in enumerate(train)]
    kept, counts = teacher_rationales(Cache(tmp_path), "replay-ident", lambda: teacher(), "replay", stripped)
    assert counts["label_only"] == 4 and counts["rejected"] == 0
    assert counts["kept_as_predicted"] + counts["corrected"] == 8
    assert len(kept) == 12 and sum(s.rationale is None for s in kept) == 4


ECHO_PLUGIN = """
from mulcot_bench.plugin import FIELDS, ModelCard, ModelSpec, Prediction, hookimpl, render_chain


def _chain(label):
    return render_chain({**{f: 'fallback' for f in FIELDS[:-1]}, 'Prediction': label})


class Echo:
    def __init__(self, card):
        self.card = card

    def predict(self, samples):
        return [Prediction('neutral', _chain('neutral')) for s in samples]

    def explain(self, samples, golds):
        return [Prediction(g, _chain(g)) for g in golds]


class Keeper:
    \"\"\"A trainable baseline without chains: it trains on the teacher's chains, so a run asks the teacher.\"\"\"

    def __init__(self, card):
        self.card = card

    def fit(self, train, dev, ctx):
        self.chains = sum('fallback' in (s.rationale or '') for s in train)
        return {'fallback_chains': self.chains, 'n_train': len(train)}

    def predict(self, samples):
        return [Prediction('neutral') for s in samples]


@hookimpl
def register_models(register):
    register(ModelSpec(ModelCard('echo-teacher', 'teacher', 'test', settings={'v': 1}, default=False), Echo))
    register(ModelSpec(ModelCard('keeper', 'baseline', 'test', rationale=False, settings={'v': 1}), Keeper))
"""


def echo_plugins(tmp_path: Path) -> Path:
    """A plugins folder (for ``--plugins-dir``) whose file registers ``echo-teacher`` and ``keeper``."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "echo_teacher.py").write_text(ECHO_PLUGIN)
    return folder


def test_fallback_teacher_serves_the_misses(tmp_path: Path) -> None:
    registry = build_registry([echo_plugins(tmp_path)])  # echo-teacher is registered only here
    card = ModelCard("replay", "teacher", "test", settings=replay_settings(fallback="echo-teacher"))
    model = ModelSpec(card, ReplayTeacher).build(registry)
    served = Sample("a", "t", "positive", target="x", rationale=chain("positive"))
    missed = Sample("b", "u", "negative", target="x")
    preds = model.predict([served, missed])
    assert preds[0].rationale == chain("positive") and "fallback" in (preds[1].rationale or "")
    assert model.explain([missed], ["negative"])[0].label == "negative"
    assert model.stats["fallback"] == 1 and model.stats["explain_fallback"] == 1 and model.stats["misses"] == 0
    with pytest.raises(UserError, match="names the replay teacher itself"):
        teacher(fallback="replay")
    with pytest.raises(UserError, match="looked up in the run's registry"):
        teacher(fallback="echo-teacher").predict([missed])


def test_a_run_finds_the_fallback_in_its_own_plugins_dir_and_model_args(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mulcot_bench.cli import cli

    args = [
        "run", "-d", "synthetic", "-m", "keeper", "--teacher", "replay", "--plugins-dir", str(echo_plugins(tmp_path)),
        "-o", "replay.fallback=echo-teacher", "-o", "replay.dataset_rationales=false", "--synthetic-size", "12,4,4",
        "--bootstrap", "0", "--run-id", "fallback", "--runs-dir", str(tmp_path / "runs"),
        "--reports-dir", str(tmp_path / "reports"), "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 0, done.output
    results = json.loads((tmp_path / "runs" / "fallback" / "results.json").read_text())
    keeper = next(e for e in results["entries"] if e["model"] == "keeper")
    assert keeper["stage"]["fallback_chains"] == keeper["stage"]["n_train"] == 12  # every chain from echo-teacher


def test_supports_follows_the_files_under_the_data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MULCOT_BENCH_DATA_ROOT", str(tmp_path))
    model = teacher()
    assert not model.supports("twitter2015")  # no files
    (tmp_path / "twitter2015" / "teacher_cot").mkdir(parents=True)
    assert not model.supports("twitter2015")
    (tmp_path / "twitter2015" / "teacher_cot" / "dev.json").write_text("[]")
    assert model.supports("twitter2015")
    (tmp_path / "synthetic" / "teacher_cot").mkdir(parents=True)
    (tmp_path / "synthetic" / "teacher_cot" / "dev.json").write_text("[]")
    assert not model.supports("synthetic") and not model.supports("mvsa_single")


def test_declared_files_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    path = jsonl(tmp_path / "a.jsonl", [{"text": "t", "target": "x", "image": None, "rationale": chain("neutral")}])
    monkeypatch.setenv("MULCOT_REPLAY_FILES", f"mvsa_single={path}")
    card = plugin_registry("mulcot_replay.plugin").model("replay").card
    assert card.default and card.role == "teacher"
    assert card.settings["files"] == [
        {"dataset": "mvsa_single", "path": str(path.resolve()), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    ]
    model = ReplayTeacher(card)
    assert model.supports("mvsa_single")
    path.write_text(path.read_text() + "\n")  # edited after registration
    with pytest.raises(UserError, match="changed after the replay teacher was registered"):
        model.predict([Sample("s", "t", "neutral", target="x")])
    with pytest.raises(UserError, match="must be DATASET=PATH"):
        parse_files(f"{path}")
    missing = parse_files(f"twitter2015={tmp_path / 'nope.jsonl'}{os.pathsep}")
    with pytest.raises(UserError, match=r"nope\.jsonl \(declared in MULCOT_REPLAY_FILES or the card\) does not exist"):
        teacher(files=missing)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"text": "t", "rationale": 3}', "string 'rationale'"),
        ('{"text": "t", "rationale": "x", "label": "happy"}', "label 'happy'"),
        ('{"text": "t", "rationale": "x", "image": 5}', "'image' must be a string"),
    ],
)
def test_bad_jsonl_lines_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok", "rationale": "fine"}\n\n' + line + "\n")
    with pytest.raises(UserError, match=rf"bad\.jsonl:3: .*{message}"):
        teacher(files=[file_entry("d", path)]).predict([Sample("s", "t", "neutral")])


def test_contract_on_the_tiny_synthetic_set() -> None:
    from mulcot_bench.plugin.testing import check_model

    check_model("replay", registry=plugin_registry("mulcot_replay.plugin"))
