"""Leaderboard tables as Markdown, CSV, LaTeX (booktabs) and JSON.

Every format holds the same rows as the HTML table of each test set: measured rows (display scale: percent,
BLEU 0-100; bootstrap 95% interval where recorded) and, kept apart and flagged, reported rows. A dataset
that the merged runs used with different data has one section per test set in every format, each ranked
on its own. ``csv`` writes two files: the wide table (one row per model, machine-friendly column ids) and
a long, tidy one (one row per dataset, test set, model, variant and metric).
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from mulcot_bench.report import paper_table
from mulcot_bench.report.board import Board
from mulcot_bench.report.costs import RowCost
from mulcot_bench.report.format import DASH
from mulcot_bench.report.overview import overview_of
from mulcot_bench.report.tables import Column, LeaderTable, TableRow
from mulcot_bench.results import DatasetRecord

FORMATS = ("html", "md", "csv", "tex", "json")
FILES = {
    "md": "leaderboard.md",
    "csv": "leaderboard.csv",
    "csv-long": "leaderboard_long.csv",
    "csv-overview": "overview.csv",
    "tex": "leaderboard.tex",
    "json": "leaderboard.json",
}
#: format -> files
OUTPUTS = {"md": ("md",), "csv": ("csv", "csv-long", "csv-overview"), "tex": ("tex",), "json": ("json",)}


def _cell(row: TableRow, col: Column, ci: bool = True) -> str:
    v = row.values.get(col.key)
    if v is None or v.shown is None:
        return DASH
    return f"{v.text} {v.ci_text}" if ci and v.ci_text else v.text


def _rank(row: TableRow) -> str:
    return str(row.rank) if row.rank is not None else DASH


def _filled(t: LeaderTable, cols: list[Column]) -> list[Column]:
    """The columns with a value in at least one row (measured or reported) of the table."""
    rows = [*t.rows, *t.reported]
    return [c for c in cols if any(r.values.get(c.key) is not None and r.values[c.key].shown is not None for r in rows)]


def _heading(t: LeaderTable) -> str:
    return f"{t.title} (`{t.dataset.name}`)"


def column_id(key: str) -> str:
    """A score key as a column id: letters, digits and underscores only (``f1_positive``, ``bleu4``)."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", key).strip("_").lower() or "score"


# -- Markdown --------------------------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def markdown(board: Board, tables: list[LeaderTable], missing: list[DatasetRecord]) -> str:
    out = [f"# mulcot-bench leaderboard ({_md_escape(board.run_id)})", ""]
    out.append(
        "Scores x100 with one decimal (BLEU-4 as reported, 0-100); [low, high] is the run's bootstrap 95% "
        "interval where recorded. Rank is by the first headline metric among non-teacher, full-input rows. "
        "Reported rows are published figures, not reproduced and not ranked."
    )
    out.append("")
    out += paper_table.markdown_lines(overview_of(board, tables), _md_escape)
    for t in tables:
        out += [f"## {_md_escape(_heading(t))}", ""]
        if t.section:
            out += [f"Rows of this section were scored on test set `{t.test_set}`; they are ranked on their own.", ""]
        cols = _filled(t, t.columns)
        costed = any(r.cost is not None for r in t.rows)
        costs = MD_COSTS if costed else ()
        head = ["rank", "model", "role", "params", *[_md_escape(c.display) for c in cols], *costs]
        if board.merged:
            head.append("run")
        out.append("| " + " | ".join(head) + " |")
        aligned = ["---"] * 4 + ["---:"] * (len(cols) + len(costs)) + (["---"] if board.merged else [])
        out.append("|" + "|".join(aligned) + "|")
        for r in t.rows:
            cells = [_rank(r), _md_escape(r.label), r.role, r.params_text, *[_cell(r, c) for c in cols],
                     *(_md_costs(r) if costed else [])]  # fmt: skip
            if board.merged:
                cells.append(_md_escape(r.run_id))
            out.append("| " + " | ".join(cells) + " |")
        if not t.rows:
            out.append("| " + " | ".join([DASH] * len(head)) + " |")
        if t.ceiling:
            ceiling = [DASH, _md_escape(t.ceiling.model), "references", DASH, *[_cell(t.ceiling, c) for c in cols],
                       *[DASH] * len(costs)]  # fmt: skip
            out.append("| " + " | ".join([*ceiling, *([DASH] if board.merged else [])]) + " |")
        out.append("")
        if costed:
            out += [COSTS_NOTE, ""]
        if t.reported:
            out += ["Reported in the literature (not reproduced):", ""]
            out.append("| model | " + " | ".join(_md_escape(c.display) for c in cols) + " | source |")
            out.append("|---|" + "|".join(["---:"] * len(cols)) + "|---|")
            for r in t.reported:
                out.append(
                    f"| {_md_escape(r.model)} | "
                    + " | ".join(_cell(r, c) for c in cols)
                    + f" | {_md_escape(r.citation)} |"
                )
            out.append("")
        for f, _ in t.failures:
            out.append(f"- {f.what} failure: {_md_escape(f.model or DASH)}: {_md_escape(f.reason)}")
        if t.failures:
            out.append("")
    shown = {t.dataset.name for t in tables}
    general = [(f, run) for f, run in board.failures if f.dataset not in shown]
    if general:
        out += ["## Other failures", ""]
        out += [
            f"- {f.what} failure{' on ' + f.dataset if f.dataset else ''}: {_md_escape(f.model or DASH)}: "
            f"{_md_escape(f.reason)} (run {_md_escape(run.id)})"
            for f, run in general
        ]
        out.append("")
    if missing:
        out += ["## Datasets not run", ""]
        for ds in missing:
            out.append(f"- `{ds.name}` ({ds.status}): {_md_escape(ds.how_to_get or 'no instructions recorded')}")
    return "\n".join(out).rstrip() + "\n"


