"""Secrets never leave the process: values of secret-looking environment variables are masked in what a run writes.

A variable is secret when its name ends in ``KEY`` or contains ``TOKEN``, ``SECRET`` or ``PASSWORD``/``PASSWD``
(``MULCOT_OPENAI_API_KEY``, ``HF_TOKEN``, ``AWS_SECRET_ACCESS_KEY``) and its value is at least 8 characters.
Every occurrence of such a value in a model's outputs (before they are cached or journalled), in failure
reasons, in the exit summary and in ``results.json`` becomes ``[redacted $NAME]``. The leaderboard renders
from those files, so it never sees a secret either.
"""

from __future__ import annotations

import os
import re
from typing import Any

SECRET_NAME = re.compile(r"(KEY$|TOKEN|SECRET|PASSWORD|PASSWD)", re.IGNORECASE)
MIN_LENGTH = 8


def secrets() -> dict[str, str]:
    """Secret values of the environment by variable name (longest values first, so overlaps mask whole)."""
    found = {n: v for n, v in os.environ.items() if SECRET_NAME.search(n) and len(v.strip()) >= MIN_LENGTH}
    return dict(sorted(found.items(), key=lambda kv: -len(kv[1])))


def redact(text: str, values: dict[str, str] | None = None) -> str:
    """``text`` with every secret value replaced by ``[redacted $NAME]``."""
    for name, value in (secrets() if values is None else values).items():
        if value in text:
            text = text.replace(value, f"[redacted ${name}]")
    return text


def redact_obj(data: Any, values: dict[str, str] | None = None) -> Any:
    """A copy of a JSON-like value with every string (keys included) redacted."""
    values = secrets() if values is None else values
    if not values:
        return data
    if isinstance(data, str):
        return redact(data, values)
    if isinstance(data, dict):
        return {redact_obj(k, values): redact_obj(v, values) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [redact_obj(v, values) for v in data]
    return data
