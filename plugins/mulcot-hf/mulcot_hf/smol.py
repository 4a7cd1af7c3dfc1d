"""smol-vlm: frozen EfficientNet-Lite0 grid features -> MLP projector -> visual prefix tokens in SmolLM2.

LLaVA style: the image's 7x7x1280 feature map is average-pooled to ``visual_grid`` x ``visual_grid`` cells, each
cell projected (LayerNorm, Linear, GELU, Linear) to one token embedding of the language model, and those
tokens stand at the start of the user turn of SmolLM2's chat template, before the prompt text. The language
model is trained with LoRA (or fully); the projector is always trained; the image encoder is frozen and its
features are cached on disk by image content (``mulcot_features.encoders.ImageEncoder``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mulcot_bench.plugin import ModelUnavailable, Sample
from mulcot_hf.backend import (
    Backend,
    Batch,
    count_params,
    cut_at,
    end_ids,
    generation_kwargs,
    label_rows,
    load_trainable_state,
    make_trainable,
    pad_embeddings,
    resolve_device,
    trainable_state,
)
from mulcot_hf.weights import hub_unavailable, smol_source

FEATURE_DIM = 1280
FEATURE_GRID = 7
LAYER_KEY = re.compile(r"\.layers\.(\d+)\.")  # a decoder layer's index in a weight name
IMAGE_SLOT = "\x00image\x00"  # marks where the visual tokens go in the chat text; never tokenized


class Projector(nn.Module):
    """One visual token per pooled grid cell: LayerNorm -> Linear -> GELU -> Linear."""

    def __init__(self, hidden: int, out: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(FEATURE_DIM)
        self.fc1 = nn.Linear(FEATURE_DIM, hidden)
        self.fc2 = nn.Linear(hidden, out)

    def forward(self, cells: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(self.norm(cells))))


def keep_layers(lm: nn.Module, layers: Sequence[int]) -> None:
    """Keep only the decoder layers at ``layers`` (in that order); [] keeps them all."""
    if not layers:
        return
    blocks = lm.model.layers
    bad = [i for i in layers if not 0 <= int(i) < len(blocks)]
    if bad or len(set(layers)) != len(layers):
        raise ValueError(f"setting layers={list(layers)}: indices must be distinct and in 0..{len(blocks) - 1}")
    lm.model.layers = nn.ModuleList([blocks[int(i)] for i in layers])
    for new_index, block in enumerate(lm.model.layers):
        block.self_attn.layer_idx = new_index  # the KV cache is indexed by position in the stack
    lm.config.num_hidden_layers = len(layers)
    if getattr(lm.config, "layer_types", None):
        lm.config.layer_types = [lm.config.layer_types[int(i)] for i in layers]


class SmolBackend(Backend):
    """SmolLM2-135M-Instruct (float32) with a learned visual prefix."""

    def __init__(self, settings: dict[str, Any], name: str) -> None:
        self.st = settings
        self.name = name
        self.device = resolve_device(str(settings.get("device", "cpu")))
        self.grid = int(settings["visual_grid"])
        if not 1 <= self.grid <= FEATURE_GRID:
            raise ValueError(f"model {name!r}: visual_grid={self.grid} must be in 1..{FEATURE_GRID}")
        if settings["image_encoder"] != "efficientnet-lite0" or int(settings["image_size"]) != 224:
            raise ValueError(f"model {name!r}: only image_encoder='efficientnet-lite0' at image_size=224 is built in")
        self.source = ""
        self.tokenizer: Any = None
        self.lm: Any = None
        self.projector: Projector | None = None
        self.encoder: Any = None

    # set-up ---------------------------------------------------------------------------------------------------
    def setup(self) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            from mulcot_features.encoders import ImageEncoder
        except ImportError as exc:
            raise ModelUnavailable(
                f"model {self.name!r} needs the mulcot-features plugin for its image features; run: "
                "pip install -e plugins/mulcot-features"
            ) from exc
        self.encoder = ImageEncoder(image_size=int(self.st["image_size"]))
        self.source = smol_source(str(self.st["lm"]))
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.source)
            lm = AutoModelForCausalLM.from_pretrained(self.source, dtype=torch.float32)
        except OSError as exc:
            raise hub_unavailable(self.source, self.name, exc) from exc
        keep_layers(lm, list(self.st["layers"]))
        lm.requires_grad_(False)
        self.lm = make_trainable(lm, self.st, list(self.st["lora_targets"])).to(self.device)
        hidden = int(lm.config.hidden_size)
        self.projector = Projector(int(self.st["projector_hidden"]), hidden).to(self.device)
        self.eos_id = int(self.tokenizer.convert_tokens_to_ids("<|im_end|>"))
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else self.eos_id)
        self.end_id, self.stop_ids = end_ids(self.st, self.eos_id, self.pad_id)

    def _ready(self) -> tuple[Any, Any, Projector]:
        if self.lm is None or self.projector is None or self.tokenizer is None:
            raise RuntimeError(f"model {self.name!r}: backend used before setup")
        return self.tokenizer, self.lm, self.projector

    # text -----------------------------------------------------------------------------------------------------
    def encode_target(self, text: str, eos: bool = True) -> list[int]:
        tok, _, _ = self._ready()
        ids = list(tok(text, add_special_tokens=False).input_ids)
        return [*ids, self.end_id] if eos else ids

    def vocab_size(self) -> int:
        _, lm, _ = self._ready()
        return int(lm.get_output_embeddings().weight.shape[0])

    def decode(self, ids: Sequence[int]) -> str:
        tok, _, _ = self._ready()
        return tok.decode(list(ids), skip_special_tokens=True)

    def _pieces(self, prompt: str) -> tuple[list[int], list[int]]:
        """Token ids of the chat text before and after the visual tokens."""
        tok, _, _ = self._ready()
        messages = []
        if self.st.get("system_prompt"):
            messages.append({"role": "system", "content": str(self.st["system_prompt"])})
        messages.append({"role": "user", "content": f"{IMAGE_SLOT}\n{prompt}"})
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        before, after = text.split(IMAGE_SLOT)
        ids = [list(tok(part, add_special_tokens=False).input_ids) for part in (before, after)]
        return ids[0], ids[1]

    # vision ---------------------------------------------------------------------------------------------------
    def visual(self, samples: Sequence[Sample]) -> Tensor:
        """``(B, grid*grid, hidden)`` visual token embeddings (zeros features for a post without an image)."""
        _, _, projector = self._ready()
        # building the encoder on first use draws from the global RNG: keep it out of the seeded training stream,
        # so a run does not depend on which features were already cached
        with torch.random.fork_rng(devices=[]):
            maps = self.encoder.grid([s.image for s in samples]).to(self.device)
        if self.grid != FEATURE_GRID:
            maps = F.adaptive_avg_pool2d(maps, self.grid)
        return projector(maps.flatten(2).transpose(1, 2))

    def _rows(
        self, samples: Sequence[Sample], prompts: Sequence[str], targets: Sequence[Sequence[int]] | None
    ) -> tuple[list[Tensor], list[int]]:
        """Per sample: the embedded sequence and the number of prompt positions (visual tokens included)."""
        _, lm, _ = self._ready()
        embed = lm.get_input_embeddings()
        vis = self.visual(samples)
        rows, prompt_lengths = [], []
        for i, prompt in enumerate(prompts):
            before, after = self._pieces(prompt)
            tail = after + list(targets[i]) if targets is not None else after
            ids_before = torch.tensor(before, dtype=torch.long, device=self.device)
            ids_tail = torch.tensor(tail, dtype=torch.long, device=self.device)
            rows.append(torch.cat([embed(ids_before), vis[i], embed(ids_tail)], dim=0))
            prompt_lengths.append(len(before) + int(vis.shape[1]) + len(after))
        return rows, prompt_lengths

    # model ----------------------------------------------------------------------------------------------------
    def encode(self, samples: Sequence[Sample], prompts: Sequence[str], targets: Sequence[Sequence[int]]) -> Batch:
        rows, prompt_lengths = self._rows(samples, prompts, targets)
        embeds, mask = pad_embeddings(rows, left=False)
        labels = label_rows(prompt_lengths, targets, int(embeds.shape[1])).to(self.device)
        lengths = [int(r.shape[0]) for r in rows]
        return Batch({"inputs_embeds": embeds, "attention_mask": mask}, labels, lengths)

    def logits(self, batch: Batch) -> Tensor:
        _, lm, _ = self._ready()
        return lm(**batch.inputs, use_cache=False).logits

    def generate(
        self, samples: Sequence[Sample], prompts: Sequence[str], max_new: int, temperature: float
    ) -> list[list[int]]:
        _, lm, _ = self._ready()
        rows, _ = self._rows(samples, prompts, None)
        embeds, mask = pad_embeddings(rows, left=True)
        out = lm.generate(
            inputs_embeds=embeds,
            attention_mask=mask,
            **generation_kwargs(self.st, max_new, temperature, self.stop_ids, self.pad_id),
        )
        return [cut_at(row.tolist(), self.stop_ids) for row in out]  # only new tokens come back from embeddings

    # training -------------------------------------------------------------------------------------------------
    def parameters(self) -> list[dict[str, Any]]:
        _, lm, projector = self._ready()
        groups = [{"params": list(projector.parameters()), "lr": float(self.st["projector_lr"])}]
        lm_params = [p for p in lm.parameters() if p.requires_grad]
        if lm_params:
            groups.append({"params": lm_params, "lr": float(self.st["lr"])})
        return groups

    def train(self, mode: bool = True) -> None:
        _, lm, projector = self._ready()
        lm.train(mode)
        projector.train(mode)

    def modules(self) -> list[Any]:
        _, lm, projector = self._ready()
        return [lm, projector]

    def state(self) -> dict[str, Tensor]:
        _, lm, projector = self._ready()
        out = {f"projector.{k}": v.detach().to("cpu", copy=True) for k, v in projector.state_dict().items()}
        out.update(trainable_state(lm, self.st, "lm."))
        return out

    def load_state(self, state: dict[str, Tensor]) -> None:
        _, lm, projector = self._ready()
        proj = {k.removeprefix("projector."): v for k, v in state.items() if k.startswith("projector.")}
        rest = {k.removeprefix("lm."): v for k, v in state.items() if k.startswith("lm.")}
        other = sorted(set(state) - {f"projector.{k}" for k in proj} - {f"lm.{k}" for k in rest})
        if other:
            raise ValueError(f"model {self.name!r}: saved weights hold unknown tensors {other[:5]}")
        projector.load_state_dict(proj)
        load_trainable_state(lm, self.st, {k: v.to(self.device) for k, v in rest.items()}, f"model {self.name!r}")

    def start_from(self, other: Backend) -> None:
        """Set the trained parts (projector, LoRA or full weights) to ``other``'s, layer by kept layer.

        ``other`` is a fitted smol-vlm with the same trainable shapes; decoder layer ``j`` of this model takes
        the weights of the base layer it keeps (``layers[j]``) from wherever ``other`` holds that base layer.
        """
        if not isinstance(other, SmolBackend):
            raise ValueError(f"model {self.name!r} can start only from a smol-vlm, not {type(other).__name__}")
        mine = list(self.st["layers"]) or list(range(int(self._ready()[1].config.num_hidden_layers)))
        theirs = list(other.st["layers"]) or list(range(int(other._ready()[1].config.num_hidden_layers)))
        missing = [i for i in mine if i not in theirs]
        if missing:
            raise ValueError(
                f"model {self.name!r} cannot start from {other.name!r}: it keeps base layers {missing} that "
                f"{other.name!r} does not have"
            )
        position = {base: j for j, base in enumerate(theirs)}
        wanted = {position[base]: j for j, base in enumerate(mine)}
        state = {}
        for key, value in other.state().items():
            hit = LAYER_KEY.search(key)
            if hit is None:
                state[key] = value
            elif int(hit.group(1)) in wanted:
                state[key[: hit.start(1)] + str(wanted[int(hit.group(1))]) + key[hit.end(1) :]] = value
        try:
            self.load_state(state)
        except RuntimeError as exc:  # size mismatch: other projector width, LoRA rank or visual grid
            raise ValueError(
                f"model {self.name!r} cannot start from {other.name!r}: their trained weights differ in shape "
                f"(projector_hidden, lora_r, lora_targets and train must match): {str(exc).splitlines()[0]}"
            ) from exc

    def param_counts(self) -> tuple[int, int]:
        _, lm, projector = self._ready()
        return count_params(lm, projector)

    def describe(self) -> dict[str, Any]:
        _, lm, _ = self._ready()
        return {
            "lm": str(self.st["lm"]),
            "checkpoint": self.source,
            "layers": int(lm.config.num_hidden_layers) if hasattr(lm, "config") else None,
            "visual_tokens": self.grid * self.grid,
            "image_encoder": dict(self.encoder.identity) if self.encoder is not None else None,
        }