MD_COSTS = ("trainable", "ms/sample", "peak mem")
COSTS_NOTE = (
    "Costs: trainable parameters as counted in the run; ms/sample is the median latency at batch size 1 over a fixed "
    "seeded subset of test items after one warm-up call; peak mem is the resident set size above its start while "
    "predicting (CUDA memory allocated on a GPU). `*` marks figures measured on another machine (a cached entry keeps "
    "its own): not comparable with the others."
)


def _md_costs(r: TableRow) -> list[str]:
    k = r.cost
    if k is None:
        return [DASH] * len(MD_COSTS)
    mark = "*" if k.other_machine else ""
    return [k.trainable_text, k.ms_text + mark, k.peak_text + mark]


# -- CSV -------------------------------------------------------------------------------------------------

#: the cost columns of the wide CSV (see :func:`cost_fields`)
COST_HEAD = (
    "params_total", "params_trainable", "params_declared", "disk_bytes", "fit_seconds", "fit_peak_bytes",
    "predict_seconds", "throughput_per_second", "chain_words_per_second", "ms_per_sample", "latency_p95_ms",
    "predict_peak_bytes", "memory_method", "device", "machine_id", "other_machine", "efficiency_signature",
)  # fmt: skip


def cost_fields(k: RowCost | None) -> dict[str, Any]:
    """A row's costs as flat fields (None where not measured), in :data:`COST_HEAD` order."""
    if k is None:
        return dict.fromkeys(COST_HEAD)
    e, p = k.eff, k.eff.parameters
    fit, pred = e.training, e.prediction
    fit_mem = fit.memory if fit else None
    mem = pred.memory if pred else None
    return {
        "params_total": p.total, "params_trainable": p.trainable, "params_declared": p.declared,
        "disk_bytes": p.disk_bytes, "fit_seconds": fit.wall_seconds if fit else None,
        "fit_peak_bytes": None if fit_mem is None else fit_mem.cuda_peak_bytes or fit_mem.rss_delta_bytes,
        "predict_seconds": pred.wall_seconds if pred else None,
        "throughput_per_second": pred.throughput_per_second if pred else None,
        "chain_words_per_second": pred.chain_words_per_second if pred else None,
        "ms_per_sample": k.ms, "latency_p95_ms": pred.latency.p95_ms if pred and pred.latency else None,
        "predict_peak_bytes": k.peak, "memory_method": mem.method if mem else None, "device": e.device,
        "machine_id": k.machine_id, "other_machine": k.other_machine, "efficiency_signature": e.signature,
    }  # fmt: skip


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _csv_text(value) if isinstance(value, str) else value


