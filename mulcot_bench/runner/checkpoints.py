"""Checkpoints evaluated without training: checked before any work, fingerprinted by content."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mulcot_bench.atomic import file_sha256
from mulcot_bench.cache import Cache, key
from mulcot_bench.errors import UserError
from mulcot_bench.plugin.registry import Registry
from mulcot_bench.plugin.specs import ModelSpec, resolve

MARKER = ".complete"  # the cache's own completion mark: not part of what a model saved


def check_checkpoints(registry: Registry, checkpoints: dict[str, Path]) -> None:
    """Each checkpoint exists and its model can ``load`` one; otherwise one line naming both (exit 2)."""
    for name, path in checkpoints.items():
        if not path.exists():
            raise UserError(
                f"checkpoint of {name!r} not found: {path}; pass a folder the model loads (what its save() wrote; "
                "see its plugin's README for other forms)"
            )
        factory = resolve(registry.model(name).factory)
        if isinstance(factory, type) and not hasattr(factory, "load"):
            raise UserError(f"model {name!r} cannot load a checkpoint (it has no load()); drop -o {name}.checkpoint")


def trainable(spec: ModelSpec, build: Callable[[], Any] | None = None) -> bool:
    """Whether a model has ``fit``, read from its class where the factory is one (else from ``build()``)."""
    factory = resolve(spec.factory)
    if isinstance(factory, type):
        return hasattr(factory, "fit")
    return hasattr(build() if build is not None else spec.build(), "fit")


def untrained(registry: Registry, names: list[str], checkpoints: dict[str, Path]) -> list[str]:
    """The trainable models among ``names`` that have no checkpoint (what ``--no-train`` refuses)."""
    return [name for name in names if name not in checkpoints and trainable(registry.model(name))]


def _files(path: Path) -> list[Path]:
    return [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() and p.name != MARKER)


def fingerprint(path: Path, cache: Cache | None = None) -> str:
    """sha256 over the relative names and contents of every file under ``path`` (or of the one file).

    With a cache, the digest is remembered under the files' names, sizes and modification times, so a large
    checkpoint is read once, and again only when a file of it changes.
    """
    files = _files(path)
    stamp = key(str(path.resolve()), [(str(f), st.st_size, st.st_mtime_ns) for f in files for st in [f.stat()]])
    known = cache.get("checkpoint-sha256", stamp) if cache is not None else None
    if isinstance(known, str):
        return known
    h = hashlib.sha256()
    for file in files:
        h.update(f"{file.relative_to(path) if file != path else file.name}\0".encode())
        file_sha256(file, h)
        h.update(b"\0")
    if cache is not None:
        cache.put("checkpoint-sha256", stamp, h.hexdigest())
    return h.hexdigest()
