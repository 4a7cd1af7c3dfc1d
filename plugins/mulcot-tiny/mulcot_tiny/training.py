"""Batching, the assistant's logits as a KD source, and the tiny VLM's training task for the generic trainer.

For each task t in {reasoning, label} the loss is :func:`mulcot_bench.plugin.training.kd_loss`:
``(1 - lam) * CE + lam * [T^2] * KL(softmax(z_a / T) || softmax(z_s / T))``, total = sum over tasks, plus the
weighted image-words grounding loss and, optionally, hidden-state distillation through a learned projection.
The loop itself (AdamW, accumulation, plateau halving, selection, checkpoints, resume, DDP) is
:func:`mulcot_bench.plugin.training.fit`.

KD masks: ``"targets"`` distils the positions that predict target tokens. ``"reference"`` distils every
position of the sequence (visual prefix, prompt and target) as the reference's ``labels != 0`` does, except
right padding (so a position's loss does not depend on which items share its batch); it needs the assistant's
and the student's sequences to line up (same visual tokens and prompt settings).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from mulcot_bench.plugin.training import CachedLogits, HiddenProjection, TopK, TrainTask, build_cache, kd_terms
from mulcot_tiny.vlm import VLMNet

TASKS: tuple[str, ...] = ("reasoning", "label")
IGNORE = -100


@dataclass(frozen=True)
class Example:
    """One training sequence: prompt ids (with their tags), then target ids (ending with eos) that the loss covers."""

    prompt: tuple[int, ...]
    target: tuple[int, ...]
    tags: tuple[int, ...] = ()

    def prompt_tags(self) -> tuple[int, ...]:
        """Tags of the prompt tokens (0 where none were given)."""
        return self.tags if len(self.tags) == len(self.prompt) else (0,) * len(self.prompt)



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


def kd_rows(
    net: VLMNet, visual: Tensor, examples: Sequence[Example], pad_id: int, mask: str
) -> tuple[Tensor, Tensor, Tensor]:
    """Hidden states ``(N, d)``, logits ``(N, vocab)`` and labels ``(N,)`` at one sequence batch's loss positions.

    ``"targets"``: the positions predicting target tokens (labels = those tokens). ``"reference"``: every
    position that predicts a real next token (visual prefix and prompt get label -100), row-major.
    """
    ids, tags, tmask = example_batch(examples, pad_id)
    hidden = net.hidden(visual, ids, tags)
    n_vis = visual.shape[1]
    if mask == "targets":
        h = hidden[:, n_vis - 1 : -1][tmask]
        return h, net.logits(h), ids[tmask]
    lengths = torch.tensor([n_vis + len(ex.prompt) + len(ex.target) for ex in examples])
    width = hidden.shape[1]
    real_next = torch.arange(1, width)[None, :] < lengths[:, None]  # position j predicts a real token j + 1
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    labels[:, n_vis:][tmask] = ids[tmask]
    h = hidden[:, :-1][real_next]
    return h, net.logits(h), labels[:, 1:][real_next]


def kd_row_count(example: Example, visual_tokens: int, mask: str) -> int:
    """How many loss positions one example has under ``mask``."""
    if mask == "targets":
        return len(example.target)
    return visual_tokens + len(example.prompt) + len(example.target) - 1


@dataclass
class ItemTable:
    """The training items: image pixels, per task one example or None, and the words grounding each image."""

    pixels: Tensor
    has_image: Tensor
    examples: dict[str, list[Example | None]]
    image_words: list[tuple[int, ...]] = field(default_factory=list)

    def __len__(self) -> int:
        return self.pixels.shape[0]

    def present(self, task: str, idx: Sequence[int]) -> list[int]:
        """The items of ``idx`` that have a ``task`` example, in order."""
        return [i for i in idx if self.examples[task][i] is not None]

    def batch(self, task: str, idx: Sequence[int]) -> list[Example]:
        return [ex for ex in (self.examples[task][i] for i in idx) if ex is not None]


class LiveAssistant:
    """The frozen assistant network, run on every batch (the "live" KD source; not a registered module)."""

    def __init__(self, net: VLMNet, items: ItemTable, pad_id: int, mask: str) -> None:
        self.net = net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.items = items
        self.pad_id = pad_id
        self.mask = mask

    @torch.no_grad()
    def rows(self, task: str, idx: Sequence[int]) -> tuple[Tensor, Tensor]:
        """Hidden states and logits at the KD positions of items ``idx`` (each must have a ``task`` example)."""
        ids = torch.tensor(list(idx), dtype=torch.long)
        visual = self.net.image(self.items.pixels[ids], self.items.has_image[ids])
        h, z, _ = kd_rows(self.net, visual, self.items.batch(task, idx), self.pad_id, self.mask)
        return h, z

    def per_item(self, task: str, idx: list[int]) -> list[Tensor]:
        """Logits per item (an empty tensor for an item without the task), for the cache builder."""
        have = self.items.present(task, idx)
        out = {i: torch.zeros(0) for i in idx}
        if have:
            _, z = self.rows(task, have)
            counts = [kd_row_count(ex, self.net.cfg.visual_tokens, self.mask) for ex in self.items.batch(task, have)]
            out.update(zip(have, z.split(counts), strict=True))
        return [out[i] for i in idx]


def cache_key(assistant_name: str, net: VLMNet, items: ItemTable, k: int, mask: str, temperature: float) -> str:
    """What cached assistant logits were computed from: the assistant's weights and every KD example."""
    h = hashlib.sha256()
    h.update(f"{assistant_name}|{k}|{mask}|{temperature!r}|{len(items)}\n".encode())
    for name, value in sorted(net.state_dict().items()):
        h.update(name.encode())
        h.update(value.detach().float().contiguous().numpy().tobytes())
    for task in TASKS:
        for ex in items.examples[task]:
            h.update(repr(None if ex is None else (ex.prompt, ex.target, ex.tags)).encode())
    h.update(items.pixels.numpy().tobytes())
    return h.hexdigest()


