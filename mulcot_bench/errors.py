"""User-facing errors: the CLI prints their message as one line and exits non-zero."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """A problem with the user's input or set-up; its message says what to do."""


class PluginError(UserError):
    """A plugin failed to load or to register."""


class ModelUnavailable(Exception):  # noqa: N818 - reads as a state, like FileNotFoundError
    """A model cannot run here (weights, endpoint or device missing); its message says how to make it available.

    The runner records it as a failure of that model only; the rest of the run goes on.
    """


class CallsFailed(ModelUnavailable):
    """Some of a model's requests got no answer at all (connection, 5xx, timeout after its retries).

    Those items are not answers: nothing of them is cached or journalled, and the next run asks them again.
    The runner records the model as failed (never a scored row).
    """


def unknown(kind: str, name: str, known: Iterable[str], hint: str) -> UserError:
    """An 'unknown NAME' error with a did-you-mean suggestion."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    maybe = f" Did you mean {close[0]!r}?" if close else ""
    return UserError(f"unknown {kind} {name!r}.{maybe} Known: {', '.join(known) or 'none'}. {hint}")


def describe(exc: BaseException, limit: int | None = None) -> str:
    """``"TypeName: message"``; with ``limit``, only its first line, cut to ``limit`` characters."""
    text = f"{type(exc).__name__}: {exc}"
    return text.splitlines()[0][:limit] if limit is not None else text
