"""``mulcot-bench score``: predictions made elsewhere, scored as a row of the suite's own.

The file (JSONL: ``id``, ``label``, optionally ``rationale``) becomes a tiny in-memory model, registered under
the plugin name ``file`` with role ``baseline``, whose ``predict`` returns the file's answers. It runs through
the normal :func:`~mulcot_bench.runner.orchestrate.run` with training off, so the row gets the same metrics,
bootstrap intervals, ``results.json`` entry, predictions file and leaderboard as any other model. The entry
records the file: ``plugin`` ``"file"``, ``settings`` ``{"sha256", "missing"}`` (the file's content is the
model's cache identity) and ``runtime`` ``{"file": path}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from mulcot_bench.atomic import file_sha256
from mulcot_bench.console.logs import warn
from mulcot_bench.errors import UserError
from mulcot_bench.labels import LABELS
from mulcot_bench.plugin.loading import PluginInfo
from mulcot_bench.plugin.registry import Registry
from mulcot_bench.plugin.specs import ModelSpec
from mulcot_bench.runner.intake import Taken
from mulcot_bench.runner.options import RunOptions, RunOutcome
from mulcot_bench.types import ModelCard, Prediction, Sample, Splits

PLUGIN = "file"  # the plugin name of every row scored from a file
SHAPE = 'one JSON object per line: {"id": "<test item id>", "label": "positive|neutral|negative", "rationale": "..."}'


@dataclass(frozen=True)
class Answer:
    """One line of the file: the answer to one test item, and where it was read."""

    line: int
    label: str | None  # None: an explicit null (no answer parsed), scored as invalid
    rationale: str | None = None


def read_answers(path: Path) -> dict[str, Answer]:
    """The file's answers by item id; a line that is not JSON, a bad field or a repeated id is one line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file; pass the JSONL file of predictions to score") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text ({exc.reason}); write the file as UTF-8 JSONL") from None
    answers: dict[str, Answer] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        if raw.strip():
            item_id, answer = _parse_line(path, number, raw)
            if item_id in answers:
                raise UserError(
                    f"{path} line {number}: duplicate id {item_id!r} (first on line {answers[item_id].line}); "
                    "keep one answer per test item"
                )
            answers[item_id] = answer
    if not answers:
        raise UserError(f"{path}: no predictions in the file; write {SHAPE}")
    return answers


def _parse_line(path: Path, number: int, raw: str) -> tuple[str, Answer]:
    """One line's (id, answer); anything malformed raises naming the file and line."""
    where = f"{path} line {number}"
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UserError(f"{where}: not JSON ({exc.msg}, column {exc.colno}); write {SHAPE}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str | int) or isinstance(obj.get("id"), bool):
        raise UserError(f'{where}: expected a JSON object with a string "id"; write {SHAPE}')
    item_id, label, rationale = str(obj["id"]), obj.get("label"), obj.get("rationale")
    if label is not None and (not isinstance(label, str) or label.strip().lower() not in LABELS):
        raise UserError(
            f"{where}: unknown label {label!r} for id {item_id!r}; use one of {', '.join(LABELS)} "
            "(or null for an answer that could not be parsed, scored as invalid)"
        )
    if rationale is not None and not isinstance(rationale, str):
        raise UserError(f'{where}: "rationale" of id {item_id!r} must be a string (the reasoning chain) or null')
    return item_id, Answer(number, label.strip().lower() if label is not None else None, rationale)


def check_ids(path: Path, answers: dict[str, Answer], data: Splits, allow_partial: bool) -> int:
    """Every id must be a test item of ``data``; returns how many test items have no answer (refused unless
    ``allow_partial``)."""
    test = {s.id for s in data.test}
    others = {s.id: split for split in ("train", "dev") for s in data.split(split)}
    for item_id, answer in sorted(answers.items(), key=lambda kv: kv[1].line):
        if item_id in test:
            continue
        where = f"{path} line {answer.line}"
        if item_id in others:
            raise UserError(
                f"{where}: id {item_id!r} is in the {others[item_id]} split of {data.name}, not test (wrong split); "
                "score the test split's predictions only"
            )
        example = data.test[0].id if data.test else "none"
        raise UserError(
            f"{where}: unknown id {item_id!r}: not an item of {data.name} (its test ids look like {example!r}); "
            'use the ids of the test split (the "id" of a run\'s predictions files)'
        )
    missing = [s.id for s in data.test if s.id not in answers]
    if missing and not allow_partial:
        raise UserError(
            f"{path}: {len(missing)} of the {len(data.test)} test items of {data.name} have no answer (first: "
            f"{missing[0]!r}); answer every test item, or pass --allow-partial to score them as invalid (no answer)"
        )
    return len(missing)


class FileModel:
    """A model whose answers are the file's: the label and rationale given for each test item's id."""

    def __init__(self, card: ModelCard, answers: dict[str, Answer]) -> None:
        self.card = card
        self.answers = answers

    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        """The file's answer per sample; an item the file lacks (``--allow-partial``) has none (invalid)."""
        out = []
        for s in samples:
            answer = self.answers.get(s.id)
            label = answer.label if answer else None
            out.append(Prediction(label, answer.rationale if answer else None))
        return out


@dataclass(frozen=True, eq=False)
class FileFactory:
    """Builds the file's model from its card; ``by_item_id``: its answers are cached per item id, not content."""

    answers: dict[str, Answer]
    by_item_id = True

    def __call__(self, card: ModelCard) -> FileModel:
        return FileModel(card, self.answers)


def add_file_model(registry: Registry, name: str, path: Path, answers: dict[str, Answer]) -> str:
    """Register the file's model as ``name`` (plugin ``file``); returns the file's sha256."""
    if name in registry.models:
        raise UserError(
            f"model name {name!r} is taken by plugin {registry.plugin_of('models', name)!r}; "
            "pick another with --model NAME"
        )
    sha = file_sha256(path)
    card = ModelCard(
        name=name,
        role="baseline",
        description=f"predictions scored from the file {path.name}",
        params=None,
        rationale=any(a.rationale for a in answers.values()),
        settings={"sha256": sha, "missing": 0},
        runtime={"file": str(path)},
    )
    registry.models[name] = ModelSpec(card, FileFactory(answers))
    registry.owner[("models", name)] = PLUGIN
    registry.loaded.plugins.append(PluginInfo(PLUGIN, str(path), registered={"models": [name]}))
    return sha


def score_file(
    registry: Registry, options: RunOptions, path: Path, name: str, allow_partial: bool
) -> tuple[RunOutcome, int]:
    """Score the file on ``options.datasets[0]``'s test split; (the run, how many test items it lacked)."""
    from mulcot_bench.runner.orchestrate import run

    answers = read_answers(path)
    add_file_model(registry, name, path, answers)
    missing: list[int] = []

    def check(taken: list[Taken]) -> None:
        data = taken[0].data
        if data is None:
            raise UserError(f"{taken[0].record.name} did not load; run 'mulcot-bench datasets' to see why")
        missing.append(check_ids(path, answers, data, allow_partial))
        if missing[0]:
            warn(
                f"[{data.name}] {path}: {missing[0]} of the {len(data.test)} test items have no answer; "
                "they are scored as invalid (--allow-partial) and counted as the entry's settings.missing"
            )
            spec = registry.models[name]
            card = replace(spec.card, settings={**spec.card.settings, "missing": missing[0]})
            registry.models[name] = replace(spec, card=card)

    options = replace(options, models=[name], train=False, teacher_row=False)
    return run(registry, options, check=check), missing[0]
