"""A small client of ``POST {base_url}/chat/completions`` with bounded, jittered retries and a concurrency limit.

What it retries: HTTP 429 (waiting ``Retry-After`` when given), 408 and 5xx, timeouts and dropped
connections (exponential backoff with jitter, at most ``Transport.max_attempts`` tries), and replies that
are not usable (not JSON, such as an HTML error page; no message content; cut off at ``max_tokens``; or
failing the caller's format check) at most ``format_retries`` more times. After that the request is
given up and reported as a failed item, never an exception. What it does not retry: a refused connection
(the server is not there) and 401/403/404 (wrong key, URL or model), which raise
:class:`~mulcot_bench.errors.ModelUnavailable` with one line saying what to set.

The API key is sent as a bearer token and redacted (``***``) from every message, log line, counter and
stored reply. Proxies from the environment are ignored (``trust_env=False``): the only address contacted
is the configured endpoint.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from mulcot_bench.plugin import ModelUnavailable, get_logger
from mulcot_openai.settings import ENV_API_KEY, ENV_BASE_URL, ENV_MODEL, Transport

REDACTED = "***"
#: what servers say when a model cannot take content parts or images
PARTS_REFUSED = re.compile(r"list|image|multi-?modal|vision|content part|content type|unsupported content", re.I)


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced by ``***``."""
    if secret and text:
        return text.replace(secret, REDACTED)
    return text


@dataclass
class Reply:
    """The outcome of one request: the message content when usable, else why it was given up."""

    content: str | None
    last: str | None = None  # the last unusable content (redacted), kept as the prediction's raw answer
    problem: str | None = None
    failed: bool = False  # True: no answer at all (transport give-up), never an answer to cache or score


@dataclass
class Retry:
    """Why an attempt gave no usable answer: ``wait`` seconds before the next (None: the backoff), ``unusable``
    for a reply that came but cannot be used (asked again at once, up to ``format_retries`` times)."""

    problem: str
    wait: float | None = None
    last: str | None = None  # the unusable content (redacted)
    unusable: bool = False


def has_parts(body: dict[str, Any]) -> bool:
    """Whether a request sends any message content as a list of parts (an image with its text)."""
    return any(isinstance(m.get("content"), list) for m in body.get("messages", []))


