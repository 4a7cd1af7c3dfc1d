"""The distillation config: a TOML file of data (no code), validated with pydantic, and its shipped profiles.

A config names the teacher, the assistant and the student by their registered model names and sets their
hyper-parameters. Typed sections (``training``, ``lora``, ``kd``, ``generation``, ``images``) map one to one onto
model settings (:data:`SETTING_KEYS`); a free ``settings`` table passes model-specific settings through as they
are. Only what a file sets is applied: anything left out keeps the registered model's own default, so a
profile that sets nothing reproduces ``mulcot-bench run`` exactly (same settings, same cache identities).

A user's file may start from a profile with ``extends = "cpu-tiny"`` and override any part of it. Unknown keys
and wrong types are one-line errors naming the file and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mulcot_bench.errors import UserError
from mulcot_bench.prompts import refresh_digests

PROFILES_PACKAGE = "mulcot_bench.distill"
AUGMENT_TEMPERATURE = 0.7  # what mulcot_bench.runner.pipeline samples at (checked against it when a config is applied)

#: typed field (section.field) -> the model setting it sets
SETTING_KEYS: dict[str, str] = {
    "training.epochs": "epochs",
    "training.lr": "lr",
    "training.batch_size": "batch_size",
    "training.grad_accum": "grad_accum",
    "training.weight_decay": "weight_decay",
    "training.grad_clip": "grad_clip",
    "training.plateau_patience": "plateau_patience",
    "training.plateau_factor": "plateau_factor",
    "training.min_lr": "min_lr",
    "training.loss_scaling": "loss_scaling",
    "training.select_ties": "select_ties",
    "training.accum_count": "accum_count",
    "lora.r": "lora_r",
    "lora.alpha": "lora_alpha",
    "lora.dropout": "lora_dropout",
    "lora.targets": "lora_targets",
    "lora.scope": "lora_scope",
    "kd.lambda": "kd_lambda",
    "kd.temperature": "kd_temperature",
    "kd.t2": "kd_t2",
    "kd.mask": "kd_mask",
    "kd.source": "kd_source",
    "kd.top_k": "kd_top_k",
    "kd.hidden_weight": "kd_hidden_weight",
    "kd.vocab": "kd_vocab",
    "kd.vocab_init": "kd_vocab_init",
    "kd.assistant_mode": "kd_assistant_mode",
    "generation.max_new_tokens": "max_new_tokens",
    "generation.max_label_tokens": "max_label_tokens",
    "generation.label_format": "label_format",
    "generation.target_end": "target_end",
    "generation.top_k": "top_k",
    "generation.repetition_penalty": "repetition_penalty",
    "generation.label_parser": "label_parser",
    "prompts.set": "prompts",
    "images.resize": "image_resize",
}

#: teacher field -> the setting of the teacher's card it sets (the ``openai`` teacher has both)
TEACHER_SETTING_KEYS: dict[str, str] = {"prompts.set": "prompt_set", "chain_text": "chain_text"}


SECTIONS: tuple[str, ...] = ("training", "lora", "kd", "generation", "images", "prompts")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False)


class Training(_Strict):
    """The optimiser and its schedule. The optimiser is always AdamW; the LR halves on a dev-accuracy plateau."""

    optimizer: Literal["adamw"] = "adamw"
    epochs: int | None = Field(default=None, ge=1)
    lr: float | None = Field(default=None, gt=0)
    batch_size: int | None = Field(default=None, ge=1)
    grad_accum: int | None = Field(default=None, ge=1)
    weight_decay: float | None = Field(default=None, ge=0)
    grad_clip: float | None = Field(default=None, ge=0)
    plateau_patience: int | None = Field(default=None, ge=0)
    plateau_factor: float | None = Field(default=None, gt=0, le=1)
    min_lr: float | None = Field(default=None, ge=0)
    loss_scaling: Literal["mean", "sum"] | None = None
    select_ties: Literal["macro-f1-loss", "field-metric"] | None = None
    # gradient accumulation: "per-epoch" (leftover micro-batches stepped) or "global" (one count over all epochs)
    accum_count: Literal["per-epoch", "global"] | None = None


class Lora(_Strict):
    r: int | None = Field(default=None, ge=1)
    alpha: int | None = Field(default=None, ge=1)
    dropout: float | None = Field(default=None, ge=0, lt=1)
    targets: list[str] | None = None
    scope: Literal["language", "all"] | None = None


class KD(_Strict):
    """The student's loss: (1 - lambda) * CE + lambda * [T^2] * KL(softmax(z_a/T) || softmax(z_s/T)) per task."""

    lam: float | None = Field(default=None, alias="lambda", ge=0, le=1)
    temperature: float | None = Field(default=None, gt=0)
    t2: bool | None = None
    mask: Literal["targets", "reference"] | None = None
    source: Literal["live", "cached"] | None = None
    top_k: int | None = Field(default=None, ge=0)
    hidden_weight: float | None = Field(default=None, ge=0)
    vocab: Literal["shared-prefix", "resize"] | None = None
    vocab_init: Literal["zero", "mean"] | None = None  # the resized rows (vocab = "resize")
    assistant_mode: Literal["eval", "lora-dropout"] | None = None  # the frozen assistant's mode during KD


