"""Bootstrap CIs, paired tests and ``mulcot-bench compare`` on fake run folders; reported baseline rows."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest

from mulcot_bench.labels import LABELS
from mulcot_bench.metrics.bleu import corpus_bleu_stat
from mulcot_bench.rationale import FIELDS, render_chain
from mulcot_bench.results import DatasetRecord, Entry, Provenance, RunResults
from mulcot_bench.scoring.stats import (
    EXACT_BELOW,
    accuracy_stat,
    bootstrap_ci,
    f1_stat,
    label_codes,
    mcnemar,
    mean_stat,
    paired_bootstrap,
    resample_indices,
)


def _labels(n: int, seed: int) -> tuple[list[str], list[str | None]]:
    rng = random.Random(seed)
    return [rng.choice(LABELS) for _ in range(n)], [rng.choice([*LABELS, None]) for _ in range(n)]


def test_label_statistics_match_sklearn_on_resamples() -> None:
    from sklearn.metrics import accuracy_score, f1_score

    y, p = _labels(120, 1)
    g, q = label_codes(y, p)
    pp = np.asarray([x or "invalid" for x in p], dtype=object)
    yy = np.asarray(y, dtype=object)
    idx = np.vstack([np.arange(120), resample_indices(120, 5, seed=9)])
    acc = accuracy_stat(g, q)(idx)
    for avg in ("macro", "weighted"):
        ours = f1_stat(g, q, avg)(idx)
        for row, value in zip(idx, ours, strict=True):
            expected = f1_score(yy[row], pp[row], labels=list(LABELS), average=avg, zero_division=0)
            assert value == pytest.approx(expected, abs=1e-12)
    for row, value in zip(idx, acc, strict=True):
        assert value == pytest.approx(accuracy_score(yy[row], pp[row]), abs=1e-12)


def test_corpus_bleu_per_resample_matches_sacrebleu() -> None:
    import sacrebleu

    from mulcot_bench.metrics.bleu import sentence_scores

    rng = random.Random(2)
    words = ["the", "a", "cat", "dog", "sat", "ran", "on", "under", "mat", "rug", "happy", "sad"]
    hyps = [" ".join(rng.choices(words, k=rng.randint(0, 12))) for _ in range(30)]
    refs = [" ".join(rng.choices(words, k=rng.randint(3, 12))) for _ in range(30)]
    _, stats = sentence_scores(hyps, refs)
    idx = np.vstack([np.arange(30), resample_indices(30, 3, seed=4)])
    ours = corpus_bleu_stat(stats)(idx)
    for row, value in zip(idx, ours, strict=True):
        expected = sacrebleu.corpus_bleu([hyps[i] for i in row], [[refs[i] for i in row]]).score
        assert value == pytest.approx(expected, abs=1e-6)


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    values = [float(i % 3 == 0) for i in range(200)]
    a = bootstrap_ci(mean_stat(values), 200, resamples=300, seed=5)
    assert a == bootstrap_ci(mean_stat(values), 200, resamples=300, seed=5)
    assert a != bootstrap_ci(mean_stat(values), 200, resamples=300, seed=6)
    assert a.low <= a.value <= a.high and a.value == pytest.approx(np.mean(values))
    assert 0.05 < a.high - a.low < 0.2  # about 4 standard errors of a proportion near 1/3 at n = 200


def test_mcnemar_matches_scipy() -> None:
    from scipy.stats import binomtest, chi2

    right = [True] * 40
    for b, c in ((3, 9), (0, 7), (5, 5), (30, 12), (14, 14)):
        xa = [True] * b + [False] * c + right
        xb = [False] * b + [True] * c + right
        test = mcnemar(xa, xb)
        assert (test.b, test.c) == (b, c)
        if b + c < EXACT_BELOW:
            assert test.p == pytest.approx(binomtest(b, b + c, 0.5).pvalue, abs=1e-12)
        else:
            stat = max(0, abs(b - c) - 1) ** 2 / (b + c)
            assert test.p == pytest.approx(chi2.sf(stat, 1), abs=1e-12)
    assert mcnemar(right, right).p == 1.0


def test_paired_bootstrap_identical_models() -> None:
    values = [float(i % 2) for i in range(50)]
    out = paired_bootstrap(mean_stat(values), mean_stat(values), 50, resamples=200)
    assert out.p == 1.0 and out.diff.value == 0.0 and out.diff.low == 0.0 == out.diff.high


# --- mulcot-bench compare on a fake run folder ----------------------------------------------------------


def _chain(label: str, i: int) -> str:
    return render_chain({f: f"the {f} of post {i} reads {label} words" for f in FIELDS[:-1]} | {"Prediction": label})


def _write_run(run_dir: Path, n: int = 300) -> None:
    """Model ``good`` is right on 90% of samples, ``bad`` on 60%; ``good-copy`` equals ``good``."""
    rng = random.Random(11)
    gold = [rng.choice(LABELS) for _ in range(n)]

    def wrong(g: str) -> str:
        return next(x for x in LABELS if x != g)

    models = {
        "good": [g if i % 10 else wrong(g) for i, g in enumerate(gold)],
        "bad": [g if i % 5 < 3 else wrong(g) for i, g in enumerate(gold)],
    }
    models["good-copy"] = models["good"]
    entries = []
    for name, labels in models.items():
        rel = f"predictions/toy/{name}.jsonl"
        rows = [
            {"id": f"s{i}", "gold": g, "label": p, "rationale": _chain(p, i), "reference": _chain(g, i)}
            for i, (g, p) in enumerate(zip(gold, labels, strict=True))
        ]
        (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / rel).write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        entries.append(
            Entry(
                model=name,
                role="baseline",
                plugin="fake",
                dataset="toy",
                split="test",
                n=n,
                invalid=0,
                scores={},
                predictions_file=rel,
                identity=name,
            )
        )
    prov = Provenance(
        mulcot_bench_version="0",
        python="3.11",
        platform="x",
        packages={},
        plugins=[],
        seed=42,
        command="test",
        started_at="2024-01-01T00:00:00Z",
    )
    ds = DatasetRecord(name="toy", title="Toy", level="post", status="embedded")
    RunResults(run_id="fake", provenance=prov, metrics=[], datasets=[ds], entries=entries).write(run_dir)


def _main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    from mulcot_bench.cli import main

    monkeypatch.setattr(sys, "argv", ["mulcot-bench", *args])
    with pytest.raises(SystemExit) as stop:
        main()
        raise SystemExit(0)
    return int(stop.value.code or 0)


def test_compare_detects_planted_difference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # noqa: ANN001
    from mulcot_bench.plugin.registry import build_registry
    from mulcot_bench.scoring.compare import compare, read_lines
    from mulcot_bench.scoring.scorer import Scorer

    scorer = Scorer(build_registry(), None)
    _write_run(tmp_path)
    a = read_lines(tmp_path / "predictions/toy/good.jsonl")
    b = read_lines(tmp_path / "predictions/toy/bad.jsonl")
    result = compare(a, b, ("toy", "good", "bad"), resamples=300, seed=1, scorer=scorer, model_metrics=False)
    assert result.mcnemar.p < 0.01 and result.mcnemar.method.startswith("chi-square")
    rows = {r.name: r.result for r in result.rows}
    assert rows["accuracy"].diff.value == pytest.approx(0.3) and rows["accuracy"].diff.low > 0.2
    assert rows["accuracy"].p < 0.01 and rows["macro-F1"].p < 0.01
    assert rows["chain-gold agreement"].diff.value == pytest.approx(0.3)
    assert "BLEU-4 (corpus, sacrebleu)" in rows and "ROUGE-L F (13a tokens)" in rows

    same = compare(
        a,
        read_lines(tmp_path / "predictions/toy/good-copy.jsonl"),
        ("toy", "good", "good-copy"),
        300,
        1,
        scorer,
        model_metrics=False,
    )
    assert same.mcnemar.p == 1.0 and all(r.result.p == 1.0 for r in same.rows)

    code = _main(monkeypatch, "compare", str(tmp_path), "good", "bad", "--resamples", "200", "--no-model-metrics")
    out = capsys.readouterr().out
    assert code == 0 and "McNemar" in out and "accuracy" in out and "+30.00" in out


def test_compare_user_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # noqa: ANN001
    _write_run(tmp_path, n=20)
    for args in (
        ("compare", str(tmp_path), "good", "nosuch"),
        ("compare", str(tmp_path / "missing"), "good", "bad"),
        ("compare", str(tmp_path), "good", "bad", "--dataset", "other"),
    ):
        assert _main(monkeypatch, *args) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1


def test_reported_baselines() -> None:
    from mulcot_bench.reported import load_reported

    rows = load_reported()
    assert len(rows) == 18
    assert all(r.citation.paper and r.citation.venue and r.citation.year >= 2017 for r in rows)
    assert all("not reproduced" in r.note.lower() and not r.reproduced for r in rows)
    mdse = {r.dataset: r.scores for r in rows if r.model == "MDSE"}
    assert mdse["mvsa_single"] == {"accuracy": 76.22, "weighted_f1": 75.71}
    assert mdse["twitter2017"] == {"accuracy": 72.77, "macro_f1": 72.63}
    assert {r.dataset for r in rows} == {"mvsa_single", "mvsa_multiple", "twitter2015", "twitter2017"}
