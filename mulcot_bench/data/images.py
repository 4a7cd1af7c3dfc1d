"""Images of a real dataset: ``<dataset>/images/<name>``, read as bytes, never outside that folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from mulcot_bench.errors import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp")


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
    _cache: dict[str, bytes | None] = field(default_factory=dict)
    missing_samples: int = 0
    total_samples: int = 0
    missing_names: list[str] = field(default_factory=list)

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
            self._cache[name] = path.read_bytes() if path else None
            if path is None:
                self.missing_names.append(name)
        data = self._cache[name]
        if data is None:
            self.missing_samples += 1
        return data

    @property
    def files_found(self) -> int:
        return sum(v is not None for v in self._cache.values())

    def check(self, dataset: str, allow_missing: bool) -> list[str]:
        """Raise :class:`MissingImagesError` if images are missing and not allowed, else notes about coverage."""
        n, total = self.missing_samples, self.total_samples
        if not n:
            return [f"images: {total}/{total} samples have an image ({self.files_found} files)"]
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
        return [
            f"images: {n} of {total} samples have no image ({len(self.missing_names)} files missing under {where}, "
            f"first: {first}); they run text-only (--allow-missing-images)"
        ]


def decode_errors(paths: list[Path]) -> list[tuple[Path, str]]:
    """Decode every image fully with Pillow; the (path, reason) of each one that does not open."""
    from PIL import Image

    bad = []
    for path in paths:
        try:
            with Image.open(path) as im:
                im.load()
        except Exception as exc:  # Pillow raises many types for corrupt files
            bad.append((path, f"{type(exc).__name__}: {exc}"))
    return bad
