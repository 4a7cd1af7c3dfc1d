"""Multi-task and knowledge-distillation losses, batching, and the seeded training loop.

For each task t in {reasoning, label}:
``L_t = (1 - lam) * CE(student, gold) + lam * KL(softmax(z_a / T) || softmax(z_s / T))``, over target-token
positions only (the "correct" KD mask, not the reference code's ``labels != 0``); total = sum over tasks,
with no T^2 factor.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from mulcot_bench.labels import LABELS
from mulcot_tiny.vlm import VLMNet

TASKS: tuple[str, ...] = ("reasoning", "label")


@dataclass(frozen=True)
class Example:
    """One training sequence: prompt ids (with their tags), then target ids (ending with eos) that the loss covers."""

    prompt: tuple[int, ...]
    target: tuple[int, ...]
    tags: tuple[int, ...] = ()

    def prompt_tags(self) -> tuple[int, ...]:
        """Tags of the prompt tokens (0 where none were given)."""
        return self.tags if len(self.tags) == len(self.prompt) else (0,) * len(self.prompt)


# losses ---------------------------------------------------------------------------------------------
def kd_kl(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """Mean over positions of KL(softmax(teacher / T) || softmax(student / T))."""
    log_s = F.log_softmax(student_logits / temperature, dim=-1)
    log_t = F.log_softmax(teacher_logits / temperature, dim=-1)
    return (log_t.exp() * (log_t - log_s)).sum(-1).mean()


def distill_loss(
    student_logits: Tensor,
    gold: Tensor,
    teacher_logits: Tensor | None = None,
    lam: float = 0.0,
    temperature: float = 2.0,
) -> Tensor:
    """One task's loss over its target positions: ``(1 - lam) * CE + lam * KL``; plain CE when ``lam`` is 0."""
    ce = F.cross_entropy(student_logits, gold)
    if lam == 0.0:
        return ce
    if teacher_logits is None:
        raise ValueError("distill_loss: lam > 0 needs teacher logits")
    return (1.0 - lam) * ce + lam * kd_kl(student_logits, teacher_logits, temperature)


def macro_f1(gold: Sequence[str], pred: Sequence[str | None]) -> float:
    """Macro-F1 over the three labels; an unparsed prediction (None) counts as wrong."""
    scores = []
    for label in LABELS:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, pred, strict=True) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, pred, strict=True) if g == label and p != label)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


