"""Render the static site: overview, one page per test set, per-sample drill-down and comparison pages.

Every page is a Jinja2 template with autoescape on; CSS is inline, the only scripts (sorting and the
reference-row switch of the dataset pages; the comparison view) are inline too and allowed by their hash in
each page's Content-Security-Policy, so nothing injected into a page could run even if escaping failed.
The comparison page's data is a JSON block (``type="application/json"``, never executed) with ``<``,
``>`` and ``&`` escaped, read by its script and shown as text only; the chains, most of its weight, are in
script files beside it (``compare/<set>/<row>-<n>.js``, one JSON literal each, :data:`CHUNK` samples a file)
that its script adds when a card needs them (``<script src>`` works from ``file://``, where ``fetch`` does
not), so the page stays small however long the chains are.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from mulcot_bench.errors import UserError
from mulcot_bench.faults import failpoint
from mulcot_bench.report.board import Board, set_label, slug
from mulcot_bench.report.charts import Chart, charts, overview_charts
from mulcot_bench.report.drawing import start as start_drawing
from mulcot_bench.report.embedded import EMBEDDED_IMAGES, synthetic_source
from mulcot_bench.report.format import DASH
from mulcot_bench.report.lineage import Chain, StageItem, lineage, stage_items
from mulcot_bench.report.overview import fingerprints, overview, summary
from mulcot_bench.report.predictions import Predictions, correctness, read_predictions
from mulcot_bench.report.samples import (
    FILTER_HELP,
    FILTERS,
    PAGE_SIZE,
    Images,
    page_name,
    pages,
    sample_view,
    select,
)
from mulcot_bench.report.significance import Mark, matrix
from mulcot_bench.report.tables import LeaderTable, TableRow, build_tables
from mulcot_bench.results import DatasetRecord

TEMPLATES = Path(__file__).parent / "templates"
SCRIPT = (TEMPLATES / "board.js").read_text(encoding="utf-8")
COMPARE_SCRIPT = (TEMPLATES / "compare.js").read_text(encoding="utf-8")
SAMPLES_DEPTH = "../../../"
CHUNK = 100  # samples per chain file of a comparison page
MARKER = ".mulcot-report"
OWNER = ".mulcot-render-owner"  # "<host> <pid>" in a staging folder while a render uses it
SPLIT = "<!--sample-->"
_ENV: list[Environment] = []


def environment() -> Environment:
    """The shared template environment (compiled templates are reused across renders in one process)."""
    if not _ENV:
        _ENV.append(_new_environment())
    return _ENV[0]


def _new_environment() -> Environment:
    """Templates beside this module, everything autoescaped, undefined names fail."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["DASH"] = DASH
    return env


def csp(script: str | None, loads: bool = False) -> str:
    """The page's Content-Security-Policy: no network, inline style, local images, only our own script;
    ``loads``: that script may add script elements (``'strict-dynamic'``: the comparison page's chain files),
    while a script element in the page's markup still runs only if it is ours."""
    if script is None:
        allowed = "'none'"
    else:
        allowed = "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode() + "'"
        if loads:
            allowed += " 'strict-dynamic'"
    return (
        f"default-src 'none'; script-src {allowed}; style-src 'unsafe-inline'; img-src 'self' file: data:; "
        "base-uri 'none'; form-action 'none'"
    )


@dataclass
class Drill:
    """Where a row's drill-down pages are, and how many samples each filter holds."""

    folder: str  # relative to the report folder
    counts: dict[str, int]
    problem: str | None = None

    def href(self, flt: str = "all") -> str:
        return f"{self.folder}/{page_name(flt, 1)}"


@dataclass
class DatasetPage:
    table: LeaderTable
    file: str
    slug: str
    chains: list[Chain]
    charts: list[Chart]
    stage: dict[str, list[StageItem]]
    drills: dict[str, Drill]
    marks: dict[str, dict[str, Mark]]  # ref key -> row key -> mark
    reference: str | None
    sig_json: dict[str, dict[str, list[str]]]  # row key -> ref key -> [symbol, css, title]
    images_note: str = ""
    bad_lines: list[str] = field(default_factory=list)
    compare: str = ""  # the comparison page's file, when two rows have predictions to compare

    @property
    def set_label(self) -> str:
        return set_label(self.table.test_set) if self.table.test_set else DASH


@dataclass
class Site:
    """What every page needs: the board, the dataset pages, the run provenance, navigation."""

    board: Board
    pages: list[DatasetPage]
    missing: list[DatasetRecord]
    summary: str
    title: str
    version: str


