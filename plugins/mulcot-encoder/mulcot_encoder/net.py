"""The trainable part: a light fusion (learned queries attending to the frozen tokens), a label head and a GRU
chain decoder. Keys and values are the normalised input tokens themselves (no per-token projections beyond the
input one), so a training step costs little more than projecting the frozen features once."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

TEXT_DIM, IMAGE_DIM, N_LABELS = 384, 1280, 3


@dataclass
class Batch:
    """Collated inputs: text states (B, L, 384), marks (B, L), text_mask (B, L) True = real token,
    image (B, P, 1280), has_image (B,)."""

    text: Tensor
    marks: Tensor
    text_mask: Tensor
    image: Tensor
    has_image: Tensor


@dataclass
class Encoded:
    memory: Tensor  # (B, M, d): the queries, then the tokens
    memory_mask: Tensor  # (B, M) True = real
    pooled: Tensor  # (B, d)
    label_logits: Tensor  # (B, 3)


def attend(q: Tensor, kv: Tensor, mask: Tensor, heads: int) -> Tensor:
    """Multi-head dot-product attention of ``q`` (B, Q, d) over ``kv`` (B, M, d) used as keys and values."""
    b, nq, d = q.shape
    dh = d // heads
    qh = q.view(b, nq, heads, dh).transpose(1, 2)
    kh = kv.view(b, kv.shape[1], heads, dh).transpose(1, 2)
    scores = (qh @ kh.transpose(-1, -2)) / math.sqrt(dh)
    scores = scores.masked_fill(~mask[:, None, None], float("-inf"))
    return (scores.softmax(-1) @ kh).transpose(1, 2).reshape(b, nq, d)


class CrossBlock(nn.Module):
    """Queries attend to the tokens, then a feed-forward layer (pre-norm, residual)."""

    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.norm_q = nn.LayerNorm(d)
        self.q = nn.Linear(d, d)
        self.o = nn.Linear(d, d)
        self.norm_f = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * d, d))
        self.drop = nn.Dropout(dropout)

    def forward(self, q: Tensor, tokens: Tensor, mask: Tensor) -> Tensor:
        q = q + self.drop(self.o(attend(self.q(self.norm_q(q)), tokens, mask, self.heads)))
        return q + self.drop(self.ff(self.norm_f(q)))


class Fusion(nn.Module):
    """Project both modalities to d (plus type / mark / patch embeddings); target-conditioned queries read them."""

    def __init__(self, d: int, layers: int, heads: int, dropout: float, patches: int, queries: int) -> None:
        super().__init__()
        self.text_in = nn.Sequential(nn.LayerNorm(TEXT_DIM), nn.Linear(TEXT_DIM, d))
        self.image_in = nn.Sequential(nn.LayerNorm(IMAGE_DIM), nn.Linear(IMAGE_DIM, d))
        self.marks = nn.Embedding(3, d)
        self.kind = nn.Embedding(2, d)  # 0 text, 1 image
        self.patch_pos = nn.Parameter(torch.randn(patches, d) * 0.02)
        self.queries = nn.Parameter(torch.randn(queries, d) * 0.02)
        self.focus_q = nn.Linear(d, d)
        self.norm_kv = nn.LayerNorm(d)
        self.blocks = nn.ModuleList([CrossBlock(d, heads, dropout) for _ in range(layers)])
        self.norm = nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)
        self.heads = heads

    def forward(self, b: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """Memory (B, Q + L + P, d), its mask, and the target focus (B, d)."""
        n = b.text.shape[0]
        text = self.text_in(b.text) + self.marks(b.marks) + self.kind.weight[0]
        image = self.image_in(b.image) + self.patch_pos + self.kind.weight[1]
        tokens = self.norm_kv(self.drop(torch.cat([text, image], dim=1)))
        mask = torch.cat([b.text_mask, b.has_image[:, None].expand(n, image.shape[1])], dim=1)
        marked = (b.marks > 0).float()[..., None]
        has = marked.sum(1)
        real = b.text_mask.float()[..., None]
        t = tokens[:, : text.shape[1]]
        focus = torch.where(has > 0, (t * marked).sum(1) / has.clamp(min=1.0),
                            (t * real).sum(1) / real.sum(1).clamp(min=1.0))  # post level: the mean text token
        q = self.queries.expand(n, -1, -1) + self.focus_q(focus)[:, None]
        for block in self.blocks:
            q = block(q, tokens, mask)
        q = self.norm(q)
        memory = torch.cat([q, tokens], dim=1)
        full = torch.cat([torch.ones(n, q.shape[1], dtype=torch.bool), mask], dim=1)
        return memory, full, focus


class ChainDecoder(nn.Module):
    """GRU over token embeddings (plus the label), Luong attention on the memory, tied output embeddings of
    width ``emb`` (the softmax over the vocabulary is the costly part, so it is kept narrow)."""

    def __init__(self, vocab: int, d: int, emb: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.label = nn.Embedding(N_LABELS, emb)
        self.init = nn.Linear(d + emb, layers * d)
        self.gru = nn.GRU(emb, d, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.query = nn.Linear(d, d, bias=False)
        self.out = nn.Linear(2 * d, emb)
        self.bias = nn.Parameter(torch.zeros(vocab))
        self.drop = nn.Dropout(dropout)
        self.layers = layers

    def start(self, enc: Encoded, labels: Tensor) -> Tensor:
        """The GRU's initial state from the pooled fusion and the label, (layers, B, d)."""
        h = torch.tanh(self.init(torch.cat([enc.pooled, self.label(labels)], dim=-1)))
        return h.view(h.shape[0], self.layers, -1).transpose(0, 1).contiguous()

    def forward(self, enc: Encoded, labels: Tensor, inputs: Tensor,
                state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Logits (B, T, V) for ``inputs`` (B, T) and the last state."""
        if state is None:
            state = self.start(enc, labels)
        x = self.drop(self.emb(inputs) + self.label(labels)[:, None])
        h, state = self.gru(x, state)
        scores = torch.einsum("btd,bmd->btm", self.query(h), enc.memory)
        scores = scores.masked_fill(~enc.memory_mask[:, None], float("-inf"))
        ctx = torch.einsum("btm,bmd->btd", scores.softmax(-1), enc.memory)
        out = self.drop(torch.tanh(self.out(torch.cat([h, ctx], dim=-1))))
        return F.linear(out, self.emb.weight, self.bias), state


class LabelNet(nn.Module):
    """Fusion + label head: what the label phase trains."""

    def __init__(self, d: int, layers: int, heads: int, dropout: float, patches: int, queries: int) -> None:
        super().__init__()
        self.fusion = Fusion(d, layers, heads, dropout, patches, queries)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * d, d), nn.GELU(), nn.Linear(d, N_LABELS))

    def encode(self, b: Batch) -> Encoded:
        memory, mask, focus = self.fusion(b)
        n_q = self.fusion.queries.shape[0]
        summary = memory[:, :n_q].mean(1)
        return Encoded(memory, mask, summary + focus, self.head(torch.cat([summary, focus], dim=-1)))


class ChainNet(LabelNet):
    """Fusion + label head + chain decoder, and ``extra_members`` more fusion + label heads (trained from other
    seeds) whose mean probability with this one's is the label answer (:meth:`label_log_probs`)."""

    def __init__(self, vocab: int, d: int, layers: int, heads: int, dropout: float, patches: int, queries: int,
                 emb: int, decoder_layers: int, extra_members: int = 0) -> None:
        super().__init__(d, layers, heads, dropout, patches, queries)
        self.decoder = ChainDecoder(vocab, d, emb, decoder_layers, dropout)
        self.members = nn.ModuleList(
            [LabelNet(d, layers, heads, dropout, patches, queries) for _ in range(extra_members)]
        )

    def label_log_probs(self, b: Batch, enc: Encoded) -> Tensor:
        """Log of the members' mean label probability (B, 3); with no extra member, log-softmax of ``enc``'s."""
        logs = [enc.label_logits.float().log_softmax(-1)]
        logs += [m.encode(b).label_logits.float().log_softmax(-1) for m in self.members]
        return torch.logsumexp(torch.stack(logs), dim=0) - math.log(len(logs))

    def decoder_parameters(self) -> list[nn.Parameter]:
        return list(self.decoder.parameters())
