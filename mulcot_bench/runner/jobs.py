"""The jobs of a fanned-out run (``run --launcher``): one per (dataset, model group), each an ordinary ``run``.

A model group is what must train together: a distillation chain (the teacher, an assistant, the students and
rationale-trained baselines that learn from that assistant's chains and logits) stays in one job; the baselines
that learn from no chain share a job of their own. Every job of a dataset sees the same teacher (``--teacher``
or the registry's first serving one), so the training set of each is the one a single process would use.

A launcher that honours dependencies (``local``) takes a chain apart: the teachers and the assistant in one job,
then each learner in a job of its own that starts once the assistant has answered in that job (trained and stored
before it predicts: the learner loads it from the shared cache) or the job has ended, so a chain's students train
side by side, and beside the assistant's scoring.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
    after: tuple[str, ...] = ()  # the names of the jobs that must end before this one starts
    needs: str | None = None  # the model of those jobs it needs: it may start once that one is ready for it
    augment_for: tuple[str, ...] = ()  # an assistant's job: the learners (in other jobs) it samples chains for
    teacher_row: bool = True  # False: the dataset's teacher row is another job's (this one's teacher only serves)

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


def plan_jobs(
    registry: Registry, datasets: list[str], models: list[str], named: bool = True, split: bool = False
) -> list[Job]:
    """Every (dataset, model group) job, datasets in run order; without ``-m`` (``named`` False) each dataset
    takes only the models in its scope (:func:`~mulcot_bench.runner.selection.scoped`). ``split``: each chain
    taken apart (:func:`split_chain`), for a launcher that starts a job only after those it depends on."""
    jobs: list[Job] = []
    for dataset in datasets:
        mine: list[Job] = []
        for group, names in model_groups(registry, scoped(registry, models, dataset, named)[0]).items():
            mine += split_chain(registry, dataset, group, names) if split else [Job(dataset, group, tuple(names))]
        # the first job (the first chain's, with the selected teachers) writes the teacher's row, the others not
        jobs += [job if i == 0 else replace(job, teacher_row=False) for i, job in enumerate(mine)]
    return jobs


def split_chain(registry: Registry, dataset: str, group: str, names: list[str]) -> list[Job]:
    """A chain group as jobs: its teachers' row, its teachers and assistant (the teachers serve the assistant
    there, their row is not written again), then each learner on its own after them. A group whose assistant is
    not selected stays whole (each learner alone would train the assistant again)."""
    head = [n for n in names if registry.model(n).card.role in ("teacher", "assistant")]
    if group not in names or len(head) == len(names):
        return [Job(dataset, group, tuple(names))]
    learners = [n for n in names if n not in head]
    chained = tuple(n for n in learners if registry.model(n).card.rationale)[:1]  # stage 2b once per assistant
    first = Job(dataset, group, tuple(head), augment_for=chained)
    teachers = tuple(n for n in head if registry.model(n).card.role == "teacher")
    # the teachers' row in a job of its own: it starts beside the assistant's job and scores the teacher's
    # chains, embedding the reference chains for the run's other jobs while the assistant trains
    row = [Job(dataset, TEACHER, teachers)] if teachers else []
    return [*row, first, *(Job(dataset, n, (n,), after=(first.name,), needs=group) for n in learners)]


#: relative cost per training item of a job, by the heaviest role in it (an assistant trains several members and
#: writes chains; a learner one member; baselines are cheap)
ROLE_COST = {"assistant": 3.0, "student": 2.0}


def job_cost(registry: Registry, job: Job, train_sizes: dict[str, int]) -> float:
    """A job's rough cost: its dataset's training items x :data:`ROLE_COST` of its heaviest role (1 otherwise)."""
    roles = [registry.model(m).card.role for m in job.models]
    return max((ROLE_COST.get(r, 1.0) for r in roles), default=1.0) * max(1, train_sizes.get(job.dataset, 1))


def by_critical_path(registry: Registry, jobs: list[Job], train_sizes: dict[str, int]) -> list[Job]:
    """The jobs longest chain of work first (a job's estimated cost plus the longest line of jobs waiting on
    it), so the run's longest line starts early and short jobs fill the gaps; ties keep plan order. Costs are
    rough (training items x :data:`ROLE_COST`), only the order depends on them."""

    cost = {j.name: job_cost(registry, j, train_sizes) for j in jobs}
    after = {j.name: [k for k in jobs if j.name in k.after] for j in jobs}
    memo: dict[str, float] = {}

    def line(job: Job) -> float:
        if job.name not in memo:
            memo[job.name] = cost[job.name] + max((line(k) for k in after[job.name]), default=0.0)
        return memo[job.name]

    return sorted(jobs, key=line, reverse=True)
