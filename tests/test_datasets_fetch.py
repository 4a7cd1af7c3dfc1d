"""``datasets fetch`` against a local HTTP server on 127.0.0.1: resume after a dropped connection, bad checksums."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mulcot_bench.data.fetch import fetch_file
from mulcot_bench.errors import UserError

BODY = bytes(range(256)) * 400  # 100 KiB


class _Handler(BaseHTTPRequestHandler):
    body = BODY
    drop_first = False
    requests: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802
        rng = self.headers.get("Range")
        type(self).requests.append(rng)
        start = int(rng.split("=")[1].rstrip("-")) if rng else 0
        part = self.body[start:]
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(part)))
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(self.body) - 1}/{len(self.body)}")
        self.end_headers()
        if self.drop_first and len(type(self).requests) == 1:
            self.wfile.write(part[: len(part) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(part)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@contextmanager
def _serve(**attrs: object) -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("H", (_Handler,), {"requests": [], **attrs})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/file.tsv", handler
    finally:
        server.shutdown()
        server.server_close()


SHA = hashlib.sha256(BODY).hexdigest()


def test_download_then_present(tmp_path: Path) -> None:
    with _serve() as (url, _):
        dest = tmp_path / "d" / "file.tsv"
        seen: list[int] = []
        assert fetch_file(url, dest, SHA, lambda done, total: seen.append(done)) == "downloaded"
        assert dest.read_bytes() == BODY and seen[-1] == len(BODY)
        assert fetch_file(url, dest, SHA) == "present"


def test_dropped_connection_resumes_with_range(tmp_path: Path) -> None:
    with _serve(drop_first=True) as (url, handler):
        dest = tmp_path / "file.tsv"
        assert fetch_file(url, dest, SHA) == "resumed"
        assert dest.read_bytes() == BODY and not (tmp_path / "file.tsv.part").exists()
        assert handler.requests[0] is None and handler.requests[1] == f"bytes={len(BODY) // 2}-"


def test_partial_file_from_earlier_run_resumes(tmp_path: Path) -> None:
    with _serve() as (url, handler):
        dest = tmp_path / "file.tsv"
        (tmp_path / "file.tsv.part").write_bytes(BODY[:1000])
        assert fetch_file(url, dest, SHA) == "resumed"
        assert dest.read_bytes() == BODY and handler.requests == ["bytes=1000-"]


def test_wrong_checksum_writes_nothing(tmp_path: Path) -> None:
    with _serve(body=b"tampered" * 100) as (url, _):
        dest = tmp_path / "file.tsv"
        with pytest.raises(UserError, match="does not match the manifest's"):
            fetch_file(url, dest, SHA)
        assert list(tmp_path.iterdir()) == []


def test_http_error_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="download failed|HTTP"):
        fetch_file("http://127.0.0.1:9/nothing", tmp_path / "x", SHA, retries=0, timeout=2)
