"""The multi-task training loop shared by smol-vlm and qwen2.5-vl.

Per step, a batch of items gives two teacher-forced passes: the reasoning prompt -> the whole chain (only the items
that carry a chain) and the label prompt -> ``"Prediction": "<label>"`` (every item). Each task's loss is
``mulcot_bench.plugin.training.kd_loss`` over its target tokens (plain CE when lambda is 0, else ``(1 - lambda) CE
+ lambda KL`` against the frozen assistant's live logits), and the step loss is their plain sum, as in the
reference; ``loss_scaling="mean"`` divides it by ``grad_accum`` (one large batch's gradient), ``"sum"``
back-propagates it unscaled (the reference). AdamW takes ``weight_decay``; ``grad_clip`` > 0 clips the gradient
norm. ``accum_count="global"`` accumulates as the reference does: one micro-batch count over all epochs, a step at
each multiple of ``grad_accum``, the gradients zeroed at each epoch's start (an epoch's leftover micro-batches are
dropped); ``"per-epoch"`` steps once more on an epoch's leftover micro-batches. After each epoch a dev score
decides the learning-rate plateau schedule and which epoch's weights are kept. Ties (``select_ties``):
``macro-f1-loss`` breaks them by macro-F1, then the lower training loss (on the small dev sets of CPU runs ties are
common and the later, better-fitted epoch should win them); ``field-metric`` is the reference's rule: weighted-F1
at post level (MVSA), macro-F1 at aspect level (Twitter), the first such epoch wins. The dev score is the label
prompt's accuracy (``select_on="accuracy"``, the reference) or, with ``select_on="joint"``, the mean of that
accuracy and the share of dev chains (greedy, reasoning prompt) that parse into the five fields: JMSRC asks for
both, and on small dev sets accuracy alone can keep an epoch that has not yet learnt to write a chain.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from mulcot_bench.plugin import Sample
from mulcot_hf.backend import IGNORE, Backend, Batch

TASKS: tuple[str, ...] = ("reasoning", "label")


@dataclass
class Task:
    """One task's teacher-forced pass: which items, their prompts and target ids."""

    name: str
    items: list[Sample]
    prompts: list[str]
    targets: list[list[int]]


@dataclass
class KD:
    """The frozen assistant and the KD options (``lam`` 0 means plain CE)."""

    lam: float
    temperature: float
    t2: bool
    mask: str
    assistant_backend: Backend | None = None
    assistant_prompt: Callable[[Sample, str], str] | None = None


@dataclass
class Record:
    """What the stage report shows of training."""

    losses: list[float] = field(default_factory=list)
    task_losses: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TASKS})
    dev_accuracy: list[float | None] = field(default_factory=list)
    dev_macro_f1: list[float | None] = field(default_factory=list)
    dev_weighted_f1: list[float | None] = field(default_factory=list)
    dev_format: list[float | None] = field(default_factory=list)  # share of five-field dev chains ("joint")
    dev_score: list[float | None] = field(default_factory=list)  # what selection and the LR schedule used
    lr: list[float] = field(default_factory=list)
    selected_epoch: int | None = None
    steps: int = 0
    epoch_seconds: list[float] = field(default_factory=list)


@dataclass
class DevScores:
    """One epoch's dev figures; ``score`` is what selection and the plateau schedule use."""

    accuracy: float | None = None
    macro_f1: float | None = None
    format: float | None = None  # share of dev chains with the five fields (measured for "joint" only)
    weighted_f1: float | None = None
    level: str = "aspect"  # "post" (MVSA) or "aspect" (Twitter): which F1 breaks ties under "field-metric"

    @property
    def score(self) -> float | None:
        if self.accuracy is None:
            return None
        return self.accuracy if self.format is None else (self.accuracy + self.format) / 2


def subset(items: Sequence[Sample], n: int, seed: int) -> list[Sample]:
    """A seeded random subset of ``n`` items in their original order (all of them when n <= 0 or n >= len)."""
    if n <= 0 or n >= len(items):
        return list(items)
    keep = sorted(random.Random(seed).sample(range(len(items)), n))
    return [items[i] for i in keep]



def selection_key(dev: DevScores, loss: float, ties: str) -> tuple[float, ...]:
    """What epoch selection maximises (a strictly greater key replaces the kept epoch; see the module docstring)."""
    if ties == "field-metric":
        tie = dev.weighted_f1 if dev.level == "post" else dev.macro_f1
        return (dev.score or 0.0, tie or 0.0)
    return (dev.score or 0.0, dev.macro_f1 or 0.0, -loss)