def cached_assistant(
    live: LiveAssistant, path: Path, k: int, temperature: float, assistant_name: str, vocab_limit: int
) -> CachedLogits:
    """Build (or reuse) the top-k cache file of ``live`` at ``path``."""
    key = cache_key(assistant_name, live.net, live.items, k, live.mask, temperature)
    return build_cache(
        path,
        TASKS,
        len(live.items),
        live.per_item,
        k=k or None,
        temperature=temperature,
        mask=live.mask,
        key=key,
        vocab_limit=vocab_limit,
    )


# the task ---------------------------------------------------------------------------------------------
@dataclass
class KDOptions:
    """How the student learns from the assistant (lam 0: plain multi-task CE)."""

    lam: float = 0.0
    temperature: float = 2.0
    t2: bool = False
    mask: str = "targets"
    hidden_weight: float = 0.0


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


class TinyTask(TrainTask):
    """The tiny VLM (and its training-only heads) as a :class:`~mulcot_bench.plugin.training.TrainTask`."""

    def __init__(
        self,
        net: VLMNet,
        items: ItemTable,
        pad_id: int,
        kd: KDOptions,
        source: LiveAssistant | CachedLogits | None,
        image_words_weight: float,
        dev_gold: list[str],
        dev_labels: Callable[[list[int]], list[str | None]],
    ) -> None:
        super().__init__()
        if kd.lam > 0 and source is None:
            raise ValueError("kd lambda > 0 needs the assistant's logits (live or cached)")
        if kd.hidden_weight > 0 and not isinstance(source, LiveAssistant):
            raise ValueError("hidden-state distillation needs the live assistant (kd_source = 'live')")
        self.net = net
        self.items = items
        self.pad_id = pad_id
        self.kd = kd
        self._source = (source,)  # a tuple: not a registered submodule, so never trained or checkpointed
        self.image_words_weight = image_words_weight
        self.head = None
        self.bags = None
        if image_words_weight > 0 and any(items.image_words):
            self.head = torch.nn.Linear(net.cfg.d_model, net.cfg.vocab_size)
            self.bags = word_bags(items.image_words, net.cfg.vocab_size)
        self.proj = None
        if kd.hidden_weight > 0 and isinstance(source, LiveAssistant):
            self.proj = HiddenProjection(net.cfg.d_model, source.net.cfg.d_model)
        self.dev_gold = dev_gold
        self._dev_labels = dev_labels

    @property
    def source(self) -> LiveAssistant | CachedLogits | None:
        return self._source[0]

    def n_items(self) -> int:
        return len(self.items)

    def dev_labels(self, indices: list[int]) -> list[str | None]:
        return self._dev_labels(indices)

    def batch_loss(self, items: list[int]) -> tuple[Tensor, dict[str, float]]:
        """Sum over tasks of the KD task losses of ``items``, plus the weighted grounding and hidden losses."""
        ids_t = torch.tensor(items)
        visual = self.net.image(self.items.pixels[ids_t], self.items.has_image[ids_t])
        loss = torch.zeros(())
        parts: dict[str, float] = {}
        if self.head is not None and self.bags is not None:
            words = image_words_loss(self.head, visual, self.bags[ids_t])
            loss = self.image_words_weight * words
            parts["image_words"] = float(words.detach())
        use_kd = self.kd.lam > 0 or self.proj is not None
        for task in TASKS:
            rows = [k for k, i in enumerate(items) if self.items.examples[task][i] is not None]
            if not rows:
                continue
            have = [items[k] for k in rows]
            h, logits, labels = kd_rows(
                self.net, visual[torch.tensor(rows)], self.items.batch(task, have), self.pad_id, self.kd.mask
            )
            z_a: Tensor | TopK | None = None
            h_a = None
            source = self.source
            if use_kd and isinstance(source, LiveAssistant):
                h_a, z_a = source.rows(task, have)
            elif use_kd and isinstance(source, CachedLogits):
                z_a = source.get(task, have)
            if isinstance(z_a, Tensor) and z_a.shape[0] != logits.shape[0]:
                raise ValueError(
                    f"KD ({self.kd.mask} mask): the assistant has {z_a.shape[0]} positions, the student "
                    f"{logits.shape[0]}; the two models' sequences do not line up"
                )
            terms = kd_terms(
                logits,
                z_a if self.kd.lam > 0 else None,
                labels,
                lam=self.kd.lam,
                temperature=self.kd.temperature,
                t2=self.kd.t2,
                mask=self.kd.mask,
                ignore_index=IGNORE,
            )
            task_loss = terms.loss
            if self.proj is not None and h_a is not None:
                hidden = F.mse_loss(self.proj(h), h_a)
                task_loss = task_loss + self.kd.hidden_weight * hidden
                parts[f"{task}_hidden"] = float(hidden.detach())
            loss = loss + task_loss
            parts[task] = float(task_loss.detach())
            if self.kd.lam > 0:
                parts[f"{task}_kl"] = float(terms.kl.detach())
        return loss, parts
