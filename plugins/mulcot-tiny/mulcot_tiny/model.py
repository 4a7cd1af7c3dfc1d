"""TinyVLM: the mulcot-bench model contract over a from-scratch tiny vision-language model.

Each item gives two prompts that share its image, text and target: a reasoning prompt (target sequence:
the whole chain) and a label prompt (target sequence: ``"Prediction": "<label>"``). A student given a fitted
TinyVLM assistant adopts its tokenizer and distils from its logits on the target tokens.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from mulcot_bench.plugin import (
    LABELS,
    FitContext,
    ModelCard,
    Prediction,
    Sample,
    asked_input,
    fit_reporter,
    parse,
    parse_label,
)
from mulcot_bench.plugin.training import (
    MASKS,
    CachedLogits,
    TrainerConfig,
    fit,
    sharded_map,
    torch_threads,
    world_size,
)
from mulcot_tiny.settings import COMMON, OTHER_DEFAULTS, ROLE_DEFAULTS
from mulcot_tiny.tokenizer import BOS, LABEL, REASON, SEP, Tokenizer, n_distance_tags, prompt_text
from mulcot_tiny.training import (
    TASKS,
    Example,
    ItemTable,
    KDOptions,
    LiveAssistant,
    TinyTask,
    cached_assistant,
    pad_left,
)
from mulcot_tiny.vlm import VLMConfig, VLMNet, stack_pixels

KD_SOURCES = ("live", "cached")

FORMAT = "mulcot-tiny-vlm"


def resolve_settings(card: ModelCard) -> dict[str, Any]:
    """The card's settings over the defaults for its role; unknown keys are an error."""
    out = {**COMMON, **ROLE_DEFAULTS.get(card.role, OTHER_DEFAULTS)}
    unknown = sorted(set(card.settings) - set(out))
    if unknown:
        raise ValueError(f"model {card.name!r}: unknown TinyVLM settings {unknown}; known: {sorted(out)}")
    out.update(card.settings)
    return out


def _net_config(st: dict[str, Any], vocab_size: int) -> VLMConfig:
    return VLMConfig(
        vocab_size=vocab_size,
        d_model=int(st["d_model"]),
        layers=int(st["layers"]),
        heads=int(st["heads"]),
        visual_tokens=int(st["visual_tokens"]),
        max_len=int(st["max_len"]),
        dropout=float(st["dropout"]),
        cnn_channels=int(st["cnn_channels"]),
        n_tags=n_distance_tags(int(st["aspect_window"])),
    )


def _train_config(st: dict[str, Any], seed: int, level: str) -> TrainerConfig:
    return TrainerConfig(
        epochs=int(st["epochs"]),
        lr=float(st["lr"]),
        min_lr=float(st["min_lr"]),
        lr_factor=float(st["plateau_factor"]),
        patience=int(st["plateau_patience"]),
        batch_size=int(st["batch_size"]),
        grad_accum=int(st["grad_accum"]),
        weight_decay=float(st["weight_decay"]),
        grad_clip=float(st["grad_clip"]),
        warmup_steps=int(st["warmup_steps"]),
        cosine_decay=bool(st["cosine_decay"]),
        seed=seed,
        level=level,
    )


def _kd_options(st: dict[str, Any], name: str) -> KDOptions:
    if st["kd_mask"] not in MASKS:
        raise ValueError(f"model {name!r}: kd_mask {st['kd_mask']!r} is not one of {', '.join(MASKS)}")
    if st["kd_source"] not in KD_SOURCES:
        raise ValueError(f"model {name!r}: kd_source {st['kd_source']!r} is not one of {', '.join(KD_SOURCES)}")
    return KDOptions(
        lam=float(st["kd_lambda"]),
        temperature=float(st["kd_temperature"]),
        t2=bool(st["kd_t2"]),
        mask=str(st["kd_mask"]),
        hidden_weight=float(st["kd_hidden_weight"]),
    )


def sample_seed(seed: int, sample: Sample) -> int:
    """The sampling seed of one item: from the run's seed and the item's content, nothing else."""
    return int(hashlib.sha256(f"{int(seed)}|{sample.content_hash}".encode()).hexdigest()[:15], 16)


