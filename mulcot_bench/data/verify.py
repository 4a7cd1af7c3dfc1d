"""``datasets verify``: checksums against the manifest, split and label counts, and every image decoded.

:func:`count_checks` is the one comparison of loaded splits with a manifest; ``run`` uses it too (through
:func:`partial_differences`) to refuse a known release that loaded partially.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mulcot_bench.atomic import file_sha256
from mulcot_bench.data.images import ImageFolder, decode_errors
from mulcot_bench.data.loaded import LoadedSplits
from mulcot_bench.data.manifest import SPLITS, Manifest
from mulcot_bench.errors import UserError
from mulcot_bench.types import Splits


@dataclass(frozen=True)
class Check:
    """One verified fact: ``ok``, ``warn`` (e.g. images absent) or ``fail``; ``split`` when it is about one."""

    status: Literal["ok", "warn", "fail"]
    what: str
    split: str | None = None


def load_with(manifest: Manifest, folder: Path) -> LoadedSplits:
    """Load a dataset folder with the loader of the manifest's format, images optional."""
    from mulcot_bench.data.loaders import load_mvsa, load_twitter

    loader = load_twitter if manifest.format == "tomb-tsv" else load_mvsa
    return loader(folder, manifest.name, allow_missing_images=True)


def verify_dataset(manifest: Manifest, folder: Path, decode: bool = True) -> list[Check]:
    """Every check of one dataset folder; nothing is raised for a failed check."""
    checks = [_file_check(folder, f.path, f.sha256) for f in manifest.files]
    try:
        data = load_with(manifest, folder)
    except UserError as exc:
        return [*checks, Check("fail", f"load: {exc}")]
    checks.extend(count_checks(manifest, data))
    if decode and _images_on_disk(data.stats):
        checks.extend(_decode_checks(folder, data))
    return checks


def count_checks(manifest: Manifest, data: Splits) -> list[Check]:
    """Each split's rows and labels, the rationale matches and the image coverage against the manifest."""
    checks = []
    for split in SPLITS:
        want = manifest.splits[split]
        got = Counter(s.label for s in data.split(split))
        ok = len(data.split(split)) == want.rows and dict(got) == want.labels
        what = f"{split}: {len(data.split(split))} rows {dict(sorted(got.items()))}"
        fail = f"{what}, expected {want.rows} rows {want.labels}"
        checks.append(Check("ok", what, split) if ok else Check("fail", fail, split))
    stats = getattr(data, "stats", {})
    for split, want_n in manifest.rationales.items():
        got_n = stats.get(f"rationales_{split}_unique", 0)
        what = f"rationales {split}: {got_n} matched (expected {want_n})"
        checks.append(Check("ok" if got_n == want_n else "fail", what))
    missing = stats.get("images_missing_files", 0)
    if missing:
        what = f"images: {missing} of {missing + _images_on_disk(stats)} files missing; {manifest.images.how_to_get}"
        checks.append(Check("warn", what))
    return checks


def _images_on_disk(stats: dict[str, int]) -> int:
    """Image files found on disk, whole or not."""
    return stats.get("images_found_files", 0) + stats.get("images_unreadable_files", 0)


def known_release(manifest: Manifest, folder: Path) -> bool:
    """Whether some split file of ``folder`` has the manifest's sha256 (hashing stops at the first that does)."""
    splits = [f for f in manifest.files if f.kind == "split"]
    return any((folder / f.path).is_file() and file_sha256(folder / f.path) == f.sha256 for f in splits)


def partial_differences(manifest: Manifest, folder: Path, data: Splits) -> list[str]:
    """How a known release (some split file has the manifest's sha256) loaded short of its manifest.

    One line per split whose rows or label counts differ, naming the file; empty for data that is not a known
    release (a user's own files in the layout) or that matches. Images are not compared here: missing ones are
    :class:`~mulcot_bench.data.images.MissingImagesError` (or allowed with ``--allow-missing-images``).
    """
    if not known_release(manifest, folder):
        return []
    files = {f.split: f.path for f in manifest.files if f.kind == "split"}
    out = []
    for check in count_checks(manifest, data):
        if check.status == "fail" and check.split is not None:
            want = manifest.splits[check.split]
            got = Counter(s.label for s in data.split(check.split))
            out.append(
                f"{files.get(check.split, check.split)} ({check.split} split) has {len(data.split(check.split))} rows "
                f"{_labels(got)}, the manifest says {want.rows} rows {_labels(want.labels)}"
            )
    return out


def _labels(counts: dict[str, int]) -> str:
    return "(" + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ")"


def _file_check(folder: Path, rel: str, sha256: str) -> Check:
    path = folder / rel
    if not path.is_file():
        return Check("fail", f"{rel}: missing; run 'mulcot-bench datasets fetch' or 'import'")
    digest = file_sha256(path)
    if digest != sha256:
        return Check("fail", f"{rel}: sha256 {digest} differs from the manifest's {sha256}")
    return Check("ok", f"{rel}: sha256 matches")


def _decode_checks(folder: Path, data: LoadedSplits) -> list[Check]:
    images = ImageFolder(folder)
    names = sorted({s.meta["image_id"] for sp in SPLITS for s in data.split(sp) if "image_id" in s.meta})
    paths = [p for n in names if (p := images.path(n, str(folder))) is not None]
    bad = decode_errors(paths)
    checks = [Check("fail", f"corrupt image {path}: {why}") for path, why in bad]
    checks.append(Check("ok" if not bad else "fail", f"images: {len(paths) - len(bad)}/{len(paths)} decode"))
    return checks
