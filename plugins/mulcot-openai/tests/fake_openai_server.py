"""A fake OpenAI-compatible chat endpoint on 127.0.0.1 (random port) for the tests; it counts every request.

Replies are scripted by tags in the post text of the prompt: ``[gold=LABEL]`` is the label it answers
(``neutral`` without one); ``[wrong]`` answers another label to the predict prompt; ``[429]``, ``[500]``,
``[timeout]``, ``[garbage]``, ``[html]``, ``[truncated]`` fail the first request for that prompt in that way;
``[down]`` always answers 503, ``[nofields]`` always answers prose without the five fields, ``[echo]``
always echoes the request's Authorization header, ``[401]`` always answers 401.

Modes: ``text_only=True`` serves a text-only model the way llama-cpp-python's server does: a request whose message
content is a list of parts gets HTTP 500 ``can only concatenate str (not "list") to str`` (its chat template
concatenates strings); ``broken = True`` answers HTTP 500 to every request (a server that is up but cannot answer).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LABELS = ("positive", "neutral", "negative")
KEY = "sk-test-Secret-0123456789abcdef"  # the API key the tests configure; it must never leak


def chain(label: str, text: str) -> str:
    return "\n\n".join(
        [
            f'"Text_analysis": "The words of \'{text[:40]}\' lean {label}."',
            '"Image_analysis": "The picture shows a scene whose mood fits."',
            '"Conflict_resolution": "Text and image agree."',
            f'"Final_conclusion": "Overall the sentiment is {label}."',
            f'"Prediction": "{label}"',
        ]
    )


class FakeOpenAI:
    def __init__(self, delay: float = 1.5, text_only: bool = False) -> None:
        self.delay = delay
        self.text_only = text_only
        self.broken = False
        self.latency = 0.0  # seconds each chat request takes
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.seen: Counter[tuple[str, str]] = Counter()
        handler = self._handler()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def count(self) -> int:
        with self.lock:
            return len(self.requests)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _send(self, status: int, body: str, ctype: str = "application/json", **headers: str) -> None:
                data = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k.replace("_", "-"), v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw)
                content = body["messages"][0]["content"]
                listed = isinstance(content, list)
                parts = content if listed else [{"type": "text", "text": content}]
                prompt = next(p["text"] for p in parts if p["type"] == "text")
                images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
                found = re.search(r"Post text: (.*)", prompt)
                text = found.group(1) if found else prompt
                explain = re.search(r"has been annotated as (\w+)", prompt)
                kind = "explain" if explain else "label" if "Reply with the label only" in prompt else "chain"
                with fake.lock:
                    n = fake.seen[(kind, text)]
                    fake.seen[(kind, text)] += 1
                    fake.requests.append(
                        {
                            "path": self.path,
                            "auth": self.headers.get("Authorization"),
                            "body": body,
                            "prompt": prompt,
                            "kind": kind,
                            "text": text,
                            "images": images,
                            "client": self.client_address[0],
                            "listed": listed,
                        }
                    )
                if self.path != "/v1/chat/completions":
                    return self._send(404, '{"error": "not found"}')
                if fake.latency:
                    time.sleep(fake.latency)
                if fake.broken:
                    return self._send(500, '{"error": {"code": 500, "message": "internal error"}}')
                if listed and fake.text_only:  # what llama-cpp-python's server answers for a text-only chat template
                    error = {"code": 500, "message": 'can only concatenate str (not "list") to str'}
                    return self._send(500, json.dumps({"error": {**error, "type": "internal_server_error"}}))
                if "[401]" in text:
                    return self._send(401, '{"error": "bad key"}')
                if "[down]" in text:
                    return self._send(503, '{"error": "overloaded"}')
                if n == 0 and "[429]" in text:
                    return self._send(429, '{"error": "slow down"}', Retry_After="1")
                if n == 0 and "[500]" in text:
                    return self._send(500, '{"error": "boom"}')
                if n == 0 and "[timeout]" in text:
                    time.sleep(fake.delay)
                if n == 0 and "[garbage]" in text:
                    return self._send(200, '{"choices": [{"message": {"content": "unterminated')
                if n == 0 and "[html]" in text:
                    return self._send(200, "<html><body>502 Bad Gateway</body></html>", "text/html")
                gold = re.search(r"\[gold=(\w+)\]", text)
                label = gold.group(1) if gold else "neutral"
                finish = "stop"
                if kind == "explain":
                    content = chain(explain.group(1), text)
                elif kind == "label":
                    content = f'"Prediction": "{label}"'
                else:
                    if "[wrong]" in text:
                        label = next(x for x in LABELS if x != label)
                    content = chain(label, text)
                if "[nofields]" in text:
                    content = f"I would say this is {label}, roughly."
                if "[echo]" in text:
                    content = f"You sent Authorization: {self.headers.get('Authorization')}"
                if n == 0 and "[truncated]" in text:
                    content, finish = content[:60], "length"
                reply = {
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
                    ]
                }
                return self._send(200, json.dumps(reply))

        return Handler
