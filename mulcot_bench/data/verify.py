"""``datasets verify``: checksums against the manifest, split and label counts, and every image decoded."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mulcot_bench.data.fetch import sha256_of
from mulcot_bench.data.images import ImageFolder, decode_errors
from mulcot_bench.data.loaded import LoadedSplits
from mulcot_bench.data.manifest import SPLITS, Manifest
from mulcot_bench.errors import UserError


@dataclass(frozen=True)
class Check:
    """One verified fact: ``ok``, ``warn`` (e.g. images absent) or ``fail``."""

    status: Literal["ok", "warn", "fail"]
    what: str


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
    for split in SPLITS:
        want = manifest.splits[split]
        got = Counter(s.label for s in data.split(split))
        ok = len(data.split(split)) == want.rows and dict(got) == want.labels
        what = f"{split}: {len(data.split(split))} rows {dict(sorted(got.items()))}"
        checks.append(Check("ok", what) if ok else Check("fail", f"{what}, expected {want.rows} rows {want.labels}"))
    for split, want_n in manifest.rationales.items():
        got_n = data.stats.get(f"rationales_{split}_unique", 0)
        what = f"rationales {split}: {got_n} matched (expected {want_n})"
        checks.append(Check("ok" if got_n == want_n else "fail", what))
    missing = data.stats["images_missing_files"]
    found = data.stats["images_found_files"] + data.stats.get("images_unreadable_files", 0)  # on disk, whole or not
    if missing:
        what = f"images: {missing} of {missing + found} files missing; {manifest.images.how_to_get}"
        checks.append(Check("warn", what))
    if decode and found:
        checks.extend(_decode_checks(folder, data))
    return checks


def _file_check(folder: Path, rel: str, sha256: str) -> Check:
    path = folder / rel
    if not path.is_file():
        return Check("fail", f"{rel}: missing; run 'mulcot-bench datasets fetch' or 'import'")
    digest = sha256_of(path)
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