def _csv_text(text: str) -> str:
    """A text cell that a spreadsheet will not read as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _number(x: float | None) -> str:
    return "" if x is None else f"{x:.4f}"


def csv_table(board: Board, tables: list[LeaderTable], missing: list[DatasetRecord]) -> str:
    """One row per (test set, row); per score output a column (its id: the score key) and its interval
    bounds (``<key>_low``, ``<key>_high``); percent scale. Outputs no row has are left out."""
    keys: dict[str, str] = {}
    for t in tables:
        for c in _filled(t, t.all_columns):
            keys.setdefault(c.key, column_id(c.key))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    head = ["dataset", "test_set", "modality", "kind", "model", "variant", "inputs", "role", "run", "rank", "params",
            "n", "invalid"]  # fmt: skip
    for ident in keys.values():
        head += [ident, f"{ident}_low", f"{ident}_high"]
    head += [*COST_HEAD, "citation"]
    writer.writerow(head)
    for t in tables:
        for r in [*t.rows, *t.reported]:
            line: list[Any] = [
                *_row_id(t, r),
                "" if r.rank is None else r.rank,
                "" if r.params is None else r.params,
                "" if r.n is None else r.n,
                "" if r.invalid is None else r.invalid,
            ]
            for key in keys:
                v = r.values.get(key)
                line += [_number(x) for x in ((v.shown, v.low, v.high) if v is not None else (None, None, None))]
            line += [_csv_value(x) for x in cost_fields(r.cost).values()]
            line.append(_csv_text(r.citation))
            writer.writerow(line)
    return buf.getvalue()


def _row_id(t: LeaderTable, r: TableRow) -> list[str]:
    """The columns naming a row in both CSVs: dataset, test set, modality, kind, model, variant, inputs, role, run."""
    return [_csv_text(t.dataset.name), _csv_text(t.test_set), t.dataset.modality, r.kind, _csv_text(r.model),
            _csv_text(r.variant or ""), "+".join(r.inputs or []), _csv_text(r.role), _csv_text(r.run_id)]  # fmt: skip


LONG_HEAD = (
    "dataset", "test_set", "modality", "kind", "model", "variant", "inputs", "role", "run", "metric", "metric_name",
    "value", "low", "high", "n",
)


def csv_long(board: Board, tables: list[LeaderTable], missing: list[DatasetRecord]) -> str:
    """The tidy table: one line per (dataset, test set, model, variant, metric output) that has a value;
    ``value``, ``low`` and ``high`` on the display scale, ``n`` the test samples scored (empty for reported)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(LONG_HEAD)
    for t in tables:
        for r in [*t.rows, *t.reported]:
            for c in t.all_columns:
                v = r.values.get(c.key)
                if v is None or v.shown is None:
                    continue
                writer.writerow(
                    [
                        *_row_id(t, r),
                        column_id(c.key),
                        _csv_text(c.display),
                        _number(v.shown),
                        _number(v.low),
                        _number(v.high),
                        "" if r.n is None else r.n,
                    ]
                )
    return buf.getvalue()


# -- LaTeX -----------------------------------------------------------------------------------------------

_TEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def tex_escape(text: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in text)


def _tex_label(t: LeaderTable) -> str:
    name = t.dataset.name + (f"-{t.section.rpartition(' ')[2]}" if t.section else "")
    return re.sub(r"[^A-Za-z0-9:-]+", "-", name)