class Generation(_Strict):
    decoding: Literal["greedy"] = "greedy"
    max_new_tokens: int | None = Field(default=None, ge=1)
    max_label_tokens: int | None = Field(default=None, ge=1)
    label_format: Literal["quoted", "bare"] | None = None
    target_end: Literal["end-of-turn", "pad"] | None = None
    top_k: int | None = Field(default=None, ge=0)  # sampling (augmentation): 0 = no cut, 1 = greedy in effect
    repetition_penalty: float | None = Field(default=None, gt=0)  # every generation (1.0: none)
    label_parser: Literal["project", "released"] | None = None  # how the label prompt's reply is read


class Prompts(_Strict):
    """The prompt set: "project", "reference" (shipped) or a folder (ours, or a copy of the release)."""

    set: str | None = None


class Images(_Strict):
    resize: int | None = Field(default=None, ge=1)


class Stage(_Strict):
    """One trained role: its registered model and what to set on it."""

    model: str
    training: Training = Field(default_factory=Training)
    lora: Lora = Field(default_factory=Lora)
    kd: KD = Field(default_factory=KD)
    generation: Generation = Field(default_factory=Generation)
    images: Images = Field(default_factory=Images)
    prompts: Prompts = Field(default_factory=Prompts)
    settings: dict[str, Any] = Field(default_factory=dict)


class Augmentation(_Strict):
    samples_per_item: Literal[1] = 1
    temperature: float = AUGMENT_TEMPERATURE
    keep: Literal["prediction equals gold"] = "prediction equals gold"


class Teacher(_Strict):
    """Stage 1. ``prompts`` and ``chain_text`` are settings of the teacher's card (the ``openai`` teacher's
    ``prompt_set`` and ``chain_text``); ``chains = "dataset"`` asks no teacher and trains on the chains the dataset
    carries (``datasets import-rationales``), as they are."""

    model: str | None = None  # None: the first registered teacher that serves the dataset
    correction: Literal["explain the gold label"] = "explain the gold label"
    prompts: Prompts = Field(default_factory=Prompts)
    chain_text: Literal["normalised", "raw"] | None = None
    chains: Literal["teacher", "dataset"] = "teacher"


class DistillConfig(_Strict):
    """A whole distillation: teacher -> assistant -> augmentation -> student."""

    profile: str | None = None
    description: str = ""
    extends: str | None = None
    seed: int = 42
    # which training chains stages 1 and 2b keep (mulcot_bench.runner.stages.CHAIN_FILTERS)
    chain_filter: Literal["five-fields", "reference"] = "five-fields"
    teacher: Teacher = Field(default_factory=Teacher)
    assistant: Stage
    augmentation: Augmentation = Field(default_factory=Augmentation)
    student: Stage
    notes: list[str] = Field(default_factory=list)


# loading ----------------------------------------------------------------------------------------------
def profile_names() -> list[str]:
    """The shipped profiles (``profiles/*.toml`` package data)."""
    folder = resources.files(PROFILES_PACKAGE) / "profiles"
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def _profile_text(name: str) -> tuple[str, str]:
    folder = resources.files(PROFILES_PACKAGE) / "profiles"
    path = folder / f"{name}.toml"
    if not path.is_file():
        raise UserError(f"unknown distillation profile {name!r}; choose one of {', '.join(profile_names())}")
    return path.read_text(encoding="utf-8"), f"profile {name} ({path})"


