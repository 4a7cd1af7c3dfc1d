"""The compact score table a run prints at the end (as lm-eval does): one block per dataset, one row per model,
accuracy, the dataset's headline F1 (macro-F1 for Twitter, weighted-F1 for MVSA), BLEU-4 and BERTScore-F1 with
their bootstrap 95% intervals; a text-only copy and a model that read only its text half are marked.

Values are the recorded scores on the leaderboard's display scale (fractions x100, BLEU as is); nothing is
recomputed. Column titles are the metrics' exact display names as recorded in ``results.json``.
"""

from __future__ import annotations

from mulcot_bench.report.format import DASH, format_score
from mulcot_bench.results import Entry, RunResults

#: output key -> metric id, in column order (the F1 column is the dataset's headline F1, see :func:`columns`)
COLUMNS = (("accuracy", "accuracy"), ("macro_f1", "macro_f1"), ("bleu4", "bleu4"), ("bertscore_f1", "bertscore"))


def columns(results: RunResults, dataset: str) -> tuple[tuple[str, str], ...]:
    """The columns of one dataset's block: :data:`COLUMNS` with its headline F1 (weighted-F1 for MVSA)."""
    record = next((d for d in results.datasets if d.name == dataset), None)
    f1 = next((k for k in (record.headline if record else []) if k.endswith("_f1")), "macro_f1")
    return tuple((f1, f1) if key == "macro_f1" else (key, m) for key, m in COLUMNS)


def _cell(entry: Entry, key: str, metric_id: str) -> str:
    value = entry.scores.get(key)
    if value is None:
        return DASH
    shown = format_score(value, metric_id, key)
    if entry.sd.get(key) is not None:  # a mean over seeds: ± the standard deviation between them
        shown += f" ± {format_score(entry.sd[key], metric_id, key)}"
    low_high = entry.intervals.get(key)
    if not low_high:
        return shown
    low, high = (format_score(x, metric_id, key) for x in low_high)
    return f"{shown} [{low}, {high}]"


def _line(cells: list[str], widths: list[int]) -> str:
    """One table line: the model name left-aligned, the scores right-aligned."""
    padded = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
    return "| " + " | ".join(padded) + " |"


def _names(results: RunResults) -> dict[str, str]:
    """Output key -> exact display name as recorded (without a parenthesised detail: "BLEU-4 (corpus, sacrebleu)" is
    "BLEU-4"); the key itself when the run recorded no such metric."""
    names = {key: key for key, _ in COLUMNS} | {"weighted_f1": "weighted_f1"}
    for metric in results.metrics:
        names.update({k: v.split(" (")[0] for k, v in metric.outputs.items() if k in names})
    return names


def _label(entry: Entry) -> str:
    """The model, with its ablation variant, or ``(text half)`` when it reads images and this copy has none."""
    if entry.variant:
        return f"{entry.model} ({entry.variant})"
    return f"{entry.model} (text half)" if entry.inputs else entry.model


def score_table(results: RunResults) -> str:
    """The table as Markdown-style text (empty when the run has no entries)."""
    names = _names(results)
    blocks = []
    text_only = {d.name for d in results.datasets if d.modality == "text"}
    for dataset in dict.fromkeys(e.dataset for e in results.entries):
        entries = [e for e in results.entries if e.dataset == dataset]
        cols = columns(results, dataset)
        header = ["model", *(names.get(key, key) for key, _ in cols)]
        rows = [[_label(e), *(_cell(e, k, m) for k, m in cols)] for e in entries]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = [_line(r, widths) for r in [header, *rows]]
        lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
        sizes = "/".join(str(n) for n in sorted({e.n for e in entries}))
        seeds = sorted({s.seed for e in entries for s in e.seeds if s.seed is not None})
        over = f"; trained models: mean ± sd over seeds {','.join(map(str, seeds))}" if seeds else ""
        copy = "text-only copy; " if dataset in text_only else ""
        title = f"{dataset} ({copy}{entries[0].split}, n={sizes}; x100 except BLEU-4; [95% bootstrap interval]{over})"
        blocks.append("\n".join([title, *lines]))
    return "\n\n".join(blocks)
