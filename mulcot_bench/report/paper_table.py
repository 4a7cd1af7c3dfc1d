"""The overview table (models x test sets, shaped like the field's papers) in the Markdown, CSV, LaTeX and JSON
exports: the same columns and rows as the HTML overview (:func:`~mulcot_bench.report.overview.overview`)."""

from __future__ import annotations

import csv
import io
from typing import Any

from mulcot_bench.report.format import DASH
from mulcot_bench.report.overview import MatrixCell, MatrixRow, Overview


def headers(ov: Overview) -> list[str]:
    """One header per column: ``<test set title>: <metric>``, then the average accuracy when shown."""
    out = [f"{g.table.title}: {c.display}" for g in ov.groups for c in g.columns]
    return [*out, "average accuracy"] if ov.average else out


def cell_text(cell: MatrixCell) -> str:
    """A cell's shown value (one decimal), or its status (``not run``, ``failed``...), or a dash."""
    if cell.value is not None and cell.value.shown is not None:
        return cell.value.text
    return cell.status or DASH


def row_texts(ov: Overview, row: MatrixRow) -> list[str]:
    """A row's cells as text, the average (or a dash) last when shown."""
    cells = [cell_text(c) for c in row.cells]
    return [*cells, row.average_text] if ov.average else cells


def _label(row: MatrixRow) -> str:
    return f"{row.label} (reported)" if row.kind == "reported" else row.label


def markdown_lines(ov: Overview, escape: Any) -> list[str]:
    """The overview as a Markdown section (``escape``: the exporter's cell escaping)."""
    if not ov.groups:
        return []
    head = ["model", "role", *[escape(h) for h in headers(ov)]]
    out = ["## Overview", "", "| " + " | ".join(head) + " |", "|---|---|" + "|".join(["---:"] * (len(head) - 2)) + "|"]
    out += ["| " + " | ".join([escape(_label(r)), r.role, *row_texts(ov, r)]) + " |" for r in ov.rows]
    notes = sorted({f"{r.label}: {r.average_note}" for r in ov.rows if ov.average and r.average is None})
    if notes:
        out += ["", "Average accuracy left blank: " + escape("; ".join(notes)) + "."]
    return [*out, ""]


def csv_text(ov: Overview) -> str:
    """The overview as CSV: one row per model (``kind`` measured or reported), one column per header."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["model", "kind", "role", *headers(ov), *(["average_accuracy_note"] if ov.average else [])])
    for r in ov.rows:
        note = [r.average_note if r.average is None else ""] if ov.average else []
        writer.writerow([r.label, r.kind, r.role, *row_texts(ov, r), *note])
    return buf.getvalue()


def latex_lines(ov: Overview, escape: Any) -> list[str]:
    """The overview as one booktabs table (reported rows after a rule, in italics with a dagger)."""
    if not ov.groups:
        return []
    width = sum(len(g.columns) for g in ov.groups) + (1 if ov.average else 0)
    groups = " & ".join(f"\\multicolumn{{{len(g.columns)}}}{{c}}{{{escape(g.table.title)}}}" for g in ov.groups)
    metrics = " & ".join(escape(c.display) for g in ov.groups for c in g.columns)
    out = ["", "\\begin{table*}[t]", "\\centering", "\\caption{Overview (test split)}", "\\label{tab:overview}",
           "\\begin{tabular}{l" + "r" * width + "}", "\\toprule",
           f"Model & {groups}" + (" & Avg." if ov.average else "") + " \\\\",
           f" & {metrics}" + (" & Acc." if ov.average else "") + " \\\\", "\\midrule"]  # fmt: skip
    ruled = False
    for r in ov.rows:
        cells = [escape(t).replace(DASH, "--") for t in row_texts(ov, r)]
        label = escape(r.label)
        if r.kind == "reported" and not ruled:
            out.append("\\midrule")
            ruled = True
        if r.kind == "reported":
            cells, label = [f"\\textit{{{c}}}" for c in cells], f"\\textit{{{label}}}\\dag"
        out.append(f"{label} & " + " & ".join(cells) + " \\\\")
    return [*out, "\\bottomrule", "\\end{tabular}", "\\end{table*}"]


def json_doc(ov: Overview) -> dict[str, Any]:
    """The overview for the JSON export: its columns and, per row, its values (None where blank)."""
    return {
        "columns": headers(ov),
        "rows": [
            {
                "model": r.label,
                "kind": r.kind,
                "role": r.role,
                "values": [c.value.shown if c.value is not None else None for c in r.cells]
                + ([r.average.shown if r.average is not None else None] if ov.average else []),
                **({"average_note": r.average_note} if ov.average and r.average is None else {}),
            }
            for r in ov.rows
        ],
    }
