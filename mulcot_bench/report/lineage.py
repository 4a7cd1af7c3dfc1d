"""The distillation lineage of a dataset: teacher -> assistant -> student, and what each stage keeps.

"Keeps" is the stage's score as a share of the teacher's on the same test split: accuracy, and the
rationale-quality outputs the run recorded (BLEU-4, BERTScore-F1). Only full-input measured rows count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mulcot_bench.report.format import readable
from mulcot_bench.report.tables import LeaderTable, TableRow

QUALITY_KEYS = ("accuracy", "bleu4", "bertscore_f1")
STAGE_KEYS_FIRST = ("train", "n_train", "kept_as_predicted", "corrected", "label_only", "rejected", "augmentation")
#: shown beside each stage of the lineage table (``why_no_chains``: a chain model that trained on no chain says why)
LINEAGE_KEYS = (
    *STAGE_KEYS_FIRST, "counts", "n_with_rationale", "epochs_run", "selected_epoch", "selection", "why_no_chains"
)


@dataclass
class Kept:
    display: str
    value: str
    kept: str  # "97.3%" of the teacher's, or a dash


@dataclass
class StageItem:
    """One entry of a stage report: short and full readable text, and for a mapping its own items (shown
    as a small nested table rather than as JSON)."""

    key: str
    shown: str
    full: str
    items: list[StageItem] = field(default_factory=list)


@dataclass
class Step:
    stage: str  # teacher, assistant, student, or "baseline (same assistant data)"
    row: TableRow
    kept: list[Kept]
    wall: str
    items: list[StageItem]  # the data counts and model selection of the stage report (the rest: stage reports)


@dataclass
class Chain:
    teachers: list[str]
    assistant: str | None
    students: list[str]
    steps: list[Step] = field(default_factory=list)


def stage_items(stage: dict[str, object], depth: int = 0) -> list[StageItem]:
    """The stage report as items: data counts first, then the rest in recorded order; mappings nested up to
    three levels deep are items of their own."""
    first = STAGE_KEYS_FIRST if depth == 0 else ()
    keys = [k for k in first if k in stage] + [k for k in stage if k not in first]
    out = []
    for k in keys:
        value = stage[k]
        full = readable(value)
        shown = full if len(full) <= 160 else full[:159] + "\u2026"
        nested = stage_items(value, depth + 1) if isinstance(value, dict) and value and depth < 2 else []
        out.append(StageItem(str(k), shown, full, nested))
    return out


def _wall(row: TableRow) -> str:
    stage = row.source.entry.stage if row.source else {}
    wall = stage.get("wall_seconds")
    return f"{wall:.1f} s" if isinstance(wall, (int, float)) else "\u2014"


def _kept(row: TableRow, teacher: TableRow | None, table: LeaderTable) -> list[Kept]:
    out = []
    display = {c.key: c.display for c in table.all_columns}
    for key in QUALITY_KEYS:
        if key not in display:
            continue
        value = row.values[key]
        base = teacher.values[key].raw if teacher is not None else None
        kept = "\u2014"
        if value.raw is not None and base:
            kept = f"{100.0 * value.raw / base:.1f}%"
        out.append(Kept(display[key], value.text, kept))
    return out


def lineage(table: LeaderTable) -> list[Chain]:
    """Chains from the rows' roles and ``Entry.assistant``; each with its steps and what they keep."""
    full = [r for r in table.rows if r.variant is None]
    teachers = [r for r in full if r.role == "teacher"]
    assistants = sorted({r.model for r in full if r.role == "assistant"})
    students = [r for r in full if r.role == "student"]
    for extra in sorted({s.assistant for s in students if s.assistant and s.assistant not in assistants}):
        assistants.append(extra)
    by_model = {r.model: r for r in full}
    teacher = teachers[0] if teachers else None
    chains: list[Chain] = []
    for a in [*assistants, None]:
        studs = [s for s in students if s.assistant == a] if a else [s for s in students if not s.assistant]
        if a is None and not studs and (chains or not teachers):
            continue
        chain = Chain([t.model for t in teachers], a, sorted(s.model for s in studs))
        steps: list[tuple[str, TableRow]] = [("teacher", t) for t in teachers]
        if a and a in by_model:
            steps.append(("assistant", by_model[a]))
        steps += [("student", s) for s in sorted(studs, key=lambda r: r.model)]
        if a:
            steps += [
                ("baseline (same assistant's data)", r) for r in full if r.role == "baseline" and r.assistant == a
            ]
        chain.steps = [
            Step(
                stage,
                row,
                _kept(row, teacher, table),
                _wall(row),
                [i for i in stage_items(row.source.entry.stage) if i.key in LINEAGE_KEYS],
            )
            for stage, row in steps
            if row.source is not None
        ]
        chains.append(chain)
    return chains
