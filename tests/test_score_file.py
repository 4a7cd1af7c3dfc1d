"""``mulcot-bench score FILE.jsonl``: predictions made elsewhere, scored beside the suite's own rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import fakerun
import pytest

from mulcot_bench.atomic import file_sha256

SIZES = "60,20,40"
HERE = Path(__file__).resolve()
#: the shared read-only data folder beside the checkout (../shared/data; from a worktree under ../wt, one up more)
SHARED = next((p for p in (HERE.parents[2] / "shared" / "data", HERE.parents[3] / "shared" / "data") if p.is_dir()),
              HERE.parents[2] / "shared" / "data")  # fmt: skip


def synthetic_test() -> list:
    """The test split of the synthetic set the commands below load (``--synthetic-size 60,20,40``)."""
    from mulcot_bench.builtin.datasets import load_synthetic

    return load_synthetic(None, "synthetic", seed=13, train=60, dev=20, test=40).test


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def score(tmp: Path, file: Path, *more: str, dataset: str = "synthetic") -> subprocess.CompletedProcess[str]:
    """``mulcot-bench score FILE -d DATASET`` with only the built-in plugins, in a subprocess."""
    cmd = [sys.executable, "-m", "mulcot_bench", "score", str(file), "-d", dataset, "--synthetic-size", SIZES]
    cmd += ["--runs-dir", str(tmp / "runs"), "--reports-dir", str(tmp / "reports"), "--cache-dir", str(tmp / "c")]
    return subprocess.run(
        [*cmd, *more], capture_output=True, text=True, timeout=300, cwd=tmp, env=fakerun.env(tmp)
    )  # fmt: skip


def entry(tmp: Path, run_id: str, model: str) -> dict:
    results = json.loads((tmp / "runs" / run_id / "results.json").read_text())
    return next(e for e in results["entries"] if e["model"] == model)


def test_gold_labels_score_one_with_the_files_sha256(tmp_path: Path) -> None:
    gold = write(tmp_path / "gold.jsonl", [{"id": s.id, "label": s.label} for s in synthetic_test()])
    done = score(tmp_path, gold, "--run-id", "gold")
    assert done.returncode == 0, done.stderr
    e = entry(tmp_path, "gold", "gold")  # the model name defaults to the file's stem
    assert e["scores"]["accuracy"] == 1.0 and e["n"] == 40 and e["invalid"] == 0
    assert (e["plugin"], e["role"]) == ("file", "baseline")
    assert e["settings"] == {"sha256": file_sha256(gold), "missing": 0}
    assert e["runtime"] == {"file": str(gold.resolve())}
    assert e["intervals"]["accuracy"] == [1.0, 1.0]  # the same bootstrap intervals as every row
    assert (tmp_path / "runs" / "gold" / e["predictions_file"]).is_file()
    assert "gold" in done.stdout and "100.0" in done.stdout


def test_a_models_own_labels_give_its_accuracy(tmp_path: Path) -> None:
    ran = subprocess.run(
        fakerun.command(tmp_path, "real", tmp_path / "c", ("count-rule",), SIZES),
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=fakerun.env(tmp_path),
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    real = entry(tmp_path, "real", "count-rule")
    lines = (tmp_path / "runs" / "real" / real["predictions_file"]).read_text().splitlines()
    rows = [{"id": r["id"], "label": r["label"]} for r in map(json.loads, lines)]
    done = score(tmp_path, write(tmp_path / "elsewhere.jsonl", rows), "--model", "rule-elsewhere", "--run-id", "f")
    assert done.returncode == 0, done.stderr
    mine = entry(tmp_path, "f", "rule-elsewhere")
    assert mine["scores"]["accuracy"] == real["scores"]["accuracy"]
    assert mine["scores"]["macro_f1"] == real["scores"]["macro_f1"]
    assert mine["confusion"] == real["confusion"]


def bad_files(tmp: Path) -> dict[str, tuple[str, str]]:
    """Six bad files: name -> (its text, a phrase its one-line error holds)."""
    test = synthetic_test()
    good = [json.dumps({"id": s.id, "label": s.label}) for s in test]
    return {
        "not-json": ("\n".join([good[0], "{id: 1", *good[1:]]), "line 2: not JSON"),
        "unknown-id": ("\n".join([*good, json.dumps({"id": "test-9999-1", "label": "neutral"})]), "unknown id"),
        "duplicate": ("\n".join([*good, good[3]]), "line 41: duplicate id"),
        "wrong-split": ("\n".join([*good, json.dumps({"id": "dev-0000-1", "label": "neutral"})]), "wrong split"),
        "bad-label": ("\n".join([json.dumps({"id": test[0].id, "label": "happy"}), *good[1:]]), "unknown label"),
        "missing": ("\n".join(good[:30]), "10 of the 40 test items"),
    }


def test_bad_files_are_one_line_each_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # noqa: ANN001
    from mulcot_bench.cli import main

    monkeypatch.setenv("MULCOT_BENCH_BLOCK_PLUGINS", fakerun.blocked())
    seen = set()
    for name, (text, phrase) in bad_files(tmp_path).items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text(text + "\n")
        argv = ["mulcot-bench", "score", str(path), "-d", "synthetic", "--synthetic-size", SIZES, "-q"]
        monkeypatch.setattr(sys, "argv", [*argv, "--runs-dir", str(tmp_path / "runs"), "--run-id", name])
        with pytest.raises(SystemExit) as exited:
            main()
        err = capsys.readouterr().err.strip()
        assert exited.value.code == 2, (name, err)
        assert len(err.splitlines()) == 1 and err.startswith("error: ") and str(path) in err, (name, err)
        assert phrase in err, (name, err)
        assert not (tmp_path / "runs" / name).exists()  # refused before anything is written
        seen.add(err)
    assert len(seen) == 6
    assert "--allow-partial" in next(e for e in seen if "10 of the 40" in e)


def test_allow_partial_scores_missing_items_as_invalid_and_says_so(tmp_path: Path) -> None:
    test = synthetic_test()
    part = write(tmp_path / "part.jsonl", [{"id": s.id, "label": s.label} for s in test[:30]])
    done = score(tmp_path, part, "--allow-partial", "--run-id", "p", "--bootstrap", "0")
    assert done.returncode == 0, done.stderr
    e = entry(tmp_path, "p", "part")
    assert e["settings"]["missing"] == 10 and e["n"] == 40 and e["invalid"] == 10
    assert e["scores"]["accuracy"] == 30 / 40  # never dropped: a missing item is a wrong (invalid) answer
    assert "10 test item(s) had no answer" in done.stdout and "10 of the 40 test items" in done.stderr


def test_report_renders_the_file_row(tmp_path: Path) -> None:
    rows = [{"id": s.id, "label": "neutral", "rationale": None} for s in synthetic_test()]
    done = score(tmp_path, write(tmp_path / "all-neutral.jsonl", rows), "--run-id", "r", "--bootstrap", "0")
    assert done.returncode == 0, done.stderr
    out = tmp_path / "board"
    shown = fakerun.cli("report", str(tmp_path / "runs" / "r"), "--out", str(out), "--format", "html,md", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "all-neutral" in (out / "index.html").read_text()
    assert "all-neutral" in next(out.rglob("*.md")).read_text()


@pytest.mark.skipif(not (SHARED / "twitter2015").is_dir(), reason=f"real data not found at {SHARED}")
def test_released_chains_labels_score_as_replay(tmp_path: Path) -> None:
    """The release's test chains' answers (teacher_cot/test.json, matched to the test items by the loader), as a
    file, score what the replay teacher's row gives. Replay serves a test item the chain attached to it, and the
    pipeline asks a repeated content once: items with the same content get the first one's chain (Twitter-2015's
    test split has 5 such pairs, one with different gold labels). A file is scored per id, as written."""
    from mulcot_bench.plugin.registry import build_registry
    from mulcot_bench.rationale import parse_label
    from mulcot_bench.runner.selection import load_dataset

    data, _ = load_dataset(build_registry().dataset("twitter2015"), SHARED, {})
    assert sum(s.rationale is not None for s in data.test) > 1000
    first: dict[str, str | None] = {}
    for s in data.test:
        first.setdefault(s.content_hash, parse_label(s.rationale))
    served = {s.id: first[s.content_hash] for s in data.test}  # the replay row's answers
    own = {s.id: parse_label(s.rationale) for s in data.test}  # each item's own chain
    for name, answers in (("replay-served", served), ("own-chains", own)):
        file = write(tmp_path / f"{name}.jsonl", [{"id": i, "label": a} for i, a in answers.items()])
        done = score(tmp_path, file, "--data-root", str(SHARED), "--run-id", name, "--bootstrap", "0",
                     dataset="twitter2015")  # fmt: skip
        assert done.returncode == 0, done.stderr
        e = entry(tmp_path, name, name)
        expected = sum(answers[s.id] == s.label for s in data.test) / len(data.test)
        assert e["scores"]["accuracy"] == pytest.approx(expected) and e["n"] == len(data.test) == 1037
    assert sum(served[s.id] == s.label for s in data.test) == sum(own[s.id] == s.label for s in data.test) + 1
