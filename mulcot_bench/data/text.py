"""Reading data files as UTF-8 text or JSON, with errors that name the file and the line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mulcot_bench.errors import UserError

_BOM = b"\xef\xbb\xbf"


def read_text(path: Path) -> str:
    """The file decoded as UTF-8 (a leading BOM is dropped); non-UTF-8 bytes name their line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror}); check the file and its permissions") from exc
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UserError(
            f"{path}:{line}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "re-download the file or convert it to UTF-8"
        ) from None


def read_json(path: Path) -> Any:
    """The parsed JSON document; a truncated or invalid file names its line and column."""
    text = read_text(path)
    if not text.strip():
        raise UserError(f"{path}: empty file, expected JSON; re-download or re-import it")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        kind = "truncated" if truncated else "invalid"
        raise UserError(
            f"{path}:{exc.lineno}: {kind} JSON ({exc.msg} at column {exc.colno}); re-download or re-import the file"
        ) from None
