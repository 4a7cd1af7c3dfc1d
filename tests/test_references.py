"""Test references written by the teacher: a dataset without reasoning references of its own (Twitter-2017
here, text-only) gets every reasoning score, and the results say where the references came from."""

from __future__ import annotations

import json
from pathlib import Path

from fakerun import cli

from mulcot_bench.rationale import FIELDS, render_chain

HEADER = "index\t#1 Label\t#2 ImageID\t#3 String\t#3 String\n"
CODES = {"negative": 0, "neutral": 1, "positive": 2}
WORDS = {"positive": "a great happy win", "neutral": "a plain report on", "negative": "a sad awful loss"}
REASONING = ("bleu4", "bertscore_f1", "rouge_l", "meteor", "minilm_cosine", "bleu4_sentence")


def rows(split: str, n: int) -> list[tuple[str, str, str]]:
    """(sentence with $T$, target, label) rows, labels in turn."""
    labels = list(CODES)
    return [(f"{split} {i}: {WORDS[labels[i % 3]]} for $T$ today", f"Team{i}", labels[i % 3]) for i in range(n)]


def chain(label: str, target: str) -> str:
    return render_chain({**{f: f"{target} reads as {label} in field {f.lower()}" for f in FIELDS[:-1]},
                         "Prediction": label})  # fmt: skip


def twitter2017(root: Path) -> Path:
    """A Twitter-2017 folder in the release's layout (no images: the run is text-only), and replay chains for
    every training and test item (the test chains are what the teacher serves as references)."""
    folder = root / "twitter2017"
    folder.mkdir(parents=True)
    (folder / "images").mkdir()
    chains = []
    for split, n in (("train", 24), ("dev", 9), ("test", 12)):
        lines = [f"{i}\t{CODES[label]}\t{split}{i}.jpg\t{text}\t{target}" for i, (text, target, label) in
                 enumerate(rows(split, n))]  # fmt: skip
        (folder / f"{split}.tsv").write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
        if split != "dev":
            for i, (text, target, label) in enumerate(rows(split, n)):
                image = f"{split}{i}.jpg"  # named, not present: the replay index matches by name
                chains.append({"text": text.replace("$T$", target), "target": target, "image": image,
                               "rationale": chain(label, target)})  # fmt: skip
    replay = root / "chains.jsonl"
    replay.write_text("\n".join(json.dumps(c) for c in chains) + "\n")
    return replay


def test_teacher_references_give_every_chain_writer_reasoning_scores(tmp_path: Path) -> None:
    replay = twitter2017(tmp_path / "data")
    env = {"MULCOT_REPLAY_FILES": f"twitter2017={replay}", "MULCOT_BENCH_CACHE": str(tmp_path / "cache")}
    done = cli(
        "run", "-d", "twitter2017", "--data-root", str(tmp_path / "data"), "--allow-missing-images",
        "--teacher", "replay", "-m", "tiny-vlm-student", "-m", "majority", "--bootstrap", "0",
        "-o", "tiny-vlm-student.epochs=1", "-o", "tiny-vlm-assistant.epochs=1", "--run-id", "r", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "runs" / "r" / "results.json").read_text())
    [record] = results["datasets"]
    refs = record["references"]
    assert refs["source"] == "teacher" and refs["teacher"] == "replay" and refs["released"] == 0
    assert refs["teacher_written"] == refs["items"] == 12 and refs["teacher_identity"]
    entries = {e["model"]: e for e in results["entries"]}
    assert set(entries) == {"replay", "tiny-vlm-student", "majority"}
    for name in ("replay", "tiny-vlm-student"):
        assert all(entries[name]["scores"][m] is not None for m in REASONING), (name, entries[name]["scores"])
    assert entries["majority"]["scores"]["bleu4"] is None  # writes no chain
    assert "test references it is scored against" in entries["replay"]["stage"]["references"]
    lines = (tmp_path / "runs" / "r" / entries["tiny-vlm-student"]["predictions_file"]).read_text().splitlines()
    assert all(json.loads(line)["reference"] for line in lines)  # every item has its reference in the file


def test_released_references_win_and_no_teacher_is_asked(tmp_path: Path) -> None:
    done = cli(
        "run", "-d", "synthetic", "-m", "text-tfidf-lr", "--synthetic-size", "30,10,10", "--bootstrap", "0",
        "--run-id", "s", cwd=tmp_path, env={"MULCOT_BENCH_CACHE": str(tmp_path / "cache")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    [record] = json.loads((tmp_path / "runs" / "s" / "results.json").read_text())["datasets"]
    assert record["references"]["source"] == "released" and record["references"]["released"] == 10
    assert "test references" not in done.stderr
