"""The network: a small CNN image encoder feeding visual prefix tokens to a small causal transformer.

Sequence layout: ``[visual tokens][left-padded prompt + target tokens]``. Padding sits between the visual
prefix and the text, so every row ends at the same index (what batched generation needs); position ids
come from the attention mask, so padding never shifts a token's position.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn


@dataclass
class VLMConfig:
    """Architecture of one network; saved next to its weights."""

    vocab_size: int
    d_model: int = 128
    layers: int = 2
    heads: int = 4
    visual_tokens: int = 4
    max_len: int = 384
    dropout: float = 0.0
    cnn_channels: int = 32
    image_size: int = 32
    n_tags: int = 0

    def to_json(self) -> dict[str, int | float]:
        return asdict(self)


def load_pixels(data: bytes | None, size: int = 32) -> Tensor | None:
    """Decode PNG/JPEG bytes to a normalised ``(3, size, size)`` float tensor; None stays None."""
    if data is None:
        return None
    try:
        with Image.open(io.BytesIO(data)) as img:
            rgb = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    except Exception as exc:  # PIL raises several types for bad files
        raise ValueError(f"could not decode an image ({len(data)} bytes): {exc}") from exc
    arr = np.array(rgb, dtype=np.float32) / 255.0
    return (torch.from_numpy(arr).permute(2, 0, 1) - 0.5) / 0.25


def stack_pixels(images: Sequence[bytes | None], size: int = 32) -> tuple[Tensor, Tensor]:
    """A batch of images: pixels ``(N, 3, size, size)`` (zeros where missing) and a has-image mask ``(N,)``."""
    pixels = torch.zeros(len(images), 3, size, size)
    has = torch.zeros(len(images), dtype=torch.bool)
    for i, data in enumerate(images):
        px = load_pixels(data, size)
        if px is not None:
            pixels[i] = px
            has[i] = True
    return pixels, has


def _conv(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.GELU()]


class ImageEncoder(nn.Module):
    """Conv-BN-GELU blocks with max pooling, a 4x4 pooled grid, and a projection to the visual prefix."""

    def __init__(self, cfg: VLMConfig) -> None:
        super().__init__()
        c = cfg.cnn_channels
        self.shape = (cfg.visual_tokens, cfg.d_model)
        self.conv = nn.Sequential(
            *_conv(3, c),
            nn.MaxPool2d(2),
            *_conv(c, 2 * c),
            nn.MaxPool2d(2),
            *_conv(2 * c, 2 * c),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
        )
        self.proj = nn.Linear(2 * c * 16, cfg.visual_tokens * cfg.d_model)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.missing = nn.Parameter(torch.randn(cfg.visual_tokens, cfg.d_model) * 0.02)

    def forward(self, pixels: Tensor, has_image: Tensor) -> Tensor:
        """``(N, visual_tokens, d_model)``; rows without an image get the learned no-image embedding."""
        n = pixels.shape[0]
        out = self.missing.unsqueeze(0).expand(n, *self.shape)
        if bool(has_image.all()):
            return self.norm(self.proj(self.conv(pixels)).view(n, *self.shape))
        if bool(has_image.any()):
            seen = self.norm(self.proj(self.conv(pixels[has_image])).view(-1, *self.shape))
            out = out.clone()
            out[has_image] = seen
        return out


class KVCache:
    """Preallocated keys and values of every layer, filled as generation proceeds."""

    def __init__(self, cfg: VLMConfig, batch: int, length: int) -> None:
        hd = cfg.d_model // cfg.heads
        self.k = torch.zeros(cfg.layers, batch, cfg.heads, length, hd)
        self.v = torch.zeros(cfg.layers, batch, cfg.heads, length, hd)
        self.length = 0

    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        end = self.length + k.shape[2]
        self.k[layer, :, :, self.length : end] = k
        self.v[layer, :, :, self.length : end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]


class Block(nn.Module):
    """Pre-norm transformer block: causal self-attention and a GELU MLP."""

    def __init__(self, cfg: VLMConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.heads = cfg.heads
        self.dropout = cfg.dropout
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d)
        self.proj = nn.Linear(4 * d, d)

    def _drop(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.dropout, True) if self.training and self.dropout > 0 else x

    def forward(self, x: Tensor, mask: Tensor | None, cache: KVCache | None, layer: int) -> Tensor:
        """``mask`` None means plain causal attention (unpadded or right-padded rows)."""
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if cache is not None:
            k, v = cache.update(layer, k, v)
        p = self.dropout if self.training else 0.0
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, is_causal=mask is None)
        x = x + self._drop(self.out(att.transpose(1, 2).reshape(b, t, d)))
        return x + self._drop(self.proj(F.gelu(self.fc(self.ln2(x)))))


class VLMNet(nn.Module):
    """Image encoder + decoder-only transformer with tied input/output embeddings."""

    def __init__(self, cfg: VLMConfig) -> None:
        super().__init__()
        if cfg.d_model % cfg.heads:
            raise ValueError(f"d_model {cfg.d_model} is not divisible by heads {cfg.heads}")
        self.cfg = cfg
        self.image = ImageEncoder(cfg)
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = nn.Embedding(cfg.max_len, cfg.d_model)
        self.tags = nn.Embedding(cfg.n_tags, cfg.d_model) if cfg.n_tags > 0 else None
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self._init_weights()

    def _init_weights(self) -> None:
        for name, p in self.named_parameters():
            if name.startswith("image.conv") or p.dim() < 2 or name == "image.missing":
                continue
            std = 0.02 / math.sqrt(2 * self.cfg.layers) if name.endswith(("out.weight", "proj.weight")) else 0.02
            nn.init.normal_(p, 0.0, std)
        for name, p in self.named_parameters():
            if name.endswith("bias") and not name.startswith("image.conv"):
                nn.init.zeros_(p)

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def logits(self, hidden: Tensor) -> Tensor:
        """Output logits for hidden states (tied to the token embeddings)."""
        return hidden @ self.tok.weight.t()

    def hidden(self, visual: Tensor, ids: Tensor, tags: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        """Final hidden states ``(B, V + L, d)`` after the visual prefix ``(B, V, d)`` and ids ``(B, L)``.

        ``tags`` (same shape as ids) are token-type ids (aspect distance), 0 where none.
        ``mask`` None: rows are unpadded or right-padded (plain causal attention; the training path).
        Otherwise ``mask`` marks the real tokens of a left-padded batch.
        """
        if mask is None:
            t = visual.shape[1] + ids.shape[1]
            pos = torch.arange(t).clamp(max=self.cfg.max_len - 1).unsqueeze(0)
            return self._run(visual, ids, tags, pos, None, None)
        full = torch.cat([torch.ones(mask.shape[0], visual.shape[1], dtype=torch.bool), mask.bool()], dim=1)
        return self._run(visual, ids, tags, self._positions(full), self._prefill_mask(full), None)

    def _positions(self, full: Tensor) -> Tensor:
        return (full.long().cumsum(1) - 1).clamp(0, self.cfg.max_len - 1)

    @staticmethod
    def _prefill_mask(full: Tensor) -> Tensor:
        t = full.shape[1]
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        return (causal & full[:, None, None, :]) | torch.eye(t, dtype=torch.bool)  # a pad row sees itself: no NaN

    def _run(
        self,
        visual: Tensor | None,
        ids: Tensor,
        tags: Tensor | None,
        pos: Tensor,
        att: Tensor | None,
        cache: KVCache | None,
    ) -> Tensor:
        x = self.tok(ids)
        if self.tags is not None:  # no tags given means tag 0 everywhere, as for target tokens in training
            x = x + (self.tags(tags) if tags is not None else self.tags.weight[0])
        if visual is not None:
            x = torch.cat([visual, x], dim=1)
        x = x + self.pos(pos)
        if self.training and self.cfg.dropout > 0:
            x = F.dropout(x, self.cfg.dropout, True)
        for i, block in enumerate(self.blocks):
            x = block(x, att, cache, i)
        if cache is not None:
            cache.length += x.shape[1]
        return self.ln_f(x)

    @torch.no_grad()
    def generate(
        self,
        visual: Tensor,
        ids: Tensor,
        tags: Tensor | None,
        mask: Tensor,
        max_new: int,
        eos_id: int,
        temperature: float = 0.0,
        generators: Sequence[torch.Generator] | None = None,
    ) -> list[list[int]]:
        """Greedy (temperature 0) or sampled continuation of each row, without the final eos.

        Sampling draws each row's Gumbel noise from that row's own generator (``generators[i]``), so a row's
        chain depends on its seed alone, never on the batch or the process it is sampled in.
        """
        if temperature > 0 and (generators is None or len(generators) != ids.shape[0]):
            raise ValueError("sampling needs one generator per row")
        b = ids.shape[0]
        full = torch.cat([torch.ones(b, visual.shape[1], dtype=torch.bool), mask.bool()], dim=1)
        t = full.shape[1]
        cache = KVCache(self.cfg, b, t + max_new)
        h = self._run(visual, ids, tags, self._positions(full), self._prefill_mask(full), cache)[:, -1]
        out = torch.full((b, max_new), eos_id, dtype=torch.long)
        done = torch.zeros(b, dtype=torch.bool)
        for step in range(max_new):
            logits = self.logits(h)
            if temperature > 0 and generators is not None:
                u = torch.stack([torch.rand(logits.shape[-1], generator=g) for g in generators])
                gumbel = -torch.log(-torch.log(u.clamp(1e-20, 1.0 - 1e-7)))
                nxt = (logits / temperature + gumbel).argmax(-1)
            else:
                nxt = logits.argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, eos_id), nxt)
            out[:, step] = nxt
            done |= nxt == eos_id
            if bool(done.all()) or step == max_new - 1:
                break
            full = torch.cat([full, torch.ones(b, 1, dtype=torch.bool)], dim=1)
            pos = self._positions(full)[:, -1:]
            h = self._run(None, nxt.unsqueeze(1), None, pos, full[:, None, None, :], cache)[:, -1]
        rows: list[list[int]] = []
        for row in out.tolist():
            rows.append(row[: row.index(eos_id)] if eos_id in row else row)
        return rows
