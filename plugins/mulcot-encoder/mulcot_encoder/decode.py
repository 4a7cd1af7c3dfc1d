"""Chain generation: greedy or sampled, field by field (exactly three <sep>, then <eos>), with the settings that
keep a GRU decoder from looping.

:class:`Decoding` holds them (all on the model's card): ``no_repeat_ngram`` n > 0 forbids writing an n-gram of
output ids a second time, within one field (``no_repeat_scope`` "field") or anywhere in the chain ("chain");
``repetition_penalty`` r >= 1 divides the probability of every id the chain has already written (a word, a
sub-word, a copy) by r, before the argmax or the sampling. The field being written is an input of every step.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from mulcot_encoder.net import ChainNet, Encoded, Source
from mulcot_encoder.vocab import BOS, EOS, N_FIELDS, PAD, SEP

SCOPES = ("field", "chain")


@dataclass(frozen=True)
class Decoding:
    """How chains are decoded (see the module docstring)."""

    max_len: int
    no_repeat_ngram: int = 0
    no_repeat_scope: str = "field"
    repetition_penalty: float = 1.0
    field_input: bool = False

    def __post_init__(self) -> None:
        if self.no_repeat_scope not in SCOPES:
            raise ValueError(f"no_repeat_scope {self.no_repeat_scope!r}: use one of {', '.join(SCOPES)}")
        if self.repetition_penalty < 1.0:
            raise ValueError(f"repetition_penalty must be >= 1, got {self.repetition_penalty}")


def row_generators(seed: int, keys: list[str]) -> list[torch.Generator]:
    """One generator per sample, seeded from the call's seed and the sample's content: batching never matters."""
    gens = []
    for key in keys:
        g = torch.Generator()
        g.manual_seed(int.from_bytes(hashlib.sha256(f"{seed}|{key}".encode()).digest()[:8], "little") >> 1)
        gens.append(g)
    return gens


def gumbel(shape: tuple[int, ...], gens: list[torch.Generator]) -> Tensor:
    """Gumbel noise, one row per generator."""
    u = torch.stack([torch.rand(shape, generator=g) for g in gens]).clamp_(1e-10, 1.0 - 1e-7)
    return -torch.log(-torch.log(u))


class _Blocker:
    """Per row: the n-grams written so far (in the field or the chain) and the ids written in the chain."""

    def __init__(self, rule: Decoding) -> None:
        self.n, self.per_field = rule.no_repeat_ngram, rule.no_repeat_scope == "field"
        self.history: list[int] = []
        self.seen: dict[tuple[int, ...], set[int]] = {}
        self.written: set[int] = set()

    def banned(self) -> set[int]:
        k = self.n - 1
        if self.n <= 0 or len(self.history) < k:
            return set()
        return self.seen.get(tuple(self.history[len(self.history) - k :]), set())

    def add(self, token: int) -> None:
        if token in (SEP, EOS):
            if self.per_field:
                self.history, self.seen = [], {}
            return
        self.written.add(token)
        if self.n > 0:
            k = self.n - 1
            if len(self.history) >= k:
                self.seen.setdefault(tuple(self.history[len(self.history) - k :]), set()).add(token)
            self.history.append(token)


@torch.no_grad()
def generate(net: ChainNet, enc: Encoded, labels: Tensor, rule: Decoding, temperature: float | None = None,
             gens: list[torch.Generator] | None = None, source: Source | None = None) -> list[list[int]]:
    """Token ids per row (ending with <eos> unless ``rule.max_len`` cut it); ``temperature`` None is greedy."""
    n = labels.shape[0]
    state = net.decoder.start(enc, labels)
    token = torch.full((n, 1), BOS, dtype=torch.long)
    seps = torch.zeros(n, dtype=torch.long)
    done = torch.zeros(n, dtype=torch.bool)
    out: list[list[int]] = [[] for _ in range(n)]
    rows = [_Blocker(rule) for _ in range(n)]
    penalty = math.log(rule.repetition_penalty)
    vocab = net.decoder.emb.num_embeddings
    for _ in range(rule.max_len):
        fields = seps.clamp(max=N_FIELDS - 1)[:, None] if rule.field_input else None
        logits, state = net.decoder(enc, labels, token, state, fields=fields, source=source)
        logits = logits[:, 0].float()
        logits[:, PAD] = float("-inf")
        logits[:, BOS] = float("-inf")
        logits[seps < N_FIELDS - 1, EOS] = float("-inf")
        logits[seps >= N_FIELDS - 1, SEP] = float("-inf")
        if logits.shape[1] > vocab and source is not None:
            logits[:, vocab:] = logits[:, vocab:].masked_fill(~source.mask, float("-inf"))
        for i in (~done).nonzero().flatten().tolist():
            if penalty > 0 and rows[i].written:
                logits[i, list(rows[i].written)] -= penalty
            banned = rows[i].banned()
            if banned:
                logits[i, list(banned)] = float("-inf")
        if temperature is None:
            nxt = logits.argmax(-1)
        else:
            nxt = (logits / temperature + gumbel((logits.shape[1],), gens or [])).argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
        for i in (~done).nonzero().flatten().tolist():
            t = int(nxt[i])
            out[i].append(t)
            rows[i].add(t)
        seps += (nxt == SEP).long()
        done |= nxt == EOS
        if bool(done.all()):
            break
        token = nxt[:, None]
    return out
