"""Machine-local folders out of a published report: the report's view of a run names the data root as
``<data root>``, the cache as ``<cache>``, the runs and reports folders as ``<runs>`` and ``<reports>``,
and the home folder as ``~``, wherever a path appears (notes, provenance, command lines, checkpoints).

``results.json`` itself keeps the full paths; :func:`published` rewrites the copy the report renders, and
:meth:`Places.local` maps a rewritten path back for the report's own use (finding a dataset's images).
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mulcot_bench.paths import default_cache_dir, default_data_root
from mulcot_bench.results import RunResults

DATA_ROOT = "<data root>"
CACHE = "<cache>"
RUNS = "<runs>"
REPORTS = "<reports>"
HOME = "~"
OPTIONS = {"--data-root": DATA_ROOT, "--cache-dir": CACHE, "--runs-dir": RUNS, "--reports-dir": REPORTS}
_END = r"(?=$|[/\s\"'(),;:\]])"  # a path prefix ends at a separator, never inside a longer name


@dataclass
class Places:
    """Absolute folder -> its shown name, tried longest first."""

    roots: dict[str, str] = field(default_factory=dict)

    def add(self, folder: str | os.PathLike[str] | None, name: str) -> None:
        """Add an absolute folder (a relative or root folder names nothing machine-local; skipped)."""
        if not folder:
            return
        text = os.path.normpath(str(folder))
        if os.path.isabs(text) and text != os.sep and text not in self.roots:
            self.roots[text] = name

    def short(self, text: str) -> str:
        """``text`` with every known absolute folder replaced by its shown name."""
        for root in sorted(self.roots, key=len, reverse=True):
            if root in text:
                text = re.sub(re.escape(root) + _END, lambda _m, r=root: self.roots[r], text)
        return text

    def local(self, text: str | None) -> Path | None:
        """A shown path back on this machine (the first folder that carries its leading name)."""
        if not text:
            return None
        head, _, rest = text.partition("/")
        for root, name in self.roots.items():
            if name == head:
                return Path(root) / rest if rest else Path(root)
        return Path(text)


def _command_folders(command: str) -> dict[str, str]:
    """The folder options (``--data-root X``, ``--cache-dir=X``...) of a recorded command line."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    found: dict[str, str] = {}
    for i, word in enumerate(words):
        option, eq, value = word.partition("=")
        if option in OPTIONS and not eq and i + 1 < len(words):
            value = words[i + 1]
        if option in OPTIONS and value:
            found.setdefault(option, value)
    return found


def places_of(results: RunResults, run_dir: Path) -> Places:
    """The machine-local folders a run names: its options, what its records imply, this machine's defaults."""
    places = Places()
    prov = results.provenance
    commands = [prov.command, *(shlex.join(j.command) for j in (prov.launcher.jobs if prov.launcher else []))]
    for command in commands:
        for option, value in _command_folders(command).items():
            places.add(value, OPTIONS[option])
    for record in results.datasets:
        if record.path and PurePosixPath(record.path).name == record.name:
            places.add(str(PurePosixPath(record.path).parent), DATA_ROOT)
    for entry in results.entries:
        parts = PurePosixPath(entry.checkpoint or "").parts
        if "artifacts" in parts:
            places.add(str(PurePosixPath(*parts[: parts.index("artifacts")])), CACHE)
    places.add(Path(run_dir).absolute().parent, RUNS)
    places.add(default_data_root(), DATA_ROOT)
    places.add(default_cache_dir(), CACHE)
    places.add(Path.home(), HOME)
    return places


def _rewrite(value: Any, places: Places) -> Any:
    """Every string inside ``value`` (dicts, lists, nested) with its folders shortened."""
    if isinstance(value, str):
        return places.short(value)
    if isinstance(value, dict):
        return {places.short(k) if isinstance(k, str) else k: _rewrite(v, places) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, places) for v in value]
    return value


def published(results: RunResults, places: Places) -> RunResults:
    """A copy of ``results`` with no machine-local folder in any string."""
    return RunResults.model_validate(_rewrite(results.model_dump(mode="json"), places))