def parse_toml(text: str, where: str) -> dict[str, Any]:
    """``text`` as TOML (data only); invalid TOML is one line naming ``where`` and the error's line and column."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{where}: not valid TOML: {exc}") from exc


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _validate(data: dict[str, Any], where: str) -> DistillConfig:
    try:
        return DistillConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        got = "" if first["type"] in ("extra_forbidden", "missing") else f" (got {first.get('input')!r})"
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise UserError(f"{where}: {loc}: {msg}{got}{more}") from None


@dataclass
class Loaded:
    """A validated config, what it was read from, and the raw keys each source set."""

    config: DistillConfig
    sources: list[str]
    raw: dict[str, Any]


def load_config(profile: str | None = None, path: Path | None = None) -> Loaded:
    """The profile, the user's file over it (or over the profile it ``extends``), validated."""
    if profile is None and path is None:
        raise UserError(f"say which config: --profile NAME ({', '.join(profile_names())}) and/or --config FILE")
    data: dict[str, Any] = {}
    sources: list[str] = []
    user: dict[str, Any] | None = None
    user_where = ""
    if path is not None:
        if not Path(path).is_file():
            raise UserError(f"config file {path} does not exist")
        user_where = f"config {path}"
        user = parse_toml(Path(path).read_text(encoding="utf-8"), user_where)
        extends = user.get("extends")
        if extends is not None and not isinstance(extends, str):
            raise UserError(f"{user_where}: extends: must be a profile name (a string)")
        if extends and profile and extends != profile:
            raise UserError(f"{user_where}: extends {extends!r} but --profile {profile!r} was given; use one of them")
        profile = profile or extends
    if profile is not None:
        text, where = _profile_text(profile)
        data = parse_toml(text, where)
        _validate(data, where)
        sources.append(where)
    if user is not None:
        _validate(_merge(data, user) if profile else user, user_where)
        data = _merge(data, user)
        sources.append(user_where)
    where = sources[-1]
    config = _validate(data, where)
    if config.augmentation.temperature != AUGMENT_TEMPERATURE:
        raise UserError(
            f"{where}: augmentation.temperature: the pipeline samples at {AUGMENT_TEMPERATURE}; "
            f"another temperature is not supported yet (got {config.augmentation.temperature})"
        )
    return Loaded(config, sources, data)


# applying -----------------------------------------------------------------------------------------------
def stage_overrides(stage: Stage, origin: dict[str, str] | None = None) -> dict[str, Any]:
    """The model settings a stage sets: its typed fields (only those written) and its free ``settings``.

    ``origin`` (if given) receives, for each setting, the config key that set it.
    """
    out: dict[str, Any] = {}
    where: dict[str, str] = {}
    for section in SECTIONS:
        part: BaseModel = getattr(stage, section)
        written = part.model_dump(by_alias=True, exclude_unset=True)
        for name, value in written.items():
            setting = SETTING_KEYS.get(f"{section}.{name}")
            if setting is not None and value is not None:
                out[setting] = value
                where[setting] = f"{section}.{name}"
    for name, value in stage.settings.items():
        if name in out and out[name] != value:
            raise UserError(f"setting {name!r} is set by both {where[name]} and settings.{name}, with different values")
        out[name] = value
        where.setdefault(name, f"settings.{name}")
    if origin is not None:
        origin.update(where)
    return out


def apply(config: DistillConfig, registry: Any, where: str) -> Any:
    """Put the config's settings on the registered cards of the assistant and the student (in place).

    Every set key must be a setting the model's card declares (a card holds every option that changes its
    output); the student is pointed at the config's assistant. Returns the registry.
    """
    from mulcot_bench.plugin.specs import ModelSpec

    for role in ("assistant", "student"):
        stage: Stage = getattr(config, role)
        spec = registry.model(stage.model)
        origin: dict[str, str] = {}
        try:
            overrides = stage_overrides(stage, origin)
        except UserError as exc:
            raise UserError(f"{where}: {role}: {exc}") from None
        unknown = sorted(set(overrides) - set(spec.card.settings))
        if unknown:
            more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
            raise UserError(
                f"{where}: {role}.{origin[unknown[0]]}: model {stage.model!r} has no setting {unknown[0]!r}{more}; "
                f"its settings are {', '.join(sorted(spec.card.settings))}"
            )
        card = replace(spec.card, settings=refresh_digests({**spec.card.settings, **overrides}))
        if role == "student":
            card = replace(card, assistant=config.assistant.model)
        registry.models[stage.model] = ModelSpec(card, spec.factory)
    teacher = teacher_overrides(config.teacher)
    if config.teacher.model is not None:
        spec = registry.model(config.teacher.model)
        missing = sorted(set(teacher) - set(spec.card.settings))
        if missing:
            field = next(k for k, v in TEACHER_SETTING_KEYS.items() if v == missing[0])
            raise UserError(
                f"{where}: teacher.{field}: teacher {config.teacher.model!r} has no setting {missing[0]!r}; "
                f"its settings are {', '.join(sorted(spec.card.settings))}"
            )
        if teacher:
            card = replace(spec.card, settings=refresh_digests({**spec.card.settings, **teacher}))
            registry.models[config.teacher.model] = ModelSpec(card, spec.factory)
    elif teacher:
        raise UserError(f"{where}: teacher.prompts and teacher.chain_text need teacher.model (the teacher to set)")
    return registry


def teacher_overrides(teacher: Teacher) -> dict[str, Any]:
    """The teacher card's settings the config sets (only those written)."""
    out: dict[str, Any] = {}
    if teacher.prompts.set is not None:
        out["prompt_set"] = teacher.prompts.set
    if teacher.chain_text is not None:
        out["chain_text"] = teacher.chain_text
    return out