def shifted_targets(logits: Tensor, batch: Batch) -> tuple[Tensor, Tensor]:
    """The logits that predict target tokens and those tokens, in row-major order: ``(N, V)``, ``(N,)``."""
    labels = batch.labels[:, 1:]
    sel = labels != IGNORE
    return logits[:, :-1][sel], labels[sel]


def task_loss(backend: Backend, task: Task, kd: KD) -> tuple[Tensor, int]:
    """One task's loss over its items (KD against the assistant when lambda > 0) and its target-token count."""
    from mulcot_bench.plugin.training import kd_loss

    batch = backend.encode(task.items, task.prompts, task.targets)
    logits = backend.logits(batch)
    if kd.lam <= 0 or kd.assistant_backend is None:
        loss = kd_loss(logits, None, batch.labels, lam=0.0, shift=True)
        return loss, int((batch.labels != IGNORE).sum())
    assert kd.assistant_prompt is not None
    with torch.no_grad():
        a_prompts = [kd.assistant_prompt(s, task.name) for s in task.items]
        a_batch = kd.assistant_backend.encode(task.items, a_prompts, task.targets)
        a_logits = kd.assistant_backend.logits(a_batch).to(logits.device)
    if kd.mask == "reference":  # every position, as the released code does: the two layouts must be the same
        if a_logits.shape[:-1] != logits.shape[:-1] or not torch.equal(a_batch.labels, batch.labels):
            raise ValueError(
                "kd_mask='reference' needs the student and the assistant to lay out the same sequence "
                "(same prompts, visual tokens and targets); use kd_mask='targets'"
            )
        loss = kd_loss(
            logits, a_logits, batch.labels, lam=kd.lam, temperature=kd.temperature, t2=kd.t2, mask="reference",
            shift=True,
        )
        return loss, int((batch.labels != IGNORE).sum())
    s_sel, gold = shifted_targets(logits, batch)
    a_sel, a_gold = shifted_targets(a_logits, a_batch)
    if not torch.equal(gold, a_gold.to(gold.device)):
        raise ValueError("the assistant tokenizes the targets differently from the student; KD needs one tokenizer")
    loss = kd_loss(
        s_sel[None], a_sel[None], gold[None], lam=kd.lam, temperature=kd.temperature, t2=kd.t2, mask="targets"
    )
    return loss, int(gold.numel())


@dataclass
class _Steps:
    """The optimiser side of :func:`train`: AdamW and its parameters, accumulation, clipping, the step count."""

    opt: torch.optim.Optimizer
    params: list[Tensor]
    accum: int
    grad_clip: float
    loss_scaling: str
    epochs: int
    total_steps: int
    on_step: Callable[[dict[str, Any]], None] | None
    accum_count: str = "per-epoch"  # or "global" (setting accum_count; see mulcot_hf.settings)
    micro: int = 0  # micro-batches back-propagated so far, over all epochs ("global")

    def due(self, k: int, n_chunks: int) -> bool:
        """Whether the optimiser steps after micro-batch ``k`` (0-based) of an epoch of ``n_chunks``."""
        self.micro += 1
        if self.accum_count == "global":
            return self.micro % self.accum == 0
        return (k + 1) % self.accum == 0 or k + 1 == n_chunks


