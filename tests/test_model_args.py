"""``-o MODEL.KEY=VALUE`` on the cards, and ``eval`` / ``run --no-train`` on a saved checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakerun import cli

from mulcot_bench.errors import UserError
from mulcot_bench.plugin.overrides import apply_model_args, parse_model_args
from mulcot_bench.plugin.registry import build_registry

SAVER = '''
import json
import os
from pathlib import Path

from mulcot_bench.plugin import ModelCard, Prediction, hookimpl
from mulcot_bench.plugin.specs import ModelSpec


class Saver:
    """Trainable: remembers each training label by content; fit raises when MULCOT_TEST_FIT_RAISES is set."""

    def __init__(self, card):
        self.card = card
        self.table = {}

    def fit(self, train, dev, ctx):
        if os.environ.get("MULCOT_TEST_FIT_RAISES"):
            raise RuntimeError("fit was called")
        self.table = {s.content_hash: s.label for s in train + dev}
        return {"n_train": len(train)}

    def predict(self, samples):
        return [Prediction(self.table.get(s.content_hash, "neutral"), None) for s in samples]

    def save(self, folder):
        (Path(folder) / "table.json").write_text(json.dumps(self.table))

    def load(self, folder):
        self.table = json.loads((Path(folder) / "table.json").read_text())


@hookimpl
def register_models(register):
    register(ModelSpec(ModelCard("saver", "baseline", "remembers labels", rationale=False,
                                 settings={"width": 3}), Saver))
'''


@pytest.fixture
def plugins_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "saver_plugin.py").write_text(SAVER)
    return folder


def entries(folder: Path, run_id: str) -> dict[str, dict]:
    results = json.loads((folder / "runs" / run_id / "results.json").read_text())
    return {e["model"]: e for e in results["entries"]}


def predictions(folder: Path, run_id: str, entry: dict) -> list[tuple]:
    lines = (folder / "runs" / run_id / entry["predictions_file"]).read_text().splitlines()
    return [(r["id"], r["label"], r["rationale"], r["probs"]) for r in map(json.loads, lines)]


def test_override_is_typed_and_changes_the_identity() -> None:
    registry = build_registry()
    before = registry.identity("text-tfidf-lr")
    args = parse_model_args(["text-tfidf-lr.C=0.5", "text-tfidf-lr.ngram_range=[1,1]"], registry)
    apply_model_args(registry, args)
    card = registry.model("text-tfidf-lr").card
    assert card.settings["C"] == 0.5 and card.settings["ngram_range"] == [1, 1]
    assert registry.identity("text-tfidf-lr") != before


@pytest.mark.parametrize(
    ("item", "says"),
    [
        ("text-tfidf-lr.nope=1", "its keys are C, max_iter, min_df, ngram_range, checkpoint"),
        ("text-tfidf-lr.C=big", "expected a number"),
        ("text-tfidf-lr.max_iter=1.5", "expected an integer"),
        ("no-such-model.C=1", "unknown model 'no-such-model'"),
        ("text-tfidf-lr=1", "expected MODEL.KEY=VALUE"),
    ],
)
def test_bad_override_is_one_line(item: str, says: str) -> None:
    with pytest.raises(UserError, match=says.replace(".", r"\.")) as err:
        parse_model_args([item], build_registry())
    assert "\n" not in str(err.value)


def test_cli_override_changes_result_and_unknown_key_exits_2(tmp_path: Path) -> None:
    base = ("run", "-d", "synthetic", "-m", "text-tfidf-lr", "--synthetic-size", "120,40,60", "--bootstrap", "0")
    default = cli(*base, "--run-id", "default", cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    weak = cli(*base, "--run-id", "weak", "-o", "text-tfidf-lr.C=0.0001", cwd=tmp_path)
    assert weak.returncode == 0, weak.stderr
    a, b = entries(tmp_path, "default")["text-tfidf-lr"], entries(tmp_path, "weak")["text-tfidf-lr"]
    assert b["settings"]["C"] == 0.0001 and a["settings"]["C"] != 0.0001
    assert a["identity"] != b["identity"]
    assert predictions(tmp_path, "default", a) != predictions(tmp_path, "weak", b)

    bad = cli(*base, "-o", "text-tfidf-lr.lr=0.1", cwd=tmp_path)
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert lines[-1].startswith("error:") and "its keys are C, max_iter" in lines[-1]


def test_eval_of_a_saved_checkpoint_trains_nothing(tmp_path: Path, plugins_dir: Path) -> None:
    common = ("-d", "synthetic", "--synthetic-size", "60,20,30", "--bootstrap", "0", "--plugins-dir", str(plugins_dir))
    trained = cli("run", "-m", "saver", "--run-id", "trained", *common, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    entry = entries(tmp_path, "trained")["saver"]
    checkpoint = entry["checkpoint"]
    assert checkpoint and (Path(checkpoint) / "table.json").is_file()

    fresh = {"MULCOT_BENCH_CACHE": str(tmp_path / "fresh-cache"), "MULCOT_TEST_FIT_RAISES": "1"}
    refused = cli("eval", "saver", "--run-id", "refused", *common, cwd=tmp_path, env=fresh)
    assert refused.returncode == 2 and "saver would need training" in refused.stderr
    evaluated = cli(
        "eval", "saver", "-o", f"saver.checkpoint={checkpoint}", "--run-id", "evaluated", *common, cwd=tmp_path,
        env=fresh,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    again = entries(tmp_path, "evaluated")["saver"]
    assert predictions(tmp_path, "evaluated", again) == predictions(tmp_path, "trained", entry)
    assert again["scores"] == entry["scores"]
    assert again["checkpoint"] == checkpoint and again["stage"]["checkpoint_sha256"]
    # the same command with fit raising would have failed the model (exit 1): fit was never called
    retrain = cli("run", "-m", "saver", "--run-id", "retrain", *common, cwd=tmp_path, env=fresh)
    assert retrain.returncode == 1 and "fit was called" in retrain.stdout + retrain.stderr


def test_eval_reproduces_a_trained_tiny_vlm_student(tmp_path: Path) -> None:
    """A real model's save() folder, loaded in a fresh cache, predicts exactly what the training run predicted."""
    common = ("-d", "synthetic", "--synthetic-size", "40,20,20", "--bootstrap", "0",
              "-o", "tiny-vlm-student.epochs=1", "-o", "tiny-vlm-assistant.epochs=1")  # fmt: skip
    trained = cli("run", "-m", "tiny-vlm-student", "--run-id", "trained", *common, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    entry = entries(tmp_path, "trained")["tiny-vlm-student"]
    fresh = {"MULCOT_BENCH_CACHE": str(tmp_path / "fresh-cache")}
    evaluated = cli(
        "run", "--no-train", "-m", "tiny-vlm-student", "-o", f"tiny-vlm-student.checkpoint={entry['checkpoint']}",
        "--run-id", "evaluated", *common, cwd=tmp_path, env=fresh,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    got = entries(tmp_path, "evaluated")
    assert set(got) == {"tiny-vlm-student"}  # no teacher, no assistant: nothing learns in this run
    assert predictions(tmp_path, "evaluated", got["tiny-vlm-student"]) == predictions(tmp_path, "trained", entry)
    assert "training" not in evaluated.stderr


def test_distill_takes_model_args_after_its_config(tmp_path: Path) -> None:
    bad = cli("distill", "--profile", "cpu-tiny", "-d", "synthetic", "-o", "tiny-vlm-student.bogus=1", cwd=tmp_path)
    assert bad.returncode == 2 and "has no setting 'bogus'" in bad.stderr
    assert not (tmp_path / "runs").exists()  # refused before anything was written