def _default_reference(table: LeaderTable, wanted: str | None, available: set[str]) -> str | None:
    """The reference row: the one named (model or "model (variant)"), else the first student, assistant,
    then the best-ranked row, among rows whose predictions could be read."""
    rows = [r for r in table.rows if r.key in available]
    if wanted:
        for r in rows:
            if wanted in (r.label, r.model) and (r.variant is None or wanted == r.label):
                return r.key
    for role in ("student", "assistant"):
        for r in rows:
            if r.role == role and r.variant is None:
                return r.key
    ranked = sorted((r for r in rows if r.rank is not None), key=lambda r: r.rank or 0)
    if ranked:
        return ranked[0].key
    return rows[0].key if rows else None


@dataclass
class NavItem:
    file: str
    name: str
    title: str


class Renderer:
    """Renders one board into ``out_dir``; ``reference`` names the default reference row of the marks;
    ``charts=False`` leaves every chart undrawn (only to time the rest of a render)."""

    def __init__(
        self,
        board: Board,
        out_dir: Path,
        reference: str | None = None,
        previous: Path | None = None,
        charts: bool = True,
    ) -> None:
        from mulcot_bench import __version__

        self.board = board
        self.charts = charts
        self.out_dir = Path(out_dir)
        self.previous = previous
        self.reference = reference
        self.version = __version__
        self.env = environment()
        self.displays = {k: (d, m.id) for m in board.metrics for k, d in m.outputs.items()}
        self.nav: list[NavItem] = []
        self.written: list[Path] = []

    def render(self) -> Path:
        """Write every page (drill-down pages first, then the dataset pages and the overview)."""
        tables, missing = build_tables(self.board)
        slugs: list[str] = []
        for table in tables:
            name = slug(table.dataset.name + (f"--{set_label(table.test_set)}" if table.section else ""))
            while name in slugs:
                name += "_"
            slugs.append(name)
            shown = table.dataset.name + (f" \u00b7 {set_label(table.test_set)}" if table.section else "")
            self.nav.append(NavItem(f"dataset-{name}.html", shown, table.title))
        page_charts = [charts(t, i) for i, t in enumerate(tables)]
        over = overview_charts([t for t in tables if t.rows])
        # the charts are drawn (in a second process when there are several) while the pages are written
        drawing = start_drawing([c for cs in page_charts for c in cs] + over) if self.charts else None
        pages_ = [self._dataset_page(t, name, cs) for t, name, cs in zip(tables, slugs, page_charts, strict=True)]
        if drawing is not None:
            drawing.wait()
        site = Site(
            board=self.board,
            pages=pages_,
            missing=missing,
            summary=summary(self.board, [p.table for p in pages_], missing),
            title=f"mulcot-bench leaderboard \u2014 {self.board.run_id}",
            version=self.version,
        )
        common: dict[str, Any] = {
            "site": site,
            "nav": self.nav,
            "prefix": "",
            "fingerprints": fingerprints(self.board),
            "version": self.version,
        }
        dataset_template = self.env.get_template("dataset.html.j2")
        for page in pages_:
            html = dataset_template.render(**common, page=page, csp=csp(SCRIPT), script=Markup(SCRIPT), here=page.file)
            self._write(page.file, html)
        index = self.env.get_template("index.html.j2").render(
            **common,
            overview=overview(site.board, site.pages),
            charts=over,
            csp=csp(None),
            script=None,
            here="index.html",
        )
        self._write("index.html", index)
        return self.out_dir / "index.html"

    def _write(self, rel: str, html: str) -> None:
        """A plain write into the staging folder; the folder as a whole is published by :func:`render_site`."""
        path = self.out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
        self.written.append(path)

    def _dataset_page(self, table: LeaderTable, name: str, page_charts: list[Chart]) -> DatasetPage:
        page = DatasetPage(
            table=table,
            file=f"dataset-{name}.html",
            slug=name,
            chains=lineage(table),
            charts=page_charts,
            stage={r.key: stage_items(r.source.entry.stage) for r in table.rows if r.source and r.source.entry.stage},
            drills={},
            marks={},
            reference=None,
            sig_json={},
        )
        self._samples(page)
        return page

    def _samples(self, page: DatasetPage) -> None:
        """Read each row's predictions once: McNemar marks, then the drill-down pages."""
        table = page.table
        record = table.dataset
        root = self.board.local_path(record)
        images = Images(root if root is not None and root.is_dir() else None, self.out_dir, page.slug, self.previous)
        if root is None and record.status == "embedded" and record.name in EMBEDDED_IMAGES and table.rows:
            source = table.rows[0].source
            images.drawn = synthetic_source(source.run.results.provenance.command if source else "")
        correct: dict[str, dict[str, bool] | None] = {}
        read: dict[str, Predictions] = {}
        used: set[str] = set()
        for row in table.rows:
            assert row.source is not None
            preds = read_predictions(row.source.run.dir, row.source.entry.predictions_file)
            read[row.key] = preds
            folder_name = slug(row.model) + (f"--{slug(row.variant)}" if row.variant else "")
            if folder_name in used:
                folder_name += f"--{row.key}"
            used.add(folder_name)
            if preds.bad_lines:
                shown = ", ".join(map(str, preds.bad_lines[:10])) + (" ..." if len(preds.bad_lines) > 10 else "")
                page.bad_lines.append(
                    f"{row.label}: {len(preds.bad_lines)} line(s) of {row.source.entry.predictions_file} are not "
                    f"prediction records (line {shown}); they are not shown"
                )
            correct[row.key] = correctness(preds.records) if preds.ok else None
            page.drills[row.key] = self._drill(page, row, preds, f"samples/{page.slug}/{folder_name}", images)
        if root is not None and not root.is_dir():
            page.images_note = f"dataset folder {record.path} is not on this machine: no thumbnails"
        else:
            page.images_note = images.summary()
        labels = {r.key: r.label for r in table.rows}
        page.marks = matrix(correct, labels)
        available = {k for k, v in correct.items() if v is not None}
        page.reference = _default_reference(table, self.reference, available)
        page.sig_json = {
            row: {ref: [m.symbol, m.css, m.title] for ref, marks in page.marks.items() if (m := marks.get(row))}
            for row in labels
        }
        readable = {k: p for k, p in read.items() if p.ok}
        if len(readable) >= 2:
            self._compare(page, readable, images)

    def _compare(self, page: DatasetPage, read: dict[str, Predictions], images: Images) -> None:
        """Write the comparison page of a test set: every sample once, each row's answer to it."""
        rows = [r for r in page.table.rows if r.key in read]
        samples: list[dict[str, Any]] = []
        index: dict[str, int] = {}
        for row in rows:
            for rec in read[row.key].records:
                sid = str(rec.get("id"))
                if sid not in index:
                    index[sid] = len(samples)
                    samples.append(
                        {
                            "id": sid,
                            "text": str(rec.get("text") or ""),
                            "target": rec.get("target"),
                            "gold": str(rec.get("gold")),
                            "reference": rec.get("reference"),
                            "thumb": images.thumb(rec.get("image"), rec),
                        }
                    )
        answers: dict[str, list[list[Any] | None]] = {}
        chains: dict[str, list[Any]] = {"reference": [s.pop("reference") for s in samples]}
        for row in rows:
            right = correctness(read[row.key].records)
            column: list[list[Any] | None] = [None] * len(samples)
            chain: list[Any] = [None] * len(samples)
            for rec in read[row.key].records:
                sid = str(rec.get("id"))
                column[index[sid]] = [rec.get("label"), right[sid]]
                chain[index[sid]] = rec.get("rationale")
            answers[row.key] = column
            chains[row.key] = chain
        first = page.reference if page.reference in read else rows[0].key
        second = next(r.key for r in rows if r.key != first)
        folder = f"compare/{page.slug}"
        files = {key: self._chunks(folder, key, values) for key, values in chains.items()}
        data = {
            "rows": [{"key": r.key, "label": r.label, "rank": r.rank} for r in rows],
            "a": first,
            "b": second,
            "samples": samples,
            "answers": answers,
            "chunk": CHUNK,
            "chains": files,
        }
        blob = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        blob = blob.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        page.compare = f"compare-{page.slug}.html"
        html = self.env.get_template("compare.html.j2").render(
            nav=self.nav,
            version=self.version,
            run_id=self.board.run_id,
            page=page,
            rows=rows,
            data=Markup(blob),
            prefix="",
            csp=csp(COMPARE_SCRIPT, loads=True),
            script=Markup(COMPARE_SCRIPT),
            here=None,
        )
        self._write(page.compare, html)

    def _chunks(self, folder: str, key: str, values: list[Any]) -> list[str]:
        """Write ``values`` (one chain per sample, or None) as script files of :data:`CHUNK` samples each,
        each a single call ``mulcotChains(key, first index, [chains])`` with a JSON literal; returns their
        paths relative to the report folder. The comparison page loads one when a card needs it."""
        names = []
        for start in range(0, len(values), CHUNK):
            part = values[start : start + CHUNK]
            if all(v is None for v in part):
                names.append("")  # nothing to load: every chain of these samples is absent
                continue
            blob = json.dumps(part, ensure_ascii=False, separators=(",", ":"))
            blob = blob.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
            name = f"{folder}/{slug(key)}-{start // CHUNK + 1}.js"
            self._write(name, f"mulcotChains({json.dumps(key)},{start},{blob});\n")
            names.append(name)
        return names

    def _drill(self, page: DatasetPage, row: TableRow, preds: Predictions, folder: str, images: Images) -> Drill:
        """Write the drill-down pages of one row: every filter, paginated; each sample rendered once."""
        if not preds.ok:
            return Drill(folder, dict.fromkeys(FILTERS, 0), preds.problem)
        views = [sample_view(i, rec, images, self.displays) for i, rec in enumerate(preds.records)]
        listing = self.env.get_template("_samples_list.html.j2").render(views=views, prefix=SAMPLES_DEPTH)
        blocks = [Markup(b) for b in listing.split(SPLIT)[1:]]  # one render for all samples, then split
        if len(blocks) != len(views):
            raise RuntimeError(f"{row.label}: {len(blocks)} sample blocks for {len(views)} samples")
        chosen = {flt: select(views, flt) for flt in FILTERS}
        drill = Drill(folder, {flt: len(v) for flt, v in chosen.items()})
        template = self.env.get_template("samples.html.j2")
        for flt in FILTERS:
            total = pages(len(chosen[flt]))
            for number in range(1, total + 1):
                part = chosen[flt][(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
                html = template.render(
                    nav=self.nav,
                    version=self.version,
                    run_id=self.board.run_id,
                    page=page,
                    row=row,
                    drill=drill,
                    flt=flt,
                    filters=FILTERS,
                    filter_help=FILTER_HELP,
                    number=number,
                    total=total,
                    first=(number - 1) * PAGE_SIZE + 1,
                    blocks=Markup("").join(blocks[v.index] for v in part),
                    shown=len(part),
                    matched=len(chosen[flt]),
                    prefix=SAMPLES_DEPTH,
                    csp=csp(None),
                    script=None,
                    page_name=page_name,
                    here=None,
                )
                self._write(f"{folder}/{page_name(flt, number)}", html)
        return drill


def _is_report(folder: Path) -> bool:
    """True for a folder this module may replace: empty, marked, or an older mulcot-bench report."""
    if not any(folder.iterdir()):
        return True
    if (folder / MARKER).is_file():
        return True
    index = folder / "index.html"
    if index.is_file():
        with index.open(encoding="utf-8", errors="replace") as fh:
            return 'name="generator" content="mulcot-bench' in fh.read(4096)
    return False


def _claim(folder: Path) -> None:
    """Mark a staging folder as this process's, so a later render can tell an abandoned one."""
    (folder / OWNER).write_text(f"{socket.gethostname()} {os.getpid()}\n", encoding="utf-8")


def _abandoned(folder: Path) -> bool:
    """True for a staging folder whose owner process (on this host) is gone."""
    try:
        host, pid = (folder / OWNER).read_text(encoding="utf-8").split()
        if host != socket.gethostname():
            return False
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (OSError, ValueError):  # no owner file yet, unreadable, or a process of another user
        return False
    return False


def sweep(out_dir: Path) -> list[str]:
    """Remove the staging folders that killed renders of ``out_dir`` left beside it; returns their names."""
    removed = []
    for folder in out_dir.parent.glob(f".{out_dir.name}.*"):
        if folder.is_dir() and folder.suffix in (".tmp", ".old") and _abandoned(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return sorted(removed)


def render_site(board: Board, out_dir: Path, reference: str | None = None, charts: bool = True) -> Path:
    """Write the whole site for ``board`` as ``out_dir``; returns the overview page's path.

    The pages are written into a staging folder beside ``out_dir`` which then replaces ``out_dir`` by
    renames, so a reader sees the old site or the new one and no stale page survives. Pages are not
    fsynced one by one: a site can always be rendered again from its run folders. An existing ``out_dir``
    is replaced only when it is empty or a mulcot-bench report; anything else is a user error.
    ``charts=False`` leaves the charts undrawn, only to time the rest of a render.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or not _is_report(out_dir)):
        raise UserError(
            f"{out_dir} exists and is not a mulcot-bench report folder; pass a new or empty folder to --out"
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    left = sweep(out_dir)
    if left:
        print(f"removed {len(left)} staging folder(s) of killed renders beside {out_dir}: {', '.join(left)}",
              file=sys.stderr)
    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        _claim(stage)
        Renderer(board, stage, reference, out_dir if out_dir.is_dir() else None, charts).render()
        failpoint("render")
        (stage / OWNER).unlink()
        (stage / MARKER).write_text("written by mulcot-bench report; this folder is replaced on each render\n")
        os.chmod(stage, 0o755)
        old = None
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
            os.rmdir(old)
            os.rename(out_dir, old)
            _claim(old)
        os.rename(stage, out_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out_dir / "index.html"
