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
LOG_ZERO = -1e4  # the log-probability of what cannot be written (finite: a KL over it stays 0, not NaN)


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


@dataclass
class Source:
    """The post words a chain may copy, per row: their vectors (the mean of their tokens' memory rows), the output
    id each copy writes, and which are real (the rest pad the batch)."""

    vectors: Tensor  # (B, K, d)
    ids: Tensor  # (B, K) long
    mask: Tensor  # (B, K) True = a real word


def field_ids(inputs: Tensor, sep: int, fields: int) -> Tensor:
    """The field each decoder input belongs to: the number of ``sep`` ids among the inputs so far (B, T)."""
    return (inputs == sep).long().cumsum(1).clamp(max=fields - 1)


class ChainDecoder(nn.Module):
    """GRU over token embeddings (plus the label and, with :meth:`attach`, the field being written), Luong
    attention on the memory, tied output embeddings of width ``emb`` (the softmax over the vocabulary is the
    costly part, so it is kept narrow).

    With a :class:`Source` the output is a pointer-generator mixture (See et al., 2017): a gate p_gen weighs the
    vocabulary softmax against an attention over the post's words, whose mass goes to each word's output id
    (a kept token, or an extended id ``vocab + k``); the result is log-probabilities over ``vocab + K``. Without
    one it is the vocabulary logits."""

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
        self.d = d
        self.field: nn.Embedding | None = None
        self.copy_in: nn.Linear | None = None

    def attach(self, fields: int, copy: bool) -> None:
        """Add the field input (``fields`` > 0) and the copy parts. Kept apart from ``__init__`` so that the
        modules created before these (the label members) draw the same initial weights as without them."""
        emb = self.emb.embedding_dim
        if fields:
            self.field = nn.Embedding(fields, emb)
        if copy:
            self.copy_in = nn.Linear(self.d, emb)  # the input embedding of an extended copy id
            self.copy_q = nn.Linear(2 * self.d, self.d, bias=False)
            self.gate = nn.Linear(2 * self.d + emb, 1)

    def start(self, enc: Encoded, labels: Tensor) -> Tensor:
        """The GRU's initial state from the pooled fusion and the label, (layers, B, d)."""
        h = torch.tanh(self.init(torch.cat([enc.pooled, self.label(labels)], dim=-1)))
        return h.view(h.shape[0], self.layers, -1).transpose(0, 1).contiguous()

    def _embed(self, inputs: Tensor, source: Source | None) -> Tensor:
        """Token embeddings; with copying, an input that is one of the post's words (a kept token or an extended
        id) also carries its word's vector, so the decoder knows where in the post it is (an extended id has
        only that)."""
        vocab = self.emb.num_embeddings
        x = self.emb(inputs.clamp(max=vocab - 1)) * (inputs < vocab)[..., None]
        if source is not None and self.copy_in is not None:
            hit = (inputs[..., None] == source.ids[:, None]) & source.mask[:, None]  # (B, T, K)
            x = x + self.copy_in(hit.float() @ source.vectors)
        return x

    def forward(self, enc: Encoded, labels: Tensor, inputs: Tensor, state: Tensor | None = None,
                fields: Tensor | None = None, source: Source | None = None) -> tuple[Tensor, Tensor]:
        """Logits (B, T, V), or with ``source`` log-probabilities (B, T, V + K), for ``inputs`` (B, T) in
        ``fields`` (B, T; needed once the field input is attached), and the last state."""
        if state is None:
            state = self.start(enc, labels)
        x = self._embed(inputs, source) + self.label(labels)[:, None]
        if self.field is not None:
            if fields is None:
                raise ValueError("the decoder reads the field of every input: pass fields")
            x = x + self.field(fields)
        x = self.drop(x)
        h, state = self.gru(x, state)
        scores = torch.einsum("btd,bmd->btm", self.query(h), enc.memory)
        scores = scores.masked_fill(~enc.memory_mask[:, None], float("-inf"))
        ctx = torch.einsum("btm,bmd->btd", scores.softmax(-1), enc.memory)
        hc = torch.cat([h, ctx], dim=-1)
        out = self.drop(torch.tanh(self.out(hc)))
        if source is None or self.copy_in is None:
            return F.linear(out, self.emb.weight, self.bias), state
        return self._mix(out, hc, x, source), state

    def _mix(self, out: Tensor, hc: Tensor, x: Tensor, source: Source) -> Tensor:
        """log(p_gen * softmax(vocabulary logits) + (1 - p_gen) * copy attention at the words' output ids).

        The logits are computed K columns wider (at :data:`LOG_ZERO`, the extended ids), so the vocabulary part
        is one log-softmax, and the copy mass is added at the K copy columns only (a row's ids are distinct)."""
        b, t, _ = out.shape
        k = source.ids.shape[1]
        weight = torch.cat([self.emb.weight, self.emb.weight.new_zeros(k, self.emb.embedding_dim)])
        bias = torch.cat([self.bias, self.bias.new_full((k,), LOG_ZERO)])
        has = source.mask.any(1)[:, None, None]  # a row without words only generates
        gate = self.gate(torch.cat([hc, x], dim=-1)).masked_fill(~has, 30.0)
        scores = torch.einsum("btd,bkd->btk", self.copy_q(hc), source.vectors) / math.sqrt(self.d)
        attn = scores.masked_fill(~source.mask[:, None], -1e9).log_softmax(-1)
        attn = attn.masked_fill(~source.mask[:, None], LOG_ZERO)
        log_probs = F.linear(out, weight, bias).log_softmax(-1) + F.logsigmoid(gate)
        where = source.ids[:, None].expand(b, t, k)
        mixed = torch.logaddexp(log_probs.gather(2, where), F.logsigmoid(-gate) + attn)
        return log_probs.scatter(2, where, mixed)


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
                 emb: int, decoder_layers: int, extra_members: int = 0, fields: int = 0, copy: bool = False) -> None:
        super().__init__(d, layers, heads, dropout, patches, queries)
        self.decoder = ChainDecoder(vocab, d, emb, decoder_layers, dropout)
        self.members = nn.ModuleList(
            [LabelNet(d, layers, heads, dropout, patches, queries) for _ in range(extra_members)]
        )
        self.decoder.attach(fields, copy)  # after the members: their initial weights do not depend on it

    def label_log_probs(self, b: Batch, enc: Encoded) -> Tensor:
        """Log of the members' mean label probability (B, 3); with no extra member, log-softmax of ``enc``'s."""
        logs = [enc.label_logits.float().log_softmax(-1)]
        logs += [m.encode(b).label_logits.float().log_softmax(-1) for m in self.members]
        return torch.logsumexp(torch.stack(logs), dim=0) - math.log(len(logs))

    def decoder_parameters(self) -> list[nn.Parameter]:
        return list(self.decoder.parameters())
