"""The replay teacher's card settings: which datasets it serves and which declared files, pinned by sha256.

Two sources of chains:

* **the dataset's own chains** (``dataset_rationales``): the loader of Twitter-2015/2017 reads
  ``<data root>/<dataset>/teacher_cot/<split>.json`` and attaches each matched chain to its sample
  (``Sample.rationale``); replay serves those as they are. The files, their location and their matching
  are the loader's business, and they are part of the dataset's fingerprint in ``results.json``.
* **declared files** (``files``): MulCoT-RD JSON or JSONL files named in ``MULCOT_REPLAY_FILES``
  (``DATASET=PATH`` entries separated by ``os.pathsep``), indexed by sample content. Their sha256 is
  part of the card, so another file, or an edited one, is another cache identity.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mulcot_bench.plugin import UserError, file_sha256

ENV_FILES = "MULCOT_REPLAY_FILES"
ENV_FALLBACK = "MULCOT_REPLAY_FALLBACK"
# datasets whose loader attaches teacher_cot/<split>.json chains (never the embedded synthetic set)
DATASETS = ("twitter2015", "twitter2017")


def file_entry(dataset: str, path: str | Path) -> dict[str, Any]:
    """A declared file: dataset, absolute path and sha256 (None when the file is missing: an error on use)."""
    p = Path(path).expanduser().resolve()
    return {"dataset": dataset, "path": str(p), "sha256": file_sha256(p) if p.is_file() else None}


def parse_files(value: str) -> list[dict[str, Any]]:
    """``DATASET=PATH`` entries separated by ``os.pathsep``."""
    out = []
    for entry in (e.strip() for e in value.split(os.pathsep)):
        if not entry:
            continue
        dataset, sep, path = entry.partition("=")
        if not sep or not dataset.strip() or not path.strip():
            raise UserError(
                f"{ENV_FILES} entry {entry!r} must be DATASET=PATH (e.g. twitter2015=/data/train_cot.jsonl); "
                f"separate entries with {os.pathsep!r}"
            )
        out.append(file_entry(dataset.strip(), path.strip()))
    return out


def replay_settings(
    files: list[dict[str, Any]] | None = None,
    fallback: str | None = None,
    datasets: tuple[str, ...] = DATASETS,
    dataset_rationales: bool = True,
) -> dict[str, Any]:
    """Card settings of a replay teacher (use :func:`file_entry` to declare files in a card of your own)."""
    return {
        "datasets": list(datasets),
        "dataset_rationales": dataset_rationales,
        "files": list(files or []),
        "fallback": fallback or None,
    }


def settings_from_env(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if env is None else env
    return replay_settings(parse_files(env.get(ENV_FILES, "")), env.get(ENV_FALLBACK, "").strip() or None)
