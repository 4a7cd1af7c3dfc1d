"""Images of a real dataset: ``<dataset>/images/<name>``, read as bytes, never outside that folder.

Images are not decoded when a dataset loads (``mulcot-bench datasets verify`` decodes them all), but a
file that cannot be a whole image (empty, an unknown header, a JPEG or PNG cut short) is found with cheap
structural checks: its samples run text-only, and the files are counted and named in the dataset's notes.

A copy with no image at all (no ``images/`` folder; for raw MVSA, whose images share ``data/`` with the texts,
no image file there) is a *text-only copy*: a first-class way to hold a dataset, run text-only and marked so.
A copy with only some images missing is partial and refused unless ``--allow-missing-images``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from mulcot_bench.errors import UserError, describe

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp")
#: a dataset's modality: every sample may have its image, or the copy holds no image at all
MULTIMODAL, TEXT_ONLY = "multimodal", "text"


class MissingImagesError(UserError):
    """Some samples have no image file; the runner records the dataset as ``missing-images``."""

    def __init__(self, message: str, missing: int, total: int) -> None:
        super().__init__(message)
        self.missing = missing
        self.total = total


def check_reference(name: str, where: str) -> None:
    """Refuse an image reference that is empty, absolute or climbs out of the images folder."""
    if not name.strip():
        raise UserError(f"{where}: empty image reference; fix the row")
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or ".." in parts:
        raise UserError(f"{where}: image reference {name!r} escapes the dataset folder; fix the row")


@dataclass
class ImageFolder:
    """Reads the images of one dataset once each; counts samples whose image is missing."""

    dataset_root: Path
    folder: str = "images"
    shared: bool = False  # the folder also holds other files (raw MVSA's data/): no image file there = text-only
    _cache: dict[str, bytes | None] = field(default_factory=dict)
    missing_samples: int = 0
    total_samples: int = 0
    missing_names: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)  # file name -> what is wrong with it
    unreadable_samples: int = 0
    warnings: list[str] = field(default_factory=list)  # the notes of :meth:`check` that say samples run text-only

    def __post_init__(self) -> None:
        self.root = self.dataset_root / self.folder
        self.real_root = self.root.resolve() if self.root.is_dir() else None

    def path(self, name: str, where: str) -> Path | None:
        """The checked path of image ``name`` if it exists (None if not); refuses escapes and outside links."""
        check_reference(name, where)
        if self.real_root is None:
            return None
        path = self.root / name
        if not path.is_file():
            return None
        real = path.resolve()
        if not real.is_relative_to(self.real_root):
            raise UserError(f"{where}: image {path} links to {real}, outside the images folder; copy the file instead")
        return path

    def read(self, name: str, where: str) -> bytes | None:
        """The image's bytes (cached: several targets of one tweet share one image); None when missing."""
        self.total_samples += 1
        if name not in self._cache:
            path = self.path(name, where)
            data = path.read_bytes() if path else None
            if path is None:
                self.missing_names.append(name)
            elif problem := image_problem(data or b""):
                self.unreadable[name] = problem
                data = None
            self._cache[name] = data
        data = self._cache[name]
        if name in self.unreadable:
            self.unreadable_samples += 1
        elif data is None:
            self.missing_samples += 1
        return data

    @property
    def files_found(self) -> int:
        return sum(v is not None for v in self._cache.values())

    @property
    def modality(self) -> str:
        """``text`` for a text-only copy (no images folder, or a shared folder without one image), else multimodal."""
        no_folder = self.real_root is None or (self.shared and self.files_found == 0)
        text_only = self.total_samples > 0 and not self.unreadable and self.files_found == 0 and no_folder
        return TEXT_ONLY if text_only else MULTIMODAL

    def check(self, dataset: str, allow_missing: bool) -> list[str]:
        """Raise :class:`MissingImagesError` if images are missing and not allowed, else notes about coverage.

        The notes about samples that run text-only (missing images allowed, unreadable files) are also kept in
        :attr:`warnings`.
        """
        n, total = self.missing_samples, self.total_samples
        if self.modality == TEXT_ONLY:
            self.warnings = []
            why = "no such folder" if self.real_root is None else "no image"
            where = f"{self.dataset_root.name}/{self.folder}: {why}"
            return [f"images: none ({where}): a text-only copy; every sample runs text-only"]
        if not n:
            self.warnings = self._unreadable()
            return [f"images: {total}/{total} samples have an image ({self.files_found} files)", *self.warnings]
        first = ", ".join(self.missing_names[:3]) + (", ..." if len(self.missing_names) > 3 else "")
        where = self.root if self.real_root else f"{self.root} (no such folder)"
        if not allow_missing:
            raise MissingImagesError(
                f"{dataset}: {n} of {total} samples ({len(self.missing_names)} image files) have no image under "
                f"{where} (first missing: {first}); put the images there (mulcot-bench datasets import {dataset} PATH) "
                "or pass --allow-missing-images to run text-only",
                n,
                total,
            )
        self.warnings = [
            f"images: {n} of {total} samples have no image ({len(self.missing_names)} files missing under {where}, "
            f"first: {first}); they run text-only (--allow-missing-images)",
            *self._unreadable(),
        ]
        return list(self.warnings)

    def _unreadable(self) -> list[str]:
        """The note about unreadable image files (empty when there are none)."""
        if not self.unreadable:
            return []
        shown = "; ".join(f"{k}: {v}" for k, v in list(self.unreadable.items())[:3])
        more = ", ..." if len(self.unreadable) > 3 else ""
        return [
            f"images: {self.unreadable_samples} samples have an unreadable image file ({len(self.unreadable)} files: "
            f"{shown}{more}); they run text-only; replace the files (mulcot-bench datasets verify decodes every image)"
        ]


_MAGIC = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"BM": "BMP",
}


def image_problem(data: bytes) -> str | None:
    """Why ``data`` cannot be a whole image file (without decoding it), or None when it looks whole."""
    if not data:
        return "empty (zero-byte) file"
    kind = next((k for m, k in _MAGIC.items() if data.startswith(m)), None)
    if kind is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind = "WEBP"
    if kind is None:
        return f"not an image (unknown header {data[:8].hex()})"
    if kind == "JPEG":
        return _jpeg_problem(data)
    if kind == "PNG" and b"IEND" not in data[-64:]:
        return "truncated PNG (no IEND chunk)"
    return None


def _jpeg_problem(data: bytes) -> str | None:
    """Walk the JPEG segments to the first scan, then look for the end-of-image marker after it."""
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return f"corrupt JPEG (no marker at byte {i})"
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker < 0xC0 or marker == 0xD9:
            return f"corrupt JPEG (marker 0x{marker:02x} at byte {i})"
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker == 0xDA:  # start of scan: entropy-coded data follows, ended by FFD9
            return None if b"\xff\xd9" in data[i + 2 + length :] else "truncated JPEG (no end-of-image marker)"
        if length < 2:
            return f"corrupt JPEG (segment length {length} at byte {i})"
        i += 2 + length
    return "truncated JPEG (ends in its headers)"


def decode_errors(paths: list[Path]) -> list[tuple[Path, str]]:
    """Decode every image fully with Pillow; the (path, reason) of each one that does not open."""
    from PIL import Image

    bad = []
    for path in paths:
        try:
            with Image.open(path) as im:
                im.load()
        except Exception as exc:  # Pillow raises many types for corrupt files
            bad.append((path, describe(exc)))
    return bad
