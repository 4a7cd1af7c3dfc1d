"""The jobs of a fanned-out run (``run --launcher``): one per (dataset, model group), each an ordinary ``run``.

A model group is what must train together: a distillation chain (the teacher, an assistant, the students and
rationale-trained baselines that learn from that assistant's chains and logits) stays in one job; the baselines
that learn from no chain share a job of their own. Every job of a dataset sees the same teacher (``--teacher``
or the registry's first serving one), so the training set of each is the one a single process would use.
"""

from __future__ import annotations

from dataclasses import dataclass

from mulcot_bench.paths import safe_name
from mulcot_bench.plugin.registry import Registry
from mulcot_bench.runner.pipeline import assistant_of
from mulcot_bench.runner.selection import scoped

#: the group of the baselines that learn from no chain (they need no assistant)
BASELINES = "baselines"
#: the group of a teacher selected with no learner beside it
TEACHER = "teacher"
#: the group of the learners whose assistant no installed plugin names (they fail in their job, as they would alone)
CHAIN = "chain"


@dataclass(frozen=True)
class Job:
    """One job: a dataset and the models it runs (``-d DATASET -m MODEL...``), named ``dataset.group``."""

    dataset: str
    group: str
    models: tuple[str, ...]

    @property
    def name(self) -> str:
        return safe_name(f"{self.dataset}.{self.group}")


def model_groups(registry: Registry, models: list[str]) -> dict[str, list[str]]:
    """Group name -> its models in selection order: one group per assistant (its chain), then the baselines.

    Teachers join the first chain group (their own group when nothing learns from a chain); a baseline trained
    on reasoning chains (``rationale``) joins its assistant's chain, since it learns from the augmented set.
    """
    groups: dict[str, list[str]] = {}
    teachers: list[str] = []
    for name in models:
        card = registry.model(name).card
        if card.role == "teacher":
            teachers.append(name)
        elif card.role == "assistant":
            groups.setdefault(name, []).append(name)
        elif card.role == "student" or card.rationale:
            groups.setdefault(assistant_of(registry, card, models) or CHAIN, []).append(name)
        else:
            groups.setdefault(BASELINES, []).append(name)
    chains = [g for g in groups if g != BASELINES]
    if teachers:
        first = chains[0] if chains else TEACHER
        groups[first] = [*teachers, *groups.get(first, [])]
    order = [*chains, *([TEACHER] if teachers and not chains else []), *([BASELINES] if BASELINES in groups else [])]
    return {g: groups[g] for g in order}


def plan_jobs(registry: Registry, datasets: list[str], models: list[str], named: bool = True) -> list[Job]:
    """Every (dataset, model group) job, datasets in run order; without ``-m`` (``named`` False) each dataset
    takes only the models in its scope (:func:`~mulcot_bench.runner.selection.scoped`)."""
    return [
        Job(dataset, group, tuple(names))
        for dataset in datasets
        for group, names in model_groups(registry, scoped(registry, models, dataset, named)[0]).items()
    ]
