"""Chain generation: greedy or sampled, with the field structure enforced (exactly three <sep>, then <eos>).

``no_repeat`` n > 0 forbids repeating any n-gram inside one field (greedy GRU decoders otherwise loop); phrases
may still recur across fields, as they do in the teacher's chains.
"""

from __future__ import annotations

import hashlib

import torch
from torch import Tensor

from mulcot_encoder.net import ChainNet, Encoded
from mulcot_encoder.vocab import BOS, EOS, N_FIELDS, PAD, SEP


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


@torch.no_grad()
def generate(net: ChainNet, enc: Encoded, labels: Tensor, max_len: int, temperature: float | None = None,
             gens: list[torch.Generator] | None = None, no_repeat: int = 0) -> list[list[int]]:
    """Token ids per row (ending with <eos> unless ``max_len`` cut it); ``temperature`` None is greedy."""
    n = labels.shape[0]
    state = net.decoder.start(enc, labels)
    token = torch.full((n, 1), BOS, dtype=torch.long)
    seps = torch.zeros(n, dtype=torch.long)
    done = torch.zeros(n, dtype=torch.bool)
    out: list[list[int]] = [[] for _ in range(n)]
    field: list[list[int]] = [[] for _ in range(n)]
    seen: list[dict[tuple[int, ...], set[int]]] = [{} for _ in range(n)]
    k = no_repeat - 1
    for _ in range(max_len):
        logits, state = net.decoder(enc, labels, token, state)
        logits = logits[:, 0].float()
        logits[:, PAD] = float("-inf")
        logits[:, BOS] = float("-inf")
        logits[seps < N_FIELDS - 1, EOS] = float("-inf")
        logits[seps >= N_FIELDS - 1, SEP] = float("-inf")
        if no_repeat > 0:
            for i in (~done).nonzero().flatten().tolist():
                banned = seen[i].get(tuple(field[i][-k:])) if len(field[i]) >= k else None
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
            if t in (SEP, EOS):
                field[i], seen[i] = [], {}
            elif no_repeat > 0:
                if len(field[i]) >= k:
                    seen[i].setdefault(tuple(field[i][-k:]), set()).add(t)
                field[i].append(t)
        seps += (nxt == SEP).long()
        done |= nxt == EOS
        if bool(done.all()):
            break
        token = nxt[:, None]
    return out