def latex(board: Board, tables: list[LeaderTable], missing: list[DatasetRecord]) -> str:
    """One booktabs ``table`` per dataset (needs ``\\usepackage{booktabs}``); best values bold, reported rows
    after a rule, in italics, marked with a dagger."""
    out = [
        f"% mulcot-bench leaderboard ({board.run_id}); needs \\usepackage{{booktabs}}",
        "% scores x100 (BLEU-4 as reported, 0-100); best non-teacher full-input value in bold; "
        "\\dag: reported in the literature, not reproduced",
    ]
    out += paper_table.latex_lines(overview_of(board, tables), tex_escape)
    for t in tables:
        cols = t.headline_columns or t.columns
        out += [
            "",
            "\\begin{table}[t]",
            "\\centering",
            f"\\caption{{{tex_escape(t.title)} (test split)}}",
            f"\\label{{tab:{_tex_label(t)}}}",
            "\\begin{tabular}{ll" + "r" * (1 + len(cols)) + "}",
            "\\toprule",
            "Model & Role & Params & " + " & ".join(tex_escape(c.display) for c in cols) + " \\\\",
            "\\midrule",
        ]
        for r in t.rows:
            cells = []
            for c in cols:
                text = tex_escape(_cell(r, c, ci=False)).replace(DASH, "--")
                cells.append(f"\\textbf{{{text}}}" if c.key in r.best else text)
            out.append(
                f"{tex_escape(r.label)} & {tex_escape(r.role)} & {tex_escape(r.params_text).replace(DASH, '--')} & "
                + " & ".join(cells)
                + " \\\\"
            )
        if t.reported:
            out.append("\\midrule")
            for r in t.reported:
                cells = [f"\\textit{{{tex_escape(_cell(r, c, ci=False)).replace(DASH, '--')}}}" for c in cols]
                out.append(f"\\textit{{{tex_escape(r.model)}}}\\dag & reported & -- & " + " & ".join(cells) + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(out) + "\n"


# -- JSON ------------------------------------------------------------------------------------------------


def _row_json(r: TableRow, cols: list[Column]) -> dict[str, Any]:
    return {
        "kind": r.kind,
        "model": r.model,
        "variant": r.variant,
        **({"inputs": r.inputs} if r.inputs else {}),
        "role": r.role,
        "run": r.run_id,
        "rank": r.rank,
        "params": r.params,
        "n": r.n,
        "invalid": r.invalid,
        "scores": {c.key: r.values[c.key].shown for c in cols if c.key in r.values},
        "intervals": {
            c.key: [r.values[c.key].low, r.values[c.key].high]
            for c in cols
            if c.key in r.values and r.values[c.key].low is not None
        },
        "best": sorted(r.best),
        **({"efficiency": _cost_json(r.cost)} if r.kind == "measured" else {}),
        **({"citation": r.citation, "note": r.note} if r.kind == "reported" else {}),
    }


def _cost_json(k: RowCost | None) -> dict[str, Any] | None:
    """The entry's efficiency record as recorded, with whether it was measured on another machine."""
    return None if k is None else {**k.eff.model_dump(mode="json"), "other_machine": k.other_machine}


def json_table(board: Board, tables: list[LeaderTable], missing: list[DatasetRecord]) -> str:
    doc = {
        "runs": [r.id for r in board.runs],
        "scale": "percent (x100 of the recorded fraction); BLEU as recorded (0-100)",
        "merge": (
            "rows merge only within one test set (dataset, fingerprint, split): newest run wins per model and "
            "variant, older rows are listed as superseded; each test set of a dataset is its own section"
        ),
        "datasets": [
            {
                "name": t.dataset.name,
                "title": t.dataset.title,
                "status": t.dataset.status,
                "fingerprint": t.dataset.fingerprint,
                "modality": t.dataset.modality,
                "test_set": t.test_set,
                "section": t.section,
                "headline": t.headline,
                "columns": {c.key: c.display for c in t.all_columns},
                "rows": [_row_json(r, t.all_columns) for r in t.rows],
                "reported": [_row_json(r, t.all_columns) for r in t.reported],
                **({"references": _row_json(t.ceiling, t.all_columns)} if t.ceiling else {}),
                "failures": [{**f.model_dump(), "run": run_id} for f, run_id in t.failures],
            }
            for t in tables
        ],
        "superseded": [
            {
                "dataset": old.entry.dataset,
                "test_set": old.test_set,
                "model": old.label,
                "run": old.run.id,
                "replaced_by": new.run.id,
            }
            for old, new in board.superseded
        ],
        "failures": [{**f.model_dump(), "run": run.id} for f, run in board.failures],
        "not_run": [{"name": ds.name, "status": ds.status, "how_to_get": ds.how_to_get} for ds in missing],
        "overview": paper_table.json_doc(overview_of(board, tables)),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def csv_overview(board: Board, tables: list[LeaderTable], missing: list[DatasetRecord]) -> str:
    """The overview table (models x test sets, average accuracy) as CSV."""
    return paper_table.csv_text(overview_of(board, tables))


WRITERS = {"md": markdown, "csv": csv_table, "csv-long": csv_long, "csv-overview": csv_overview, "tex": latex,
           "json": json_table}  # fmt: skip
