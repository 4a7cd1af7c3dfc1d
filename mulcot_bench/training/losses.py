"""The MulCoT-RD distillation loss, its two KD masks, vocabulary alignment, top-k KL, hidden-state KD.

For one task (reasoning or label) and one batch::

    L = (1 - lam) * CE(student, gold) + lam * c * KL(softmax(z_a / T) || softmax(z_s / T))

with ``c = T**2`` when ``t2`` is set, else 1 (the reference has no T^2 factor). The total loss of a step is the
plain sum over the tasks, as in the reference; call :func:`kd_loss` once per task.

Conventions (read before calling):

* **Alignment of positions.** ``student_logits[..., i, :]`` scores ``labels[..., i]``: the caller has already
  shifted for causal LM. Pass ``shift=True`` for Hugging Face style inputs, where the logits at position ``i``
  predict the label at ``i + 1`` (the last logit and the first label are dropped).
* **Reductions.** CE is the mean over positions whose label is not ``ignore_index``. KL is summed over the
  vocabulary and averaged over the KD positions. A batch with no CE (or KD) position contributes 0.
* **Masks.** ``"targets"`` (default): KD on the positions that CE covers (labels != ignore_index), i.e. the
  target tokens only. ``"reference"``: the released reference code's ``labels != 0`` selection, reproduced
  literally; with ``-100`` for prompt, image and padding labels it keeps all of them (only positions whose
  gold token id is 0 are dropped), which is what that code does in its Qwen port.
* **Vocabulary alignment.** When the assistant's and the student's vocabularies differ in size, the KL is taken
  over the shared prefix of ids ``[0, min(V_a, V_s))``: both logit rows are cut to it before the softmax, so
  both distributions are renormalised over the shared ids. This fits models that share a tokenizer and pad
  their output layer differently (Qwen2.5-VL-7B has 152,064 output rows and 3B 151,936 over one 151,665-token
  tokenizer). CE always uses the student's full vocabulary. Models with different tokenizers need a token map,
  which this module does not guess.
* **Top-k assistant logits** (:class:`TopK`, written by :mod:`mulcot_bench.training.cached`): per position the
  assistant's k largest logits and their ids, plus two scalars of its distribution at temperature T over the
  remaining ids (the *tail*): its mass ``p_t`` and ``sum_tail p log p``. The KL is then

      sum_top p_a (log p_a - log p_s)  +  sum_tail p_a log p_a  -  (p_t / (V - k)) * sum_tail log p_s

  The first two terms are exact; the cross term of the tail treats the assistant's tail mass as spread evenly
  over the tail ids. So the value is exact when k = V (no tail) or when the assistant's tail is flat, and its
  gradient pulls the student's tail towards an even share of the assistant's tail mass. Measured on the tiny
  VLM at T = 2 (vocabulary 575, 7-14% of the mass in the tail for k = 256..64), this estimate was within
  1.2e-3 of the full KL for k >= 128 (3e-3 at k = 64), where lumping the tail into one bucket (the KL of the
  coarsened distributions, a lower bound) was 0.9e-2 to 2e-2 too low (see ``docs/distillation.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MASKS: tuple[str, ...] = ("targets", "reference")
REFERENCE_PAD_ID = 0  # the reference's KD selection is ``labels != 0`` (T5's pad id, kept in its Qwen port)
TAIL_CLAMP = -1e-30  # log of a tail mass is kept below 0 before log(1 - exp(.))


@dataclass(frozen=True)
class TopK:
    """The assistant's logits at the KD positions, compressed to the top k per position.

    ``values`` (N, k) raw logits (not divided by T), ``indices`` (N, k) their token ids, ``tail`` (N,) the log of
    the assistant's probability mass at ``temperature`` outside the top k (``-inf`` when k covers the
    vocabulary), ``tail_plogp`` (N,) the sum of ``p log p`` over those ids (0 when none), ``vocab_size`` the size
    of the (aligned) vocabulary the top k was taken over. Rows are the KD positions of the batch in row-major
    order (see :func:`kd_positions`).
    """

    values: Tensor
    indices: Tensor
    tail: Tensor
    tail_plogp: Tensor
    temperature: float
    vocab_size: int

    def __len__(self) -> int:
        return int(self.values.shape[0])


class KDTerms(NamedTuple):
    """The loss and its parts (detached floats are the caller's business)."""

    loss: Tensor
    ce: Tensor
    kl: Tensor
    n_ce: int
    n_kd: int


def kd_positions(labels: Tensor, mask: str = "targets", ignore_index: int = -100) -> Tensor:
    """The boolean selection of KD positions for ``labels``: see the module docstring for the two masks."""
    if mask == "targets":
        return labels != ignore_index
    if mask == "reference":
        return labels != REFERENCE_PAD_ID
    raise ValueError(f"unknown KD mask {mask!r}; choose one of {', '.join(MASKS)}")


def align_vocab(student_logits: Tensor, assistant_logits: Tensor) -> tuple[Tensor, Tensor]:
    """Both logit tensors cut to their shared vocabulary prefix ``[0, min(V_s, V_a))``."""
    n = min(student_logits.shape[-1], assistant_logits.shape[-1])
    return student_logits[..., :n], assistant_logits[..., :n]


def kl_full(student_logits: Tensor, assistant_logits: Tensor, temperature: float) -> Tensor:
    """Per-position KL(softmax(z_a / T) || softmax(z_s / T)), ``(N,)``, after vocabulary alignment."""
    zs, za = align_vocab(student_logits.float(), assistant_logits.float())
    log_s = F.log_softmax(zs / temperature, dim=-1)
    log_a = F.log_softmax(za / temperature, dim=-1)
    return (log_a.exp() * (log_a - log_s)).sum(-1)


def log1mexp(x: Tensor) -> Tensor:
    """``log(1 - exp(x))`` for ``x <= 0``, computed stably."""
    return torch.where(x > -0.6931471805599453, torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


def topk_from_logits(logits: Tensor, k: int | None, temperature: float) -> TopK:
    """Compress full logits ``(N, V)`` to a :class:`TopK` (k None or >= V keeps every id, sorted)."""
    logits = logits.float()
    vocab = int(logits.shape[-1])
    k = vocab if k is None or k >= vocab else int(k)
    values, indices = torch.topk(logits, k, dim=-1)
    if k == vocab:
        tail = torch.full(values.shape[:-1], float("-inf"))
        return TopK(values, indices, tail, torch.zeros(values.shape[:-1]), float(temperature), vocab)
    log_p = F.log_softmax(logits / temperature, dim=-1)
    in_tail = torch.ones_like(log_p, dtype=torch.bool).scatter_(-1, indices, False)
    tail = torch.logsumexp(log_p.masked_fill(~in_tail, float("-inf")), dim=-1)
    plogp = (log_p.exp() * log_p).masked_fill(~in_tail, 0.0).sum(-1)
    return TopK(values, indices, tail, plogp, float(temperature), vocab)


def kl_topk(student_logits: Tensor, assistant: TopK, temperature: float) -> Tensor:
    """Per-position KL from the assistant's top k and tail summary (see the module docstring), ``(N,)``."""
    if abs(float(assistant.temperature) - float(temperature)) > 1e-12:
        raise ValueError(
            f"cached assistant logits were written at temperature {assistant.temperature}, the loss asks for "
            f"{temperature}; rebuild the cache at the training temperature"
        )
    v_s = int(student_logits.shape[-1])
    vocab = assistant.vocab_size
    if v_s < vocab:
        raise ValueError(
            f"cached assistant logits cover {vocab} ids but the student has {v_s}; "
            f"rebuild the cache with vocab_limit={v_s}"
        )
    log_s = F.log_softmax(student_logits[..., :vocab].float() / temperature, dim=-1)
    s_top = log_s.gather(-1, assistant.indices)
    has_tail = torch.isfinite(assistant.tail)
    a_tail = torch.where(has_tail, assistant.tail, torch.zeros_like(assistant.tail))
    # log p_a over the top k: a softmax over the k values, times the top-k mass 1 - exp(tail)
    top_mass = torch.where(has_tail, log1mexp(a_tail.clamp(max=TAIL_CLAMP)), torch.zeros_like(a_tail))
    a_top = F.log_softmax(assistant.values.float() / temperature, dim=-1) + top_mass[:, None]
    kl = (a_top.exp() * (a_top - s_top)).sum(-1)
    n_tail = vocab - int(assistant.indices.shape[-1])
    if n_tail > 0:
        s_tail_sum = log_s.sum(-1) - s_top.sum(-1)  # sum of the student's log-probabilities over the tail ids
        spread = torch.where(has_tail, a_tail.exp(), torch.zeros_like(a_tail)) / n_tail
        kl = kl + assistant.tail_plogp.float() - spread * s_tail_sum
    return kl


def _shifted(t: Tensor, logits: bool) -> Tensor:
    return t[..., :-1, :] if logits else t[..., 1:]


def kd_terms(
    student_logits: Tensor,
    assistant_logits: Tensor | TopK | None,
    labels: Tensor,
    *,
    lam: float = 0.3,
    temperature: float = 2.0,
    t2: bool = False,
    mask: str = "targets",
    ignore_index: int = -100,
    shift: bool = False,
) -> KDTerms:
    """:func:`kd_loss` with its parts: the loss, the CE, the KL (before lambda and T^2) and the position counts.

    ``student_logits`` ``(..., V_s)`` and ``labels`` ``(...)`` share their leading shape. ``assistant_logits`` is
    ``(..., V_a)`` with the same leading shape, or a :class:`TopK` whose rows are the KD positions in
    row-major order, or None when ``lam`` is 0.
    """
    if temperature <= 0:
        raise ValueError(f"KD temperature must be > 0, got {temperature}")
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"KD lambda must be in [0, 1], got {lam}")
    if shift:
        student_logits, labels = _shifted(student_logits, True), _shifted(labels, False)
        if isinstance(assistant_logits, Tensor):
            assistant_logits = _shifted(assistant_logits, True)
    if student_logits.shape[:-1] != labels.shape:
        raise ValueError(f"student logits {tuple(student_logits.shape)} do not match labels {tuple(labels.shape)}")
    ce_sel = labels != ignore_index
    n_ce = int(ce_sel.sum())
    zero = student_logits.sum() * 0.0  # keeps the graph (and the device) when a part is empty
    ce = F.cross_entropy(student_logits[ce_sel].float(), labels[ce_sel]) if n_ce else zero
    if lam == 0.0:
        return KDTerms((1.0 - lam) * ce, ce, zero, n_ce, 0)
    if assistant_logits is None:
        raise ValueError("KD with lambda > 0 needs the assistant's logits")
    kd_sel = kd_positions(labels, mask, ignore_index)
    n_kd = int(kd_sel.sum())
    zs = student_logits[kd_sel]
    if isinstance(assistant_logits, TopK):
        if len(assistant_logits) != n_kd:
            raise ValueError(f"cached assistant logits have {len(assistant_logits)} rows for {n_kd} KD positions")
        per_pos = kl_topk(zs, assistant_logits, temperature) if n_kd else zero[None]
    else:
        if assistant_logits.shape[:-1] != student_logits.shape[:-1]:
            raise ValueError(
                f"assistant logits {tuple(assistant_logits.shape)} do not match student {tuple(student_logits.shape)}"
            )
        per_pos = kl_full(zs, assistant_logits[kd_sel], temperature) if n_kd else zero[None]
    kl = per_pos.mean() if n_kd else zero
    scale = temperature**2 if t2 else 1.0
    return KDTerms((1.0 - lam) * ce + lam * scale * kl, ce, kl, n_ce, n_kd)


def kd_loss(
    student_logits: Tensor,
    assistant_logits: Tensor | TopK | None,
    labels: Tensor,
    *,
    lam: float = 0.3,
    temperature: float = 2.0,
    t2: bool = False,
    mask: str = "targets",
    ignore_index: int = -100,
    shift: bool = False,
) -> Tensor:
    """One task's ``(1 - lam) * CE + lam * [T^2] * KL(softmax(z_a/T) || softmax(z_s/T))``; see the module docs."""
    return kd_terms(
        student_logits,
        assistant_logits,
        labels,
        lam=lam,
        temperature=temperature,
        t2=t2,
        mask=mask,
        ignore_index=ignore_index,
        shift=shift,
    ).loss


class HiddenProjection(nn.Module):
    """A learned linear map from student hidden states to the assistant's width, for hidden-state KD.

    Train it with the student (add its parameters to the optimiser); it is not part of the saved student.
    The reference code has hidden-state distillation switched off; so is it here unless a weight is set.
    """

    def __init__(self, student_dim: int, assistant_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(student_dim, assistant_dim)

    def forward(self, student_hidden: Tensor) -> Tensor:
        return self.proj(student_hidden)


def hidden_loss(
    projection: HiddenProjection,
    student_hidden: Tensor,
    assistant_hidden: Tensor,
    labels: Tensor,
    *,
    mask: str = "targets",
    ignore_index: int = -100,
) -> Tensor:
    """Mean squared error between projected student and assistant hidden states at the KD positions."""
    sel = kd_positions(labels, mask, ignore_index)
    if not bool(sel.any()):
        return projection.proj.weight.sum() * 0.0
    return F.mse_loss(projection(student_hidden[sel].float()), assistant_hidden[sel].float().detach())
