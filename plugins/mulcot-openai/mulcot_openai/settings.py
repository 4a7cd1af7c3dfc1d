"""What configures the endpoint models: environment variables, card settings and transport options.

Card settings (the cache identity) hold everything that changes an answer: base URL, model, sampling
options, the sha256 of every prompt template used and the files that override them. The API key is read
from the environment when a model is built and never stored in settings, results or logs. Transport options
(timeouts, retries, concurrency) change how answers are fetched, not what they are, so they stay outside the
identity and are read from the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mulcot_bench.plugin import UserError

ENV_BASE_URL = "MULCOT_OPENAI_BASE_URL"
ENV_MODEL = "MULCOT_OPENAI_MODEL"
ENV_API_KEY = "MULCOT_OPENAI_API_KEY"
ENV_PROMPT_DIR = "MULCOT_OPENAI_PROMPT_DIR"
ENV_TEMPERATURE = "MULCOT_OPENAI_TEMPERATURE"
ENV_MAX_TOKENS = "MULCOT_OPENAI_MAX_TOKENS"
ENV_SEED = "MULCOT_OPENAI_SEED"
ENV_TIMEOUT = "MULCOT_OPENAI_TIMEOUT"
ENV_MAX_ATTEMPTS = "MULCOT_OPENAI_MAX_ATTEMPTS"
ENV_CONCURRENCY = "MULCOT_OPENAI_CONCURRENCY"
ENV_IMAGES = "MULCOT_OPENAI_IMAGES"
#: what the OpenAI SDK and lm-eval read; used when the MULCOT_OPENAI_ variable is not set
FALLBACK_BASE_URL = "OPENAI_BASE_URL"
FALLBACK_API_KEY = "OPENAI_API_KEY"
#: off: never send images (plain-string messages); on: always send them; auto: send them, and fall back to text once
#: the server refuses content parts (a text-only model)
IMAGE_MODES = ("off", "auto", "on")
#: what a teacher keeps of a reply: "normalised" (a chain must have the five fields in order and a label in its
#: Prediction field, and is stored re-rendered in one form) or "raw" (the reply's text as it is, any reply in which
#: the released code's answer parser finds a label; a correction reply whatever it holds)
CHAIN_TEXTS = ("normalised", "raw")

TEACHER_KINDS = ("teacher_predict", "teacher_explain")
ZERO_SHOT_KINDS = ("reasoning", "label")


def normalise_base_url(url: str | None) -> str | None:
    """``http://host:8000/v1`` from what a user may type (trailing slash, the full completions path)."""
    if not url or not url.strip():
        return None
    url = url.strip().rstrip("/")
    for suffix in ("/chat/completions", "/completions"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    if not url.startswith(("http://", "https://")):
        raise UserError(f"{ENV_BASE_URL}={url!r} must start with http:// or https:// (e.g. http://127.0.0.1:8000/v1)")
    if "@" in url.split("://", 1)[1].split("/", 1)[0]:  # user:password@host would end up in results
        raise UserError(f"{ENV_BASE_URL} must not carry credentials (user:password@); put the key in {ENV_API_KEY}")
    return url


def api_key(env: Mapping[str, str] | None = None) -> str | None:
    """The key: ``MULCOT_OPENAI_API_KEY``, else ``OPENAI_API_KEY``; never stored anywhere."""
    env = os.environ if env is None else env
    return (env.get(ENV_API_KEY, "").strip() or env.get(FALLBACK_API_KEY, "").strip()) or None


def images_mode(env: Mapping[str, str]) -> str:
    mode = env.get(ENV_IMAGES, "").strip().lower() or "auto"
    if mode not in IMAGE_MODES:
        raise UserError(f"{ENV_IMAGES}={mode!r}; use one of {', '.join(IMAGE_MODES)}")
    return mode


def _number(env: Mapping[str, str], name: str, kind: type, default: Any) -> Any:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise UserError(f"{name}={raw!r} is not a valid {kind.__name__}") from None


def card_settings(kinds: tuple[str, ...], env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The card settings of an endpoint model from the environment (never the key)."""
    from mulcot_bench.plugin import LEVELS, template_hash

    env = os.environ if env is None else env
    prompt_files: dict[str, str] = {}
    folder = env.get(ENV_PROMPT_DIR, "").strip()
    if folder:
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise UserError(f"{ENV_PROMPT_DIR}={folder!r} is not a folder; point it at a folder of <kind>.j2 files")
        prompt_files = {k: str((path / f"{k}.j2").resolve()) for k in kinds if (path / f"{k}.j2").is_file()}
    return {
        "base_url": normalise_base_url(env.get(ENV_BASE_URL, "").strip() or env.get(FALLBACK_BASE_URL)),
        "model": env.get(ENV_MODEL, "").strip() or None,
        "temperature": _number(env, ENV_TEMPERATURE, float, 0.0),
        "max_tokens": _number(env, ENV_MAX_TOKENS, int, 1024),
        "seed": _number(env, ENV_SEED, int, None),
        "format_retries": 2,
        "images": images_mode(env),
        "chain_text": "normalised",
        # the prompt set ("project", "reference" or a folder, as for the trained models); prompt_files win over it
        "prompt_set": "project",
        "prompts": {f"{k}:{level}": template_hash(k, level, prompt_files.get(k)) for k in kinds for level in LEVELS},
        "prompt_files": prompt_files,
    }


@dataclass(frozen=True)
class Transport:
    """How requests are made: none of this changes an answer, so none of it is in the cache identity.

    ``max_attempts`` bounds the tries of one request on 429, 5xx, timeouts and dropped connections;
    backoff is exponential (``backoff_s * 2**n``, capped at ``backoff_max_s``) with jitter; a ``Retry-After``
    header is honoured up to ``retry_after_max_s``.
    """

    timeout_s: float = 120.0
    max_attempts: int = 5
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    retry_after_max_s: float = 300.0
    concurrency: int = 4

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, runtime: Mapping[str, Any] | None = None) -> Transport:
        """The card's runtime options (``-o MODEL.concurrency=2``) where set, else the environment, else defaults."""
        env = os.environ if env is None else env
        given = {k: v for k, v in (runtime or {}).items() if v is not None}
        try:
            out = cls(
                timeout_s=float(given.get("timeout_s", _number(env, ENV_TIMEOUT, float, cls.timeout_s))),
                max_attempts=int(given.get("max_attempts", _number(env, ENV_MAX_ATTEMPTS, int, cls.max_attempts))),
                concurrency=int(given.get("concurrency", _number(env, ENV_CONCURRENCY, int, cls.concurrency))),
            )
        except (TypeError, ValueError):
            bad = f"runtime options {given}: timeout_s must be a number, max_attempts and concurrency integers"
            raise UserError(bad) from None
        if out.timeout_s <= 0 or out.max_attempts < 1 or out.concurrency < 1:
            raise UserError(
                f"{ENV_TIMEOUT} (timeout_s) must be > 0, {ENV_MAX_ATTEMPTS} (max_attempts) and {ENV_CONCURRENCY} "
                "(concurrency) at least 1"
            )
        return out


#: the endpoint models' runtime options (-o MODEL.KEY=VALUE): null means the environment variable, else the default
#: ``latency_probe`` False: the run does not time extra single-item requests (each is a paid call); ``-o
#: openai-zero-shot.latency_probe=true`` turns it on
RUNTIME_OPTIONS: dict[str, Any] = {"concurrency": None, "timeout_s": None, "max_attempts": None, "latency_probe": False}
