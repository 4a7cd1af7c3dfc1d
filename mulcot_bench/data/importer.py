"""``datasets import``: copy the upstream files from a local folder or zip into the data root.

Text files are matched by name and accepted only when their sha256 is the manifest's; images are taken
from the manifest's upstream folders (or ``images/``) by file name. Every file is written atomically.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from mulcot_bench.atomic import write_bytes
from mulcot_bench.data.images import IMAGE_SUFFIXES
from mulcot_bench.data.manifest import Manifest
from mulcot_bench.errors import UserError

Member = tuple[PurePosixPath, Callable[[], bytes]]


def members(source: Path) -> Iterator[Member]:
    """(relative path, reader) of every file in a folder or zip archive."""
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_file():
                yield PurePosixPath(path.relative_to(source).as_posix()), path.read_bytes
    elif zipfile.is_zipfile(source):
        archive = zipfile.ZipFile(source)
        for info in archive.infolist():
            if not info.is_dir():
                yield PurePosixPath(info.filename), (lambda name=info.filename: archive.read(name))
    else:
        raise UserError(f"{source}: not a folder or a zip archive; pass the downloaded archive or its unpacked folder")


def import_dataset(manifest: Manifest, source: Path, dest: Path) -> list[str]:
    """Copy what ``source`` holds of the dataset into ``dest``; one line per kind of file, for the user."""
    if not source.exists():
        raise UserError(f"{source} does not exist; pass the downloaded archive or folder")
    wanted = {}
    for entry in manifest.files:
        names = {PurePosixPath(entry.path).name, PurePosixPath(entry.url or entry.path).name}
        wanted.update({(n, entry.sha256): entry.path for n in names})
    by_name = {n for n, _ in wanted}
    image_dirs = {*manifest.images.upstream_folders, manifest.images.folder}
    done: dict[str, str] = {}
    rejected: list[str] = []
    images = 0
    for rel, read in members(source):
        if rel.name in by_name:
            data = read()
            target = wanted.get((rel.name, hashlib.sha256(data).hexdigest()))
            if target is None:
                rejected.append(str(rel))
            elif target not in done:
                write_bytes(dest / target, data)
                done[target] = str(rel)
        elif rel.suffix.lower() in IMAGE_SUFFIXES and (len(rel.parts) == 1 or rel.parent.name in image_dirs):
            target_path = dest / manifest.images.folder / rel.name
            data = read()
            if not (target_path.is_file() and target_path.stat().st_size == len(data)):
                write_bytes(target_path, data)
            images += 1
    lines = [f"{t}: from {s}" for t, s in sorted(done.items())]
    if rejected:
        lines.append(f"skipped {len(rejected)} files whose sha256 is not the manifest's: {', '.join(rejected[:3])}")
    lines.append(f"images: {images} files into {dest / manifest.images.folder}")
    if not done and not images:
        raise UserError(f"{source}: found no file of {manifest.name} (expected {', '.join(sorted(by_name))} or images)")
    return lines