def label_target(label: str) -> str:
    """The label task's target text."""
    return f'"Prediction": "{label}"'


def _chunks(n: int, size: int) -> Iterator[slice]:
    for s in range(0, n, size):
        yield slice(s, min(n, s + size))


class TinyVLM:
    """A tiny trainable vision-language model that writes five-field chains and labels."""

    #: trains with the shared trainer's DDP when the run is data-parallel (every rank fits together)
    distributed_fit = True

    def __init__(self, card: ModelCard) -> None:
        self.card = card
        self.settings = resolve_settings(card)
        self.tokenizer: Tokenizer | None = None
        self.net: VLMNet | None = None

    @staticmethod
    def asked(card: ModelCard, sample: Sample) -> dict[str, Any]:
        """The label and reasoning prompts as the token text it encodes (see :func:`prompt_text`), and the image."""
        st = resolve_settings(card)
        mark = bool(st["mark_target"])
        inputs = {task: prompt_text(sample.text, sample.target, task, mark) for task in ("label", "reasoning")}
        note = (f"token sequences of its own tokenizer; the post is cut to max_prompt_tokens={st['max_prompt_tokens']} "
                f"tokens, each token tagged with its distance to a target mention (window {st['aspect_window']}); "
                f"{st['visual_tokens']} visual tokens from the image (none without one)")
        return asked_input(inputs, sample.image is not None, note)

    # properties -----------------------------------------------------------------------------------
    @property
    def params(self) -> int | None:
        """Parameter count (None before fit or load)."""
        return self.net.n_params if self.net is not None else None

    def _ready(self) -> tuple[Tokenizer, VLMNet]:
        if self.tokenizer is None or self.net is None:
            raise RuntimeError(f"model {self.card.name!r} is not fitted or loaded")
        return self.tokenizer, self.net

    # encoding -------------------------------------------------------------------------------------
    def _prompt(self, sample: Sample, task: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Prompt ids and their tags: <bos> <task> target <sep> post <sep>."""
        tok = self.tokenizer
        assert tok is not None
        st = self.settings
        text, tags = tok.encode_post(sample.text, sample.target, bool(st["mark_target"]), int(st["aspect_window"]))
        keep = int(st["max_prompt_tokens"])
        head = [tok.id(BOS), tok.id(REASON if task == "reasoning" else LABEL), *tok.encode(sample.target or "")]
        ids = (*head, tok.id(SEP), *text[:keep], tok.id(SEP))
        return ids, (*([0] * (len(head) + 1)), *tags[:keep], 0)

    def _example(self, sample: Sample, task: str) -> Example | None:
        tok = self.tokenizer
        assert tok is not None
        if task == "reasoning":
            if not sample.rationale:
                return None
            body = sample.rationale
        else:
            body = label_target(sample.label)
        prompt, tags = self._prompt(sample, task)
        room = int(self.settings["max_len"]) - int(self.settings["visual_tokens"]) - len(prompt) - 1
        return Example(prompt, (*tok.encode(body)[: max(room, 1)], tok.eos_id), tags)

    def _image_words(self, sample: Sample) -> tuple[int, ...]:
        """Token ids that ground the image: its chain's ``image_words_field`` (else the whole chain); () if none."""
        tok = self.tokenizer
        assert tok is not None
        if sample.image is None or not sample.rationale:
            return ()
        name = self.settings["image_words_field"]
        text = parse(sample.rationale).fields.get(name, "") if name else ""
        return tuple(tok.encode(text or sample.rationale))

    # fit ------------------------------------------------------------------------------------------
    def _assistant(self, ctx: FitContext) -> TinyVLM | None:
        assistant = ctx.assistant
        if assistant is None:
            return None
        if not isinstance(assistant, TinyVLM):
            raise ValueError(
                f"model {self.card.name!r}: TinyVLM distils only from a TinyVLM assistant (its logits must share "
                f"the vocabulary); got {type(assistant).__name__} ({getattr(assistant, 'card', None)})"
            )
        if assistant.net is None or assistant.tokenizer is None:
            raise ValueError(f"model {self.card.name!r}: the assistant {assistant.card.name!r} is not fitted")
        return assistant

    def fit(self, train_set: list[Sample], dev: list[Sample], ctx: FitContext) -> dict[str, Any]:
        """Train both tasks (with KD from ``ctx.assistant`` when kd_lambda > 0); return the stage report.

        The loop is :func:`mulcot_bench.plugin.training.fit`: with ``ctx.workdir`` set (the pipeline's partial
        folder of this artifact) it checkpoints every epoch and resumes after a crash; under torch.distributed
        every rank calls this with the same data and the trainer splits the work. Torch runs on the card's
        ``torch_threads`` (so are prediction and sampling): the numbers do not depend on the machine's cores.
        """
        with torch_threads(self.settings["torch_threads"]):
            return self._fit(train_set, dev, ctx)

    def _fit(self, train_set: list[Sample], dev: list[Sample], ctx: FitContext) -> dict[str, Any]:
        start = time.perf_counter()
        st = self.settings
        kd = _kd_options(st, self.card.name)
        assistant = self._assistant(ctx)
        if (kd.lam > 0 or kd.hidden_weight > 0) and assistant is None:
            raise ValueError(f"model {self.card.name!r}: kd_lambda={kd.lam} needs a fitted TinyVLM assistant in ctx")
        if not train_set:
            raise ValueError(f"model {self.card.name!r}: empty training set")
        tok = self._fit_tokenizer(train_set, assistant)
        items = ItemTable(
            *stack_pixels([s.image for s in train_set]),
            {task: [self._example(s, task) for s in train_set] for task in TASKS},
            [self._image_words(s) for s in train_set],
        )
        seed = int(ctx.seed) + int(st["seed_offset"])
        tcfg = _train_config(st, seed, ctx.level)
        workdir = getattr(ctx, "workdir", None)
        progress = fit_reporter(ctx, f"fit {self.card.name}", tcfg.epochs)
        with torch.random.fork_rng(devices=[]), tempfile.TemporaryDirectory(prefix="mulcot-tiny-") as scratch:
            torch.manual_seed(seed)
            self.net = VLMNet(_net_config(st, len(tok)))
            folder = Path(workdir) if workdir is not None else Path(scratch)
            source, kd_report = self._kd_source(train_set, items, kd, assistant, folder)
            task = TinyTask(
                self.net,
                items,
                tok.pad_id,
                kd,
                source,
                float(st["image_words_weight"]),
                [s.label for s in dev],
                lambda idx: [p.label for p in self._labels([dev[i] for i in idx], with_probs=False, shard=False)],
            )
            record = fit(
                task,
                tcfg,
                workdir=Path(workdir) if workdir is not None else None,
                fingerprint=f"mulcot-tiny:{self.card.name}:{self.card.role}",
                on_epoch=progress.epoch,
                on_step=progress.step,
                eval_batch=int(st["eval_batch_size"]),
            )
            self.net.eval()
        progress.close()
        report = self._fit_report(train_set, dev, items, record, start)
        report["kd"] = self._kd_report(kd, source is not None, assistant, kd_report)
        report["settings"] = dict(st)
        return report

    def _fit_tokenizer(self, train_set: list[Sample], assistant: TinyVLM | None) -> Tokenizer:
        """The student's tokenizer: its assistant's (so their logits share the vocabulary), else one trained on
        the training texts."""
        if assistant is not None:
            self.tokenizer = assistant.tokenizer
        else:
            st = self.settings
            texts = [t for s in train_set for t in (s.text, s.target or "", s.rationale or "", label_target(s.label))]
            self.tokenizer = Tokenizer.train(texts, int(st["min_freq"]), int(st["vocab_size"]), keep=LABELS)
        assert self.tokenizer is not None
        return self.tokenizer

    def _kd_source(
        self, train_set: list[Sample], items: ItemTable, kd: KDOptions, assistant: TinyVLM | None, folder: Path
    ) -> tuple[LiveAssistant | CachedLogits | None, dict[str, Any]]:
        """Where the KD targets come from (None without KD): the live assistant, or (``kd_source="cached"``) its
        top-k logits computed once into ``folder``; with what the cache took."""
        if not (kd.lam > 0 or kd.hidden_weight > 0) or assistant is None or assistant.net is None:
            return None, {}
        tok = self.tokenizer
        assert tok is not None
        # the assistant reads the items with its own prompt settings
        exs = {task: [assistant._example(s, task) for s in train_set] for task in TASKS}
        live = LiveAssistant(assistant.net, ItemTable(items.pixels, items.has_image, exs), tok.pad_id, kd.mask)
        if self.settings["kd_source"] != "cached":
            return live, {}
        t0 = time.perf_counter()
        path = folder / "assistant-logits.safetensors"
        cached = cached_assistant(
            live, path, int(self.settings["kd_top_k"]), kd.temperature, assistant.card.name, len(tok)
        )
        return cached, {"cache_seconds": round(time.perf_counter() - t0, 3), "cached_rows": len(cached.tail)}

    def _fit_report(
        self, train_set: list[Sample], dev: list[Sample], items: ItemTable, record: dict[str, Any], start: float
    ) -> dict[str, Any]:
        """The stage report's counts, the trainer's record, time and sizes (``kd`` and ``settings`` follow)."""
        n_reason = sum(1 for e in items.examples["reasoning"] if e is not None)
        n_label = sum(1 for e in items.examples["label"] if e is not None)
        assert self.tokenizer is not None
        return {
            "model": self.card.name,
            "n_train": len(train_set),
            "n_with_rationale": n_reason,
            "counts": {"train": len(train_set), "reasoning": n_reason, "label": n_label, "dev": len(dev)},
            "n_dev": len(dev),
            **record,
            "wall_seconds": round(time.perf_counter() - start, 3),
            "params": self.params,
            "vocab_size": len(self.tokenizer),
        }

    def _kd_report(
        self, kd: KDOptions, distilled: bool, assistant: TinyVLM | None, cache: dict[str, Any]
    ) -> dict[str, Any]:
        """The stage report's ``kd`` entry: the options, where the targets came from, the cache's time and rows."""
        source = self.settings["kd_source"]
        return {
            "lambda": kd.lam,
            "temperature": kd.temperature,
            "t2_factor": kd.t2,
            "mask": kd.mask,
            "source": source if distilled else None,
            "top_k": int(self.settings["kd_top_k"]) if distilled and source == "cached" else None,
            "hidden_weight": kd.hidden_weight,
            "assistant": assistant.card.name if assistant is not None else None,
            **cache,
        }

    # inference ------------------------------------------------------------------------------------
    def _visual(self, samples: Sequence[Sample]) -> torch.Tensor:
        _, net = self._ready()
        pixels, has = stack_pixels([s.image for s in samples], net.cfg.image_size)
        return net.image(pixels, has)

    def _generate(
        self,
        samples: Sequence[Sample],
        visual: torch.Tensor,
        task: str,
        max_new: int,
        temperature: float = 0.0,
        generators: Sequence[torch.Generator] | None = None,
    ) -> list[list[int]]:
        tok, net = self._ready()
        prompts = [self._prompt(s, task) for s in samples]
        room = net.cfg.max_len - net.cfg.visual_tokens - max(len(p) for p, _ in prompts)
        ids, tags, mask = pad_left([p for p, _ in prompts], tok.pad_id, [t for _, t in prompts])
        return net.generate(visual, ids, tags, mask, max(1, min(max_new, room)), tok.eos_id, temperature, generators)

    @torch.no_grad()
    def _label_probs(self, samples: Sequence[Sample], visual: torch.Tensor) -> list[dict[str, float]]:
        tok, net = self._ready()
        prefix = tuple(tok.encode('"Prediction": "'))
        prompts = [self._prompt(s, "label") for s in samples]
        ids, tags, mask = pad_left([p + prefix for p, _ in prompts], tok.pad_id, [t for _, t in prompts])
        last = net.logits(net.hidden(visual, ids, tags, mask)[:, -1])
        probs = torch.softmax(last[:, [tok.id(label) for label in LABELS]], dim=-1).tolist()
        return [dict(zip(LABELS, row, strict=True)) for row in probs]

    @torch.no_grad()
    def _labels(self, samples: Sequence[Sample], with_probs: bool = True, shard: bool = True) -> list[Prediction]:
        if shard and world_size() > 1:
            samples = list(samples)

            def rows(idx: list[int]) -> list[list[Any]]:  # what the ranks gather (JSON): label, probs, raw
                return [[p.label, p.probs, p.raw] for p in self._labels([samples[i] for i in idx], with_probs, False)]

            return [Prediction(label=lab, probs=pr, raw=raw) for lab, pr, raw in sharded_map(rows, len(samples))]
        tok, net = self._ready()
        net.eval()
        out: list[Prediction] = []
        for part in _chunks(len(samples), int(self.settings["eval_batch_size"])):
            chunk = samples[part]
            visual = self._visual(chunk)
            rows = self._generate(chunk, visual, "label", int(self.settings["max_label_tokens"]))
            probs = self._label_probs(chunk, visual) if with_probs else [None] * len(chunk)
            for row, pr in zip(rows, probs, strict=True):
                raw = tok.decode(row)
                out.append(Prediction(label=parse_label(raw), probs=pr, raw=raw))
        return out

    @torch.no_grad()
    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        """Label (greedy, label prompt), label probabilities, and a greedy chain (reasoning prompt) per sample.

        Under torch.distributed the run gives each rank its own shard of the samples (``runner.spread``).
        """
        with torch_threads(self.settings["torch_threads"]):
            return self._predict(list(samples))

    def _predict(self, samples: list[Sample]) -> list[Prediction]:
        tok, net = self._ready()
        net.eval()
        out: list[Prediction] = []
        max_new = int(self.settings["max_new_tokens"])
        for part in _chunks(len(samples), int(self.settings["eval_batch_size"])):
            chunk = samples[part]
            visual = self._visual(chunk)
            labels = self._generate(chunk, visual, "label", int(self.settings["max_label_tokens"]))
            probs = self._label_probs(chunk, visual)
            chains = self._generate(chunk, visual, "reasoning", max_new)
            for lab, pr, chain in zip(labels, probs, chains, strict=True):
                raw = tok.decode(lab)
                out.append(Prediction(label=parse_label(raw), rationale=tok.decode(chain), probs=pr, raw=raw))
        return out

    @torch.no_grad()
    def sample(self, samples: Sequence[Sample], temperature: float, seed: int) -> list[Prediction]:
        """One chain per sample drawn at ``temperature``; its label is the chain's Prediction field.

        Each item's draw is seeded from ``seed`` and the item's content (:func:`sample_seed`), so it is the same
        whatever batch, cache chunk or process the item is sampled in.
        """
        with torch_threads(self.settings["torch_threads"]):
            return self._sample(list(samples), temperature, seed)

    def _sample(self, samples: list[Sample], temperature: float, seed: int) -> list[Prediction]:
        tok, net = self._ready()
        net.eval()
        out: list[Prediction] = []
        for part in _chunks(len(samples), int(self.settings["eval_batch_size"])):
            chunk = samples[part]
            visual = self._visual(chunk)
            gens = [torch.Generator().manual_seed(sample_seed(seed, s)) for s in chunk]
            rows = self._generate(chunk, visual, "reasoning", int(self.settings["max_new_tokens"]), temperature, gens)
            for row in rows:
                chain = tok.decode(row)
                out.append(Prediction(label=parse(chain).prediction, rationale=chain, raw=chain))
        return out

    # files ----------------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write ``weights.safetensors``, ``config.json`` and ``tokenizer.json`` into ``folder``."""
        tok, net = self._ready()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "weights.safetensors"))
        tok.save(folder / "tokenizer.json")
        config = {"format": FORMAT, "version": 1, "card": self.card.name, "role": self.card.role}
        config.update({"settings": self.settings, "network": net.cfg.to_json()})
        (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")

    def load(self, folder: Path) -> TinyVLM:
        """Read what :meth:`save` wrote; the saved settings replace the card's defaults."""
        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if config.get("format") != FORMAT:
            raise ValueError(f"{folder} does not hold a {FORMAT} model")
        self.settings = {**self.settings, **config["settings"]}
        self.tokenizer = Tokenizer.load(folder / "tokenizer.json")
        with torch.random.fork_rng(devices=[]):
            net = VLMNet(VLMConfig(**config["network"]))
        net.load_state_dict(load_file(str(folder / "weights.safetensors")))
        self.net = net.eval()
        return self