# printing ---------------------------------------------------------------------------------------------
def resolved_rows(config: DistillConfig, raw: dict[str, Any], registry: Any | None) -> list[tuple[str, Any, str]]:
    """(field, value, where the value comes from) for every field, in file order."""
    rows: list[tuple[str, Any, str]] = [
        ("profile", config.profile, "config"),
        ("seed", config.seed, "config" if "seed" in raw else "default"),
        ("chain_filter", config.chain_filter, "config -> pipeline" if "chain_filter" in raw else "default -> pipeline"),
        ("teacher.model", config.teacher.model, "config" if config.teacher.model else "first teacher serving the data"),
        ("teacher.correction", config.teacher.correction, "fixed: the teacher's teacher_explain prompt"),
        ("teacher.chains", config.teacher.chains, "config -> pipeline" if "chains" in raw.get("teacher", {})
         else "default -> pipeline"),
    ]
    teacher_card = None
    if registry is not None and config.teacher.model in getattr(registry, "models", {}):
        teacher_card = registry.models[config.teacher.model].card.settings
    written = raw.get("teacher", {})
    for field, setting in TEACHER_SETTING_KEYS.items():
        section, _, key = field.rpartition(".")
        value = getattr(config.teacher.prompts, key) if section else getattr(config.teacher, key)
        set_here = key in (written.get(section, {}) if section else written)
        if set_here:
            rows.append((f"teacher.{field}", value, f"config -> setting {setting}"))
        elif teacher_card is None:
            rows.append((f"teacher.{field}", None, f"teacher default (setting {setting}; teacher not registered here)"))
        elif setting in teacher_card:
            rows.append((f"teacher.{field}", teacher_card[setting], f"teacher default (setting {setting})"))
        else:
            rows.append((f"teacher.{field}", None, f"not a setting of {config.teacher.model}"))
    for role in ("assistant", "student"):
        stage: Stage = getattr(config, role)
        card_settings = None
        if registry is not None and stage.model in registry.models:
            card_settings = registry.models[stage.model].card.settings
        rows.append((f"{role}.model", stage.model, "config"))
        written = raw.get(role, {})
        for section in SECTIONS:
            part = getattr(stage, section)
            for name, field in type(part).model_fields.items():
                key = field.alias or name
                value = getattr(part, name)
                setting = SETTING_KEYS.get(f"{section}.{key}")
                label = f"{role}.{section}.{key}"
                if key in written.get(section, {}):
                    rows.append((label, value, f"config -> setting {setting}" if setting else "config"))
                elif setting is None:
                    rows.append((label, value, "fixed"))
                elif card_settings is None:
                    rows.append((label, None, f"model default (setting {setting}; model not registered here)"))
                elif setting in card_settings:
                    rows.append((label, card_settings[setting], f"model default (setting {setting})"))
                else:
                    rows.append((label, None, f"not a setting of {stage.model}"))
        for name, value in sorted(stage.settings.items()):
            rows.append((f"{role}.settings.{name}", value, "config"))
    rows.append(("augmentation.samples_per_item", config.augmentation.samples_per_item, "fixed"))
    rows.append(("augmentation.temperature", config.augmentation.temperature, "pipeline"))
    keep = "prediction parsed from the chain equals gold" if config.chain_filter == "reference" else (
        "five fields and their Prediction equals gold")
    rows.append(("augmentation.keep", keep, "chain_filter"))
    return rows


def config_text(loaded: Loaded, registry: Any | None, protocol: str | None = None) -> str:
    """The resolved config, one ``field = value`` line each, with where each value comes from, then the reference
    protocol's points (:mod:`mulcot_bench.distill.protocol`); ``protocol`` is the data view (``--protocol``)."""
    from mulcot_bench.distill.protocol import points_text

    config = loaded.config
    lines = [f"# distillation config from {' + '.join(loaded.sources)}"]
    if config.description:
        lines.append(f"# {config.description}")
    rows = resolved_rows(config, loaded.raw, registry)
    width = max(len(r[0]) for r in rows)
    for name, value, source in rows:
        lines.append(f"{name.ljust(width)} = {_fmt(value):<24} # {source}")
    if protocol is not None:
        view = {"reference": "the dataset's own splits (train trains, dev selects, test scores), as the reference",
                "released-rationales": "Twitter-2015 as its released chains allow (not the reference's data)"}
        lines.append(f"# data view: --protocol {protocol}: {view.get(protocol, protocol)}")
    lines.extend(points_text(rows, _fmt))
    for note in config.notes:
        lines.append(f"# note: {note}")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return repr(value)