def train(
    backend: Backend,
    items: list[Sample],
    make_task: Callable[[str, list[Sample]], Task | None],
    st: dict[str, Any],
    seed: int,
    kd: KD,
    evaluate: Callable[[], DevScores] | None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> Record:
    """Train ``backend`` on ``items`` (see the module docstring); the best epoch's weights are loaded at the end.

    ``on_epoch`` and ``on_step`` get what :class:`mulcot_bench.console.fit.FitReporter` shows (epoch, step, loss, dev).
    """
    groups = backend.parameters()
    opt = torch.optim.AdamW(groups, weight_decay=float(st["weight_decay"]))
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="max", factor=float(st["plateau_factor"]), patience=int(st["plateau_patience"]),
        min_lr=float(st["min_lr"]),
    )
    order_rng = torch.Generator().manual_seed(seed)
    record = Record()
    best: tuple[float, ...] | None = None
    best_state: dict[str, Tensor] | None = None
    batch_size, accum = int(st["batch_size"]), max(1, int(st["grad_accum"]))
    params = [p for g in groups for p in g["params"]]
    epochs = int(st["epochs"])
    per_epoch = max(1, math.ceil(len(items) / batch_size))
    global_count = str(st.get("accum_count", "per-epoch")) == "global"
    total_steps = epochs * per_epoch // accum if global_count else epochs * math.ceil(per_epoch / accum)
    steps = _Steps(opt, params, accum, float(st["grad_clip"]), str(st["loss_scaling"]), epochs, total_steps, on_step,
                   "global" if global_count else "per-epoch")  # fmt: skip
    for epoch in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(items), generator=order_rng).tolist()
        chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        sums, n_chunks = _train_epoch(backend, items, chunks, make_task, kd, steps, record, epoch)
        dev = _end_epoch(record, sums, n_chunks, opt, sched, evaluate)
        score = selection_key(dev, record.losses[-1], str(st["select_ties"]))
        if evaluate is None or best is None or score > best:  # without dev: the last epoch
            best, best_state = score, backend.state()
            record.selected_epoch = epoch + 1
        record.epoch_seconds.append(round(time.perf_counter() - start, 2))
        if on_epoch is not None:
            on_epoch({"epoch": epoch + 1, "epochs": epochs, "step": record.steps, "steps": total_steps,
                      "loss": record.losses[-1], "dev_accuracy": dev.accuracy, "dev_macro_f1": dev.macro_f1})
    if best_state is not None:
        backend.load_state(best_state)
    return record


def _train_epoch(
    backend: Backend,
    items: list[Sample],
    chunks: list[list[int]],
    make_task: Callable[[str, list[Sample]], Task | None],
    kd: KD,
    steps: _Steps,
    record: Record,
    epoch: int,
) -> tuple[dict[str, float], int]:
    """One pass over ``chunks`` (batches of item indices): each task's summed loss and how many batches counted."""
    backend.train(True)
    sums = {t: 0.0 for t in TASKS}
    counted = 0
    steps.opt.zero_grad(set_to_none=True)
    for k, chunk in enumerate(chunks):
        chosen = [items[i] for i in chunk]
        total: Tensor | None = None
        for name in TASKS:
            task = make_task(name, chosen)
            if task is None:
                continue
            loss, _ = task_loss(backend, task, kd)
            sums[name] += float(loss.detach())
            total = loss if total is None else total + loss
        if total is None:
            continue
        if not math.isfinite(float(total.detach())):
            raise FloatingPointError(f"training loss became {float(total)} at epoch {epoch + 1}, step {k + 1}")
        (total / steps.accum if steps.loss_scaling == "mean" else total).backward()
        if steps.due(k, len(chunks)):
            _step(steps, record, epoch, sum(sums.values()) / (counted + 1))
        counted += 1
    backend.train(False)
    return sums, counted


def _step(steps: _Steps, record: Record, epoch: int, mean_loss: float) -> None:
    """One optimiser step (the gradient norm clipped first when asked), then the step report."""
    if steps.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(steps.params, steps.grad_clip)
    steps.opt.step()
    steps.opt.zero_grad(set_to_none=True)
    record.steps += 1
    if steps.on_step is not None:
        steps.on_step({"epoch": epoch + 1, "epochs": steps.epochs, "step": record.steps, "steps": steps.total_steps,
                       "loss": mean_loss})


def _end_epoch(
    record: Record,
    sums: dict[str, float],
    n_chunks: int,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.ReduceLROnPlateau,
    evaluate: Callable[[], DevScores] | None,
) -> DevScores:
    """Record the epoch's mean losses and learning rate, score the dev set and step the plateau schedule."""
    for name in TASKS:
        record.task_losses[name].append(round(sums[name] / max(n_chunks, 1), 5))
    record.losses.append(round(sum(sums.values()) / max(n_chunks, 1), 5))
    record.lr.append(float(opt.param_groups[-1]["lr"]))
    dev = evaluate() if evaluate is not None else DevScores()
    if dev.score is not None:
        sched.step(dev.score)
    record.dev_accuracy.append(dev.accuracy)
    record.dev_macro_f1.append(dev.macro_f1)
    record.dev_weighted_f1.append(dev.weighted_f1)
    record.dev_format.append(dev.format)
    record.dev_score.append(dev.score)
    return dev