# batching -------------------------------------------------------------------------------------------
def pad_left(
    seqs: Sequence[Sequence[int]], pad_id: int, tag_seqs: Sequence[Sequence[int]] | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Left-padded ids ``(B, L)``, their tags (0 where none) and the boolean mask of real tokens."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    tags = torch.zeros(len(seqs), width, dtype=torch.long)
    mask = torch.zeros(len(seqs), width, dtype=torch.bool)
    for i, s in enumerate(seqs):
        if s:
            ids[i, width - len(s) :] = torch.tensor(s, dtype=torch.long)
            mask[i, width - len(s) :] = True
            if tag_seqs is not None and tag_seqs[i]:
                tags[i, width - len(s) : width - len(s) + len(tag_seqs[i])] = torch.tensor(tag_seqs[i])
    return ids, tags, mask


def example_batch(examples: Sequence[Example], pad_id: int) -> tuple[Tensor, Tensor, Tensor]:
    """Right-padded ids ``(B, L)`` of prompt + target, their tags, and the target mask (True on target tokens)."""
    width = max(len(ex.prompt) + len(ex.target) for ex in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    tags = torch.zeros(len(examples), width, dtype=torch.long)
    tmask = torch.zeros(len(examples), width, dtype=torch.bool)
    for i, ex in enumerate(examples):
        n_prompt, n = len(ex.prompt), len(ex.prompt) + len(ex.target)
        ids[i, :n] = torch.tensor(ex.prompt + ex.target, dtype=torch.long)
        tags[i, :n_prompt] = torch.tensor(ex.prompt_tags(), dtype=torch.long)
        tmask[i, n_prompt:n] = True
    return ids, tags, tmask


def target_logits(net: VLMNet, visual: Tensor, ids: Tensor, tags: Tensor, tmask: Tensor) -> Tensor:
    """Logits ``(N, vocab)`` at the positions that predict each target token, row by row (right padding)."""
    hidden = net.hidden(visual, ids, tags)
    return net.logits(hidden[:, visual.shape[1] - 1 : -1][tmask])


@dataclass
class ItemTable:
    """The training items: image pixels, per task one example or None, and the words grounding each image."""

    pixels: Tensor
    has_image: Tensor
    examples: dict[str, list[Example | None]]
    image_words: list[tuple[int, ...]] = field(default_factory=list)

    def __len__(self) -> int:
        return self.pixels.shape[0]


class TeacherLogits:
    """The frozen assistant's logits on the target positions, cached per item within a memory budget."""

    def __init__(self, net: VLMNet, items: ItemTable, pad_id: int, budget_floats: int = 250_000_000) -> None:
        self.net = net.eval()
        self.items = items
        self.pad_id = pad_id
        self.budget = budget_floats
        self.used = 0
        self.cache: dict[tuple[str, int], Tensor] = {}

    @torch.no_grad()
    def get(self, task: str, rows: Sequence[int]) -> Tensor:
        """Concatenated teacher logits for the target tokens of ``rows`` (in order)."""
        missing = [r for r in rows if (task, r) not in self.cache]
        if missing:
            exs = [ex for ex in (self.items.examples[task][r] for r in missing) if ex is not None]
            if len(exs) != len(missing):
                raise ValueError(f"teacher logits asked for items without a {task} example")
            ids, tags, tmask = example_batch(exs, self.pad_id)
            idx = torch.tensor(missing)
            visual = self.net.image(self.items.pixels[idx], self.items.has_image[idx])
            parts = target_logits(self.net, visual, ids, tags, tmask).split([len(ex.target) for ex in exs])
            fresh = dict(zip(missing, parts, strict=True))
            for r, part in fresh.items():
                if self.used + part.numel() <= self.budget:
                    self.cache[(task, r)] = part.clone()
                    self.used += part.numel()
        else:
            fresh = {}
        return torch.cat([self.cache[(task, r)] if (task, r) in self.cache else fresh[r] for r in rows])


# training loop --------------------------------------------------------------------------------------
@dataclass
class TrainConfig:
    """Optimisation settings of one fit."""

    epochs: int = 10
    lr: float = 2e-3
    min_lr: float = 1e-6
    batch_size: int = 16
    weight_decay: float = 0.01
    warmup_steps: int = 30
    grad_clip: float = 1.0
    patience: int = 2
    kd_lambda: float = 0.0
    kd_temperature: float = 2.0
    seed: int = 42
    image_words_weight: float = 0.0
    cosine_decay: bool = False


def word_bags(words: Sequence[Sequence[int]], vocab_size: int) -> Tensor:
    """Normalised bags of token ids ``(N, vocab)``; an item without words gets an all-zero row."""
    bags = torch.zeros(len(words), vocab_size)
    for i, ids in enumerate(words):
        if ids:
            bags[i, torch.tensor(sorted(set(ids)), dtype=torch.long)] = 1.0
    return bags / bags.sum(1, keepdim=True).clamp(min=1.0)


def image_words_loss(head: torch.nn.Linear, visual: Tensor, bags: Tensor) -> Tensor:
    """Grounding loss: predict an item's image words from its mean visual token alone (bag cross-entropy)."""
    per_item = -(bags * F.log_softmax(head(visual.mean(1)), dim=-1)).sum(-1)
    return per_item.sum() / (bags.sum(-1) > 0).sum().clamp(min=1)


def _schedule(cfg: TrainConfig, step: int, total: int) -> float:
    """LR factor at ``step`` (1-based): linear warmup, then 1 or a cosine decay to 10% over the run."""
    warm = min(1.0, step / cfg.warmup_steps) if cfg.warmup_steps > 0 else 1.0
    if not cfg.cosine_decay or total <= 0:
        return warm
    return warm * (0.1 + 0.45 * (1.0 + math.cos(math.pi * min(step, total) / total)))


def _clone_state(net: VLMNet) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


@dataclass
class _Aux:
    """The image-words grounding head and its per-item word bags (training only, never saved)."""

    head: torch.nn.Linear
    bags: Tensor


def _batch_loss(
    net: VLMNet,
    items: ItemTable,
    idx: list[int],
    cfg: TrainConfig,
    pad_id: int,
    teacher: TeacherLogits | None,
    aux: _Aux | None,
    totals: dict[str, float],
) -> Tensor:
    """Sum over tasks of the (KD) task losses of items ``idx``, plus the weighted image-words loss."""
    ids_t = torch.tensor(idx)
    visual = net.image(items.pixels[ids_t], items.has_image[ids_t])
    loss = torch.zeros(())
    if aux is not None:
        words = image_words_loss(aux.head, visual, aux.bags[ids_t])
        loss = cfg.image_words_weight * words
        totals["image_words"] += float(words.detach())
    for task in TASKS:
        rows = [k for k, i in enumerate(idx) if items.examples[task][i] is not None]
        if not rows:
            continue
        exs = [ex for ex in (items.examples[task][idx[k]] for k in rows) if ex is not None]
        ids, tags, tmask = example_batch(exs, pad_id)
        logits = target_logits(net, visual[torch.tensor(rows)], ids, tags, tmask)
        teacher_z = teacher.get(task, [idx[k] for k in rows]) if teacher is not None else None
        if teacher_z is not None and teacher_z.shape != logits.shape:
            raise ValueError(f"KD: assistant logits {tuple(teacher_z.shape)} != student {tuple(logits.shape)}")
        task_loss = distill_loss(logits, ids[tmask], teacher_z, cfg.kd_lambda, cfg.kd_temperature)
        loss = loss + task_loss
        totals[task] += float(task_loss.detach())
    return loss


def train(
    net: VLMNet,
    items: ItemTable,
    cfg: TrainConfig,
    pad_id: int,
    evaluate: Callable[[], tuple[float, float]] | None,
    teacher: TeacherLogits | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train ``net`` in place, keep the best dev epoch's weights, and return the per-epoch record.

    ``evaluate()`` returns (dev accuracy, dev macro-F1); the best epoch maximises accuracy, then macro-F1,
    and the LR halves after ``patience`` epochs without a better dev accuracy.
    The caller seeds torch (init); shuffling uses its own generator seeded from ``cfg.seed``.
    """
    if cfg.kd_lambda > 0 and teacher is None:
        raise ValueError("kd_lambda > 0 needs a teacher (the fitted assistant)")
    gen = torch.Generator().manual_seed(cfg.seed)
    aux = None
    if cfg.image_words_weight > 0 and any(items.image_words):
        head = torch.nn.Linear(net.cfg.d_model, net.cfg.vocab_size)
        aux = _Aux(head, word_bags(items.image_words, net.cfg.vocab_size))
    params = list(net.parameters()) + (list(aux.head.parameters()) if aux is not None else [])
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)
    base_lr = cfg.lr
    record: dict[str, Any] = {"losses": [], "task_losses": [], "dev_accuracy": [], "dev_macro_f1": [], "lr": []}
    best: tuple[float, float] | None = None
    best_state: dict[str, Tensor] | None = None
    best_epoch, bad, step = 0, 0, 0
    start = time.perf_counter()
    total_steps = cfg.epochs * math.ceil(len(items) / cfg.batch_size)
    for epoch in range(1, cfg.epochs + 1):
        net.train()
        order = torch.randperm(len(items), generator=gen).tolist()
        totals = {t: 0.0 for t in (*TASKS, "image_words")}
        total, batches = 0.0, 0
        for s in range(0, len(order), cfg.batch_size):
            loss = _batch_loss(net, items, order[s : s + cfg.batch_size], cfg, pad_id, teacher, aux, totals)
            step += 1
            for g in opt.param_groups:
                g["lr"] = base_lr * _schedule(cfg, step, total_steps)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            total += float(loss.detach())
            batches += 1
        record["losses"].append(round(total / max(batches, 1), 5))
        record["task_losses"].append({t: round(v / max(batches, 1), 5) for t, v in totals.items()})
        record["lr"].append(base_lr)
        if evaluate is not None:
            net.eval()
            acc, f1 = evaluate()
            record["dev_accuracy"].append(round(acc, 5))
            record["dev_macro_f1"].append(round(f1, 5))
            if best is None or (acc, f1) > best:
                improved_acc = best is None or acc > best[0]
                best, best_state, best_epoch = (acc, f1), _clone_state(net), epoch
                bad = 0 if improved_acc else bad + 1
            else:
                bad += 1
            if bad > cfg.patience:
                base_lr, bad = max(cfg.min_lr, base_lr * 0.5), 0
        if on_epoch is not None:
            on_epoch({"epoch": epoch, "loss": record["losses"][-1], "seconds": time.perf_counter() - start})
    if best_state is not None:
        net.load_state_dict(best_state)
    else:
        best_epoch = cfg.epochs
    net.eval()
    record["selected_epoch"] = best_epoch
    record["train_seconds"] = round(time.perf_counter() - start, 3)
    return record
