"""Helpers for the mulcot-features tests (a unique module name: conftest.py files share one)."""

from __future__ import annotations

import io

from PIL import Image


def image_bytes(rgb: tuple[int, int, int], size: tuple[int, int] = (40, 30), fmt: str = "PNG") -> bytes:
    """A small one-colour image with a white square, so its features are not trivially uniform."""
    im = Image.new("RGB", size, rgb)
    im.paste((255, 255, 255), (2, 2, 2 + size[0] // 3, 2 + size[1] // 3))
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()
