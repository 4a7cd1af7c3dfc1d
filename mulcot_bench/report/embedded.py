"""Images of the embedded ``synthetic`` set, drawn again for the report's thumbnails.

A run folder holds no images of the embedded set: they are generated from a seed. The report draws each
referenced post again (:func:`mulcot_bench.data.synthetic.post_samples`) with the run's
``--synthetic-seed`` (read from its recorded command; the default otherwise) and uses the image only when
the drawn sample matches the prediction record (same id, target, reference chain and, where the record has
one, text), so a thumbnail can never show another sample's image.
"""

from __future__ import annotations

import inspect
import shlex
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

EMBEDDED_IMAGES = ("synthetic",)  # embedded datasets whose images the report can draw again
FIELDS = ("target", "reference", "text")
ImageSource = Callable[[str, dict[str, Any]], bytes | None]


def command_seed(command: str) -> int | None:
    """The ``--synthetic-seed`` value of a recorded ``mulcot-bench run`` command line, if it set one."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    for i, word in enumerate(words):
        value = word.partition("=")[2] if word.startswith("--synthetic-seed=") else None
        if word == "--synthetic-seed" and i + 1 < len(words):
            value = words[i + 1]
        if value is not None:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _matches(sample: Any, record: dict[str, Any]) -> bool:
    drawn = {"target": sample.target, "reference": sample.rationale, "text": sample.text}
    present = [f for f in FIELDS if record.get(f)]  # an image-only ablation's text is blank: not compared
    return bool(present) and all(record[f] == drawn[f] for f in present)


def synthetic_source(command: str) -> ImageSource:
    """The image bytes of a ``synthetic/<post>.png`` reference, drawn again and checked against its record;
    None when the reference is not a post of the set or no seed draws a matching sample."""
    from mulcot_bench.data.synthetic import NAME, generate, post_samples

    default = inspect.signature(generate).parameters["seed"].default
    seeds = list(dict.fromkeys(s for s in (command_seed(command), default) if s is not None))

    def source(ref: str, record: dict[str, Any]) -> bytes | None:
        path = PurePosixPath(ref)
        if path.parent.as_posix() != NAME or path.suffix != ".png":
            return None
        for seed in seeds:
            for room in (2, 1):
                try:
                    drawn = post_samples(seed, path.stem, room)
                except ValueError:
                    return None
                found = next((s for s in drawn if s.id == record.get("id")), None)
                if found is not None and _matches(found, record):
                    return found.image
        return None

    return source
