"""Dataset manifests: where each real dataset comes from and what its files must hold.

The source of truth is ``datasets/<name>.json`` in the repository; ``mulcot_bench/data/manifests/`` holds a
byte-identical copy shipped as package data (a test keeps the two equal), read here via importlib.resources.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mulcot_bench.errors import UserError

SPLITS = ("train", "dev", "test")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileEntry(_Strict):
    """One text file of the dataset: where it goes, where it comes from, and its sha256."""

    path: str  # relative to the dataset folder
    url: str | None = None
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    kind: Literal["split", "rationales"] = "split"
    split: Literal["train", "dev", "test"] | None = None
    rows: int | None = None


class SplitEntry(_Strict):
    rows: int
    labels: dict[str, int]


class ImagesEntry(_Strict):
    """Where the images come from (they are not fetched: upstream hosts them as manual downloads)."""

    folder: str = "images"
    naming: str
    files: int | None = None
    how_to_get: str
    upstream_folders: list[str] = Field(default_factory=list)


class Manifest(_Strict):
    name: str
    title: str
    level: Literal["post", "aspect"]
    format: Literal["tomb-tsv", "clmlf-json"]
    label_map: dict[str, str]
    splits: dict[str, SplitEntry]
    files: list[FileEntry]
    images: ImagesEntry
    rationales: dict[str, int] = Field(default_factory=dict)
    homepage: str
    licence: str
    citation: list[str]


def manifest_names() -> list[str]:
    """Names of the datasets that have a packaged manifest."""
    folder = resources.files("mulcot_bench.data") / "manifests"
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


def load_manifest(name: str) -> Manifest:
    """The packaged manifest of dataset ``name``; unknown names raise a :class:`UserError`."""
    res = resources.files("mulcot_bench.data") / "manifests" / f"{name}.json"
    if not res.is_file():
        raise UserError(f"no manifest for dataset {name!r}; known: {', '.join(manifest_names())}")
    return parse_manifest(res.read_text(encoding="utf-8"), f"manifest {name}.json")


def parse_manifest(text: str, source: str) -> Manifest:
    """A manifest from JSON text; bad JSON, unknown keys and wrong types raise one line naming ``source``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{source}:{exc.lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise UserError(f"{source}: {_first_problem(exc)}; fix the manifest") from None


def _first_problem(exc: ValidationError) -> str:
    """The first validation error as 'key files.0.rows: ...' ('and N more' when there are others)."""
    errors = exc.errors()
    err = errors[0]
    where = ".".join(str(p) for p in err["loc"]) or "top level"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if err["type"] == "extra_forbidden":
        return f"unknown key {where!r}{more}"
    if err["type"] == "missing":
        return f"missing key {where!r}{more}"
    return f"key {where!r}: {err['msg'].lower()}, got {err['input']!r:.60}{more}"
