"""User-facing errors: the CLI prints their message as one line and exits non-zero."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """A problem with the user's input or set-up; its message says what to do."""


class PluginError(UserError):
    """A plugin failed to load or to register."""


def unknown(kind: str, name: str, known: Iterable[str], hint: str) -> UserError:
    """An 'unknown NAME' error with a did-you-mean suggestion."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    maybe = f" Did you mean {close[0]!r}?" if close else ""
    return UserError(f"unknown {kind} {name!r}.{maybe} Known: {', '.join(known) or 'none'}. {hint}")