def as_text(body: dict[str, Any]) -> dict[str, Any]:
    """The request with every list of content parts replaced by its text parts as one plain string."""
    messages = []
    for m in body.get("messages", []):
        content = m.get("content")
        if isinstance(content, list):
            content = "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        messages.append({**m, "content": content})
    return {**body, "messages": messages}


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class ChatClient:
    """Sends chat requests to one endpoint; thread-safe; counts what happened in :attr:`stats`."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None,
        transport: Transport,
        format_retries: int = 2,
        images: str = "auto",
    ) -> None:
        import httpx

        self.base_url = base_url
        self.url = f"{base_url}/chat/completions"
        self.model = model
        self.images = images
        self.text_only = False  # set once an ``images=auto`` request with an image was refused and text worked
        self.transport = transport
        self.format_retries = format_retries
        self._key = api_key or None
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        self._http = httpx.Client(
            headers=headers, timeout=httpx.Timeout(transport.timeout_s), trust_env=False, follow_redirects=False
        )
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._random = random.Random()
        self._reached = False

    # helpers ---------------------------------------------------------------------------------------------------
    def redact(self, text: str) -> str:
        return redact(text, self._key)

    def count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.stats[what] += n

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: between half and all of ``backoff_s * 2**attempt`` (capped)."""
        t = self.transport
        cap = min(t.backoff_max_s, t.backoff_s * (2**attempt))
        with self._lock:
            return cap / 2 + self._random.uniform(0, cap / 2)

    def _unavailable(self, message: str) -> ModelUnavailable:
        return ModelUnavailable(self.redact(message))

    # one request ---------------------------------------------------------------------------------------------
    def complete(self, payload: dict[str, Any], usable: Callable[[str], bool]) -> Reply:
        """Post one request (``model`` is added) and return its content once ``usable(content)`` holds."""
        body = {"model": self.model, **payload}
        if self.text_only:
            body = as_text(body)
        transport_tries = 0
        format_tries = 0
        last: str | None = None
        self.count("requests")
        while True:
            if self.text_only and has_parts(body):  # another request learnt meanwhile that the model takes text only
                body = as_text(body)
            self.count("attempts")
            body, response, problem = self._attempt(body)
            outcome = self._judge(response, usable) if response is not None else Retry(problem)
            if isinstance(outcome, Reply):
                return outcome
            if outcome.unusable:  # a reply without a usable answer: asked again at once, format_retries times
                last = outcome.last if outcome.last is not None else last
                format_tries += 1
                if format_tries > self.format_retries:
                    self.count("answered")  # a real reply, just not usable: the model's answer, scored invalid
                    return Reply(None, last, outcome.problem)
                self.count("retries")
                continue
            transport_tries += 1
            if transport_tries >= self.transport.max_attempts:
                return self._give_up(outcome.problem, transport_tries)
            self.count("retries")
            time.sleep(outcome.wait if outcome.wait is not None else self._backoff(transport_tries - 1))

    def _attempt(self, body: dict[str, Any]) -> tuple[dict[str, Any], Any, str]:
        """One POST (once more as text when the server refused its image): the body that was sent, the response
        (None when none came) and why none came."""
        import httpx

        try:
            response = self._http.post(self.url, json=body)
            if self._refused_parts(response, body):
                text = as_text(body)
                self.count("attempts")
                retried = self._http.post(self.url, json=text)
                if retried.status_code < 300:
                    self._fall_back_to_text(response.status_code)
                    body, response = text, retried
        except httpx.ConnectError as exc:
            if not self._reached:
                raise self._unavailable(
                    f"cannot connect to {self.url} ({exc}); start the server or set {ENV_BASE_URL} to its "
                    f"address (e.g. http://127.0.0.1:8000/v1)"
                ) from None
            self.count("connection_errors")
            return body, None, f"connection error: {exc}"
        except httpx.TimeoutException:
            self.count("timeouts")
            return body, None, f"no answer within {self.transport.timeout_s:g} s"
        except httpx.TransportError as exc:  # dropped connection, protocol error
            self.count("transport_errors")
            return body, None, f"transport error: {type(exc).__name__}"
        self._reached = True
        return body, response, ""

    def _judge(self, response: Any, usable: Callable[[str], bool]) -> Reply | Retry:
        """What an HTTP response means: the final :class:`Reply`, or why and when to ask again; a response that
        no retry can fix (key, URL, model, redirect) raises :class:`ModelUnavailable`."""
        status = response.status_code
        if status in (401, 403):
            raise self._unavailable(f"{self.url} refused the request (HTTP {status}); check the key in {ENV_API_KEY}")
        if status == 404:
            raise self._unavailable(
                f"{self.url} answered HTTP 404 for model {self.model!r}; check {ENV_BASE_URL} (it ends in /v1) "
                f"and {ENV_MODEL}"
            )
        if 300 <= status < 400:
            raise self._unavailable(
                f"{self.url} redirects (HTTP {status}) to {response.headers.get('Location', '?')}; set "
                f"{ENV_BASE_URL} to the address that answers"
            )
        if status == 429:
            self.count("rate_limited")
            after = retry_after_seconds(response.headers.get("Retry-After"))
            wait = min(after, self.transport.retry_after_max_s) + self._backoff(0) * 0.1 if after is not None else None
            return Retry("rate limited (HTTP 429)", wait)
        if status == 408 or status >= 500:
            self.count("server_errors")
            return Retry(f"HTTP {status}")
        if status >= 400:
            self.count("client_errors")
            self.count("failed")
            detail = " ".join(self.redact(response.text[:200]).split())
            return Reply(None, None, f"HTTP {status}: {detail}" if detail else f"HTTP {status}", failed=True)
        content, why = self._content(response)
        if why is None and content is not None and usable(content):
            self.count("answered")
            return Reply(content)
        last = self.redact(content) if content is not None else None
        self.count(why or "invalid_format")
        return Retry(why or "reply without the expected fields", last=last, unusable=True)

    def _give_up(self, problem: str, tries: int) -> Reply:
        """The failed :class:`Reply` after the last transport attempt; a server that stopped accepting connections
        raises :class:`ModelUnavailable` instead."""
        if problem.startswith("connection error"):
            raise self._unavailable(
                f"{self.url} stopped accepting connections ({problem}, {tries} attempts); "
                f"restart the server or check {ENV_BASE_URL}"
            )
        self.count("failed")
        return Reply(None, None, self.redact(f"{problem} after {tries} attempts"), failed=True)

    def _refused_parts(self, response: Any, body: dict[str, Any]) -> bool:
        """An ``images=auto`` request with content parts that the server refused (400, 415, 422, 500) saying why
        (a list, an image, not multimodal): worth one try as plain text. A text-only model's chat template cannot
        take a list: llama-cpp-python's server answers 500 ``can only concatenate str (not "list") to str``,
        vLLM 400 ``... is not a multimodal model``. A 5xx without such a reason is an ordinary transient error."""
        status = response.status_code
        if status not in (400, 415, 422, 500) or self.images != "auto" or not has_parts(body):
            return False
        return bool(PARTS_REFUSED.search(response.text[:2000]))

    def _fall_back_to_text(self, status: int) -> None:
        with self._lock:
            first = not self.text_only
            self.text_only = True
        if first:
            self.count("images_dropped")
            log(
                f"[openai] warning: {self.url} refused a request with an image (HTTP {status}) and answered it as "
                f"text; model {self.model!r} is sent text only from now on (images=auto). Set images=off to say so, "
                "or serve a vision-language model"
            )

    def _content(self, response: Any) -> tuple[str | None, str | None]:
        """The message content of a 200 reply, or (None, why it is unusable)."""
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            return None, "malformed"
        try:
            choice = data["choices"][0]
            content = choice["message"]["content"]
        except (KeyError, IndexError, TypeError):
            return None, "malformed"
        if isinstance(content, list):  # content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(content, str) or not content.strip():
            return None, "malformed"
        if choice.get("finish_reason") == "length":
            return content, "truncated"
        return content, None

    # many requests -------------------------------------------------------------------------------------------
    def complete_all(self, payloads: Sequence[dict[str, Any]], usable: Sequence[Callable[[str], bool]]) -> list[Reply]:
        """Every request, at most ``transport.concurrency`` at a time, in order; ModelUnavailable stops them all."""
        if not payloads:
            return []
        workers = min(self.transport.concurrency, len(payloads))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(self.complete, p, u) for p, u in zip(payloads, usable, strict=True)]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise

    def probe(self) -> None:
        """Fail fast: ``GET {base_url}/models`` once, before any other work. A refused connection, a timeout or a
        refused key raise :class:`ModelUnavailable` naming the URL; any answer at all (even 404, for servers
        without that route) is a server that is there."""
        import httpx

        url = f"{self.base_url}/models"
        try:
            response = self._http.get(url, timeout=min(10.0, self.transport.timeout_s))
        except httpx.ConnectError as exc:
            raise self._unavailable(
                f"cannot connect to {url} ({exc}); start the server or set {ENV_BASE_URL} to its address "
                f"(e.g. http://127.0.0.1:8000/v1)"
            ) from None
        except httpx.TimeoutException:
            raise self._unavailable(f"{url} did not answer within 10 s; check the server and {ENV_BASE_URL}") from None
        except httpx.TransportError as exc:
            raise self._unavailable(f"{url}: {type(exc).__name__}; check the server and {ENV_BASE_URL}") from None
        if response.status_code in (401, 403):
            raise self._unavailable(f"{url} refused the key (HTTP {response.status_code}); check {ENV_API_KEY}")
        self._reached = True

    def summary(self) -> str:
        """One line of counts (no key, no content)."""
        parts = [f"{k} {v}" for k, v in sorted(self.stats.items()) if v]
        return ", ".join(parts) or "no requests"

    def close(self) -> None:
        self._http.close()


def log(message: str) -> None:
    """A line on stderr and in the run log (callers redact it with :meth:`ChatClient.redact`)."""
    get_logger("openai").info(message)
