"""Download a file over HTTP(S) with resume (HTTP Range) and a sha256 check before it is put in place.

The bytes go to ``<dest>.part`` beside the target; only a complete file whose sha256 matches is renamed
to ``dest``. A dropped connection is retried from where it stopped; a wrong checksum deletes the part.
This is the only module of mulcot-bench that reaches the network.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from mulcot_bench.atomic import file_sha256
from mulcot_bench.errors import UserError

Progress = Callable[[int, int | None], None]  # (bytes so far, total bytes or None)
_CHUNK = 1 << 16


def fetch_file(
    url: str, dest: Path, sha256: str, progress: Progress | None = None, retries: int = 3, timeout: float = 30.0
) -> str:
    """Put the file at ``url`` at ``dest`` if its sha256 matches; returns "present", "downloaded" or "resumed"."""
    if dest.is_file() and file_sha256(dest) == sha256:
        return "present"
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    resumed = part.is_file() and part.stat().st_size > 0
    for attempt in range(retries + 1):
        try:
            resumed |= _download(url, part, progress, timeout)
            break
        except urllib.error.HTTPError as exc:
            raise UserError(f"{url}: HTTP {exc.code} {exc.reason}; check the manifest's URL") from None
        except (OSError, http.client.HTTPException) as exc:
            if attempt == retries:
                raise UserError(
                    f"{url}: download failed after {retries + 1} tries ({exc}); run the command again to resume "
                    f"from {part}"
                ) from None
            resumed = True
    digest = file_sha256(part)
    if digest != sha256:
        part.unlink()
        raise UserError(
            f"{url}: sha256 {digest} does not match the manifest's {sha256}; nothing was written "
            "(the download was deleted)"
        )
    os.replace(part, dest)
    return "resumed" if resumed else "downloaded"


def _download(url: str, part: Path, progress: Progress | None, timeout: float) -> bool:
    """Append the rest of ``url`` to ``part``; True when it continued a partial download."""
    offset = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": "mulcot-bench", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the part is already complete
            return True
        raise
    with resp:
        if offset and resp.status != 206:
            offset = 0  # the server ignored Range: start again
        length = resp.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        done = offset
        with part.open("ab" if offset else "wb") as fh:
            while chunk := resp.read(_CHUNK):
                fh.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
        if total is not None and done < total:
            raise http.client.IncompleteRead(b"", total - done)
    return offset > 0
