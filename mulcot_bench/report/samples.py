"""Per-sample drill-down: samples of one (dataset, model) row, filtered and paginated, with thumbnails.

Filters are static pages (``all``, ``wrong``, ``inconsistent``, ``invalid``), each paginated, so the site
works without JavaScript and stays small. Images come from the predictions' ``image`` field resolved
against the dataset folder (``DatasetRecord.path``), or against the data root above it when the field
starts with the dataset's folder name; an embedded set's images are drawn again
(:mod:`mulcot_bench.report.embedded`). A path that leaves the dataset folder, a missing file, an image
that cannot be drawn again or an unreadable image gets no thumbnail and is counted. Thumbnails are written
inside the report folder, so no link leaves it.
"""

from __future__ import annotations

import hashlib
import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mulcot_bench.report.embedded import ImageSource
from mulcot_bench.report.format import DASH, format_score
from mulcot_bench.report.predictions import Flags, flags

PAGE_SIZE = 100
FILTERS = ("all", "wrong", "inconsistent", "invalid")
FILTER_HELP = {
    "all": "every test sample",
    "wrong": "predicted label differs from gold (an invalid answer counts as wrong)",
    "inconsistent": "the chain's Prediction field differs from the label answer (rationale.parse)",
    "invalid": "no parseable label in the answer",
}
THUMB = 128
SMALL = 64  # images smaller than this (the embedded set's 32x32) are enlarged, pixel for pixel


@dataclass
class Score:
    display: str
    text: str


@dataclass
class SampleView:
    index: int
    id: str
    text: str
    target: str | None
    gold: str
    label: str | None
    probs: str
    rationale: str | None
    reference: str | None
    raw: str | None
    flags: Flags
    scores: list[Score]
    thumb: str | None  # path relative to the report folder


@dataclass
class Images:
    """Thumbnails of one dataset's images, made once per report and shared by every model's pages."""

    root: Path | None
    out_dir: Path
    folder: str
    previous: Path | None = None  # the site being replaced: its thumbnails are reused when still fresh
    drawn: ImageSource | None = None  # an embedded set's images, drawn again from its record
    made: dict[str, str | None] = field(default_factory=dict)
    no_folder: int = 0
    not_drawn: int = 0
    outside: int = 0
    missing: int = 0
    unreadable: int = 0

    def thumb(self, ref: Any, record: dict[str, Any] | None = None) -> str | None:
        """The thumbnail of ``ref`` (relative to the report folder), or None when there is none; ``record``
        is the prediction record naming it (an embedded image is checked against it)."""
        if not isinstance(ref, str) or not ref:
            return None
        if ref in self.made:
            return self.made[ref]
        self.made[ref] = result = self._make(ref, record or {})
        return result

    def _name(self, ref: str) -> str:
        root = self.root.resolve() if self.root is not None else "embedded"
        return f"img/{self.folder}/" + hashlib.sha256(f"{root}\0{ref}".encode()).hexdigest()[:20] + ".jpg"

    def _make(self, ref: str, record: dict[str, Any]) -> str | None:
        if self.root is None and self.drawn is not None:
            data = self.drawn(ref, record)
            if data is None:
                self.not_drawn += 1
                return None
            return self._write(io.BytesIO(data), self._name(ref))
        if self.root is None:
            self.no_folder += 1
            return None
        root = self.root.resolve()
        # relative to the dataset folder, or to the data root above it ("twitter2015/images/1.jpg")
        inside = [p for p in ((root / ref).resolve(), (root.parent / ref).resolve()) if p.is_relative_to(root)]
        if not inside:
            self.outside += 1
            return None
        src = next((p for p in inside if p.is_file()), None)
        if src is None:
            self.missing += 1
            return None
        rel = self._name(ref)
        old = self.previous / rel if self.previous is not None else None
        if old is not None and old.is_file() and old.stat().st_mtime >= src.stat().st_mtime:
            dest = self.out_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(old, dest)
            return rel
        return self._write(src, rel)

    def _write(self, src: Path | io.BytesIO, rel: str) -> str | None:
        """Write the thumbnail of image ``src`` as ``rel``; None (counted) when it cannot be read."""
        try:
            from PIL import Image

            with Image.open(src) as im:
                im.draft("RGB", (THUMB, THUMB))
                im = im.convert("RGB")
                im.thumbnail((THUMB, THUMB))
                if max(im.size) < SMALL:
                    factor = THUMB // max(im.size)
                    im = im.resize((im.width * factor, im.height * factor), Image.Resampling.NEAREST)
                buf = io.BytesIO()
                im.save(buf, "JPEG", quality=80)
        except Exception:  # any unreadable image: no thumbnail, counted
            self.unreadable += 1
            return None
        dest = self.out_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(buf.getvalue())
        return rel

    def summary(self) -> str:
        parts = [
            f"{n} {what}"
            for n, what in (
                (self.no_folder, "with no dataset folder recorded (embedded data)"),
                (self.not_drawn, "not drawn again (no sample of the embedded set matches the record)"),
                (self.outside, "outside the dataset folder"),
                (self.missing, "missing"),
                (self.unreadable, "unreadable"),
            )
            if n
        ]
        return "images without a thumbnail: " + ", ".join(parts) if parts else ""


def _probs(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v:.2f}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in value.items())
    return "" if value is None else str(value)


def sample_view(i: int, record: dict[str, Any], images: Images, displays: dict[str, tuple[str, str]]) -> SampleView:
    """One record as shown; ``displays`` maps a score key to (display name, metric id)."""
    scores = []
    raw_scores = record.get("scores")
    if isinstance(raw_scores, dict):
        for key, value in raw_scores.items():
            display, metric_id = displays.get(key, (key, key))
            numeric = value is None or isinstance(value, (int, float))
            scores.append(Score(display, format_score(value, metric_id, key) if numeric else str(value)))

    def text(key: str) -> str | None:
        value = record.get(key)
        return None if value is None else str(value)

    return SampleView(
        index=i,
        id=str(record.get("id", DASH)),
        text=text("text") or "",
        target=text("target"),
        gold=str(record.get("gold")),
        label=text("label"),
        probs=_probs(record.get("probs")),
        rationale=text("rationale"),
        reference=text("reference"),
        raw=text("raw"),
        flags=flags(record),
        scores=scores,
        thumb=images.thumb(record.get("image"), record),
    )


def pages(count: int) -> int:
    return max(1, -(-count // PAGE_SIZE))


def page_name(flt: str, page: int) -> str:
    return f"{flt}-{page}.html"


def select(views: list[SampleView], flt: str) -> list[SampleView]:
    if flt == "all":
        return views
    return [v for v in views if getattr(v.flags, flt)]
