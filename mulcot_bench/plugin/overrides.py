"""Model arguments from the command line: ``-o MODEL.KEY=VALUE`` put on the registered cards.

A key must be a setting the model's card declares (a card holds every option that changes the model's
output, so an overridden value changes the model's cache identity and is recorded with its results), a runtime
option the card declares (how the model runs, never what it answers: outside the identity), or ``checkpoint``: a
folder the model's ``save()`` wrote, evaluated without training.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mulcot_bench.errors import UserError
from mulcot_bench.plugin.registry import Registry
from mulcot_bench.plugin.specs import ModelSpec
from mulcot_bench.prompts import refresh_digests

CHECKPOINT = "checkpoint"
EXAMPLE = "-o tiny-vlm-student.lr=0.001"
TRUE = {"true", "yes", "on", "1"}
FALSE = {"false", "no", "off", "0"}


@dataclass
class ModelArgs:
    """Parsed ``-o`` values: per model, the card settings and runtime options to replace and the checkpoint."""

    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    runtime: dict[str, dict[str, Any]] = field(default_factory=dict)
    checkpoints: dict[str, Path] = field(default_factory=dict)


def parse_model_args(items: list[str] | tuple[str, ...], registry: Registry) -> ModelArgs:
    """Read ``MODEL.KEY=VALUE`` items against the registry; a bad one is one line naming it (exit 2)."""
    out = ModelArgs()
    for item in items:
        target, eq, raw = item.partition("=")
        model, dot, setting = target.strip().rpartition(".")  # model names may hold dots, keys never do
        if not eq or not dot or not model or not setting:
            raise UserError(f"-o {item!r}: expected MODEL.KEY=VALUE (e.g. {EXAMPLE})")
        try:
            spec = registry.model(model)
        except UserError as exc:
            raise UserError(f"-o {item!r}: {exc}") from None
        if setting == CHECKPOINT:
            if not raw:
                raise UserError(f"-o {item!r}: give the checkpoint folder, e.g. -o {model}.checkpoint=PATH")
            out.checkpoints[model] = Path(raw).expanduser()
            continue
        known, runtime = spec.card.settings, spec.card.runtime
        if setting in runtime:
            out.runtime.setdefault(model, {})[setting] = coerce(raw, runtime[setting], item)
            continue
        if setting not in known:
            keys = [*sorted(known), *sorted(runtime), CHECKPOINT]
            valid = f"its keys are {', '.join(keys)}" if len(keys) > 1 else "only checkpoint applies"
            raise UserError(f"-o {item!r}: model {model!r} has no setting {setting!r}; {valid}")
        out.settings.setdefault(model, {})[setting] = coerce(raw, known[setting], item)
    return out


def apply_model_args(registry: Registry, args: ModelArgs) -> Registry:
    """Put the overridden settings and runtime options on the registered cards (in place); returns the registry."""
    for model in {**args.settings, **args.runtime}:
        spec = registry.model(model)
        card = replace(
            spec.card,
            settings=refresh_digests({**spec.card.settings, **args.settings.get(model, {})}),
            runtime={**spec.card.runtime, **args.runtime.get(model, {})},
        )
        registry.models[model] = ModelSpec(card, spec.factory)
    return registry


def coerce(raw: str, default: Any, item: str) -> Any:
    """``raw`` as the type of the setting's default value (JSON where the default is None or a container)."""
    text = raw.strip()
    if default is not None and not isinstance(default, str) and text.lower() in ("none", "null"):
        return None
    try:
        if isinstance(default, bool):
            if text.lower() in TRUE | FALSE:
                return text.lower() in TRUE
            raise ValueError
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, str):
            return raw
        if isinstance(default, (list, tuple, dict)):
            value = json.loads(text)
            if not isinstance(value, dict if isinstance(default, dict) else list):
                raise ValueError
            return value
    except ValueError:
        kind = _kind(default)
        raise UserError(f"-o {item!r}: expected {kind} (the default is {json.dumps(default)})") from None
    try:  # default None: a JSON value if it reads as one, else the text
        return json.loads(text)
    except ValueError:
        return raw


def _kind(default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, dict):
        return "a JSON object"
    return "a JSON list"
