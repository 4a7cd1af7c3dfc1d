"""The endpoint models: ``OpenAITeacher`` (predict, explain the gold label) and ``OpenAIZeroShot``.

Each request is one user message. With an image to send (``images`` ``on``, or ``auto``) its content is a list of
parts: the image inline as a data URL and the prompt rendered from :mod:`mulcot_bench.prompts` (or an override
file named in the card's settings); otherwise (no image, or ``images=off``) it is the prompt as a plain string,
which every chat template takes. ``auto`` falls back to text once the server refuses content parts.
A request given up in transport (connection, 5xx, timeout after retries) is a ``failed`` prediction: no answer,
never cached or scored (:mod:`mulcot_bench.runner.stages`). With ``chain_text="normalised"`` (the default) a chain
is accepted only with the five fields in order and a label in its Prediction field; it is stored re-rendered in
the canonical ``"Field": "value"`` form, with the model's own text kept as the prediction's ``raw``. With
``chain_text="raw"`` (the released code's side) the reply is kept as it is: a first-pass reply is usable when the
released answer parser finds a label in it, a correction reply when it is not empty. Items whose reply stays
unusable after the bounded retries come back with ``label=None`` and are counted.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from mulcot_bench.plugin import (
    FIELDS,
    LABELS,
    ModelCard,
    ModelUnavailable,
    Prediction,
    Sample,
    UserError,
    asked_prompts,
    parse,
    parse_label,
    parse_label_released,
    prompt_ref,
    render_chain,
    render_prompt,
    template_hash,
)
from mulcot_openai.client import ChatClient, Reply, log
from mulcot_openai.settings import (
    CHAIN_TEXTS,
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_MODEL,
    IMAGE_MODES,
    Transport,
    api_key,
    normalise_base_url,
)

_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


def data_url(image: bytes) -> str:
    """The image as a ``data:`` URL, its type read from the file's first bytes."""
    mime = next((m for magic, m in _MAGIC if image.startswith(magic)), None)
    if mime is None:
        mime = "image/webp" if image[:4] == b"RIFF" and image[8:12] == b"WEBP" else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(image).decode('ascii')}"


def level_of(sample: Sample) -> str:
    """Aspect level when the sample names a target (Twitter), else post level (MVSA)."""
    return "aspect" if sample.target else "post"


def chain_ok(content: str) -> bool:
    chain = parse(content)
    return chain.valid and chain.prediction is not None


def label_ok(content: str) -> bool:
    return parse_label(content) is not None


def raw_label_ok(content: str) -> bool:
    return parse_label_released(content) is not None


def raw_ok(content: str) -> bool:
    return bool(content.strip())


def canonical(content: str) -> tuple[str, str]:
    """(chain re-rendered as ``"Field": "value"`` blocks, its label) of a reply that passed :func:`chain_ok`."""
    chain = parse(content)
    label = chain.prediction
    assert label is not None
    fields = {name: " ".join(chain.fields[name].split()) for name in FIELDS[:-1]}
    return render_chain({**fields, "Prediction": label}), label


class EndpointModel:
    """What both endpoint models share: configuration checks, prompts, payloads and the client."""

    def __init__(self, card: ModelCard, *, transport: Transport | None = None) -> None:
        self.card = card
        s = card.settings
        if {"api_key", "apikey", "key", "token"} & set(s):
            raise UserError(f"model {card.name!r}: never put an API key in settings; set {ENV_API_KEY} instead")
        base_url, model = normalise_base_url(s.get("base_url")), s.get("model")
        missing = [name for name, value in ((ENV_BASE_URL, base_url), (ENV_MODEL, model)) if not value]
        if missing:
            raise ModelUnavailable(
                f"model {card.name!r} needs an OpenAI-compatible endpoint: set {' and '.join(missing)} "
                f"(e.g. {ENV_BASE_URL}=http://127.0.0.1:8000/v1 {ENV_MODEL}=Qwen/Qwen2.5-VL-72B-Instruct) or pass "
                f"-o {card.name}.base_url=URL -o {card.name}.model=NAME, and {ENV_API_KEY} if the server wants a key"
            )
        self.prompt_files: dict[str, str] = dict(s.get("prompt_files") or {})
        self.prompt_set = str(s.get("prompt_set", "project"))
        self.chain_text = str(s.get("chain_text", "normalised"))
        if self.chain_text not in CHAIN_TEXTS:
            raise UserError(f"model {card.name!r}: chain_text={self.chain_text!r}; use one of {', '.join(CHAIN_TEXTS)}")
        for name, digest in (s.get("prompts") or {}).items():
            kind, _, level = name.partition(":")
            if template_hash(kind, level, self.prompt_files.get(kind), self.prompt_set) != digest:
                where = self.prompt_files.get(kind, "the shipped template")
                raise UserError(f"prompt template {where} for {kind!r} changed after the model was registered; rerun")
        self.options: dict[str, Any] = {"temperature": float(s.get("temperature", 0.0))}
        if s.get("max_tokens") is not None:
            self.options["max_tokens"] = int(s["max_tokens"])
        if s.get("seed") is not None:
            self.options["seed"] = int(s["seed"])
        self.images = str(s.get("images", "auto"))
        if self.images not in IMAGE_MODES:
            raise UserError(f"model {card.name!r}: images={self.images!r}; use one of {', '.join(IMAGE_MODES)}")
        transport = transport or Transport.from_env(runtime=card.runtime)
        self.call_batch = transport.concurrency  # committed to the cache as each group of concurrent calls ends
        self.client = ChatClient(
            base_url,  # type: ignore[arg-type]
            str(model),
            api_key(),
            transport,
            int(s.get("format_retries", 2)),
            self.images,
        )

    @classmethod
    def probe(cls, card: ModelCard) -> None:
        """Fail fast (called by the runner before any other work): the endpoint is configured and answers."""
        model = cls(card)
        try:
            model.client.probe()
        finally:
            model.client.close()

    @property
    def stats(self) -> dict[str, int]:
        """Counts of requests, retries, rate limits, server errors, timeouts, unusable replies, invalid items."""
        return dict(self.client.stats)

    #: the prompts of ``predict`` (the teacher's explain prompt is for training items, never a test answer)
    kinds: tuple[str, ...] = ()

    @classmethod
    def asked(cls, card: ModelCard, sample: Sample) -> dict[str, Any]:
        """The prompts ``predict`` sends for one sample, as references that render as :meth:`prompt` does."""
        files = dict(card.settings.get("prompt_files") or {})
        prompt_set = str(card.settings.get("prompt_set", "project"))
        prompts = {
            kind: prompt_ref(kind, sample, level_of(sample), template=files.get(kind), prompt_set=prompt_set)
            for kind in cls.kinds
        }
        image = sample.image is not None and str(card.settings.get("images", "auto")) != "off"
        chat = "one user message: the image part (when sent), then the prompt"
        return asked_prompts(prompts, image, chat=chat, images=str(card.settings.get("images", "auto")))

    def prompt(self, kind: str, sample: Sample, gold: str | None = None) -> str:
        return render_prompt(
            kind, sample, level_of(sample), gold=gold, template=self.prompt_files.get(kind), prompt_set=self.prompt_set
        )

    def payload(self, prompt: str, sample: Sample) -> dict[str, Any]:
        """One user message: parts (image, text) when an image is sent, else the prompt as a plain string."""
        content: str | list[dict[str, Any]] = prompt
        if sample.image is not None and self.images != "off":
            content = [
                {"type": "image_url", "image_url": {"url": data_url(sample.image)}},
                {"type": "text", "text": prompt},
            ]
        return {"messages": [{"role": "user", "content": content}], **self.options}

    def ask(self, kind: str, samples: Sequence[Sample], golds: Sequence[str | None] | None = None) -> list[Reply]:
        golds = list(golds) if golds is not None else [None] * len(samples)
        payloads = [self.payload(self.prompt(kind, s, g), s) for s, g in zip(samples, golds, strict=True)]
        return self.client.complete_all(payloads, [self.usable(kind)] * len(samples))

    def usable(self, kind: str) -> Any:
        """The check a reply to a ``kind`` prompt must pass (else it is asked again, within the format retries)."""
        if kind == "label":
            return label_ok
        if self.chain_text == "raw":
            return raw_ok if kind == "teacher_explain" else raw_label_ok
        return chain_ok

    def chains(self, replies: Sequence[Reply]) -> list[Prediction]:
        out = []
        for reply in replies:
            if reply.failed:
                out.append(Prediction(label=None, failed=reply.problem or "no answer"))
                continue
            if reply.content is None:
                out.append(Prediction(label=None, rationale=None, raw=reply.last))
                continue
            if self.chain_text == "raw":  # the reply as it is, its label read as the released code reads it
                text = self.client.redact(reply.content)
                out.append(Prediction(label=parse_label_released(text), rationale=text, raw=text))
                continue
            chain, label = canonical(reply.content)
            out.append(Prediction(label=label, rationale=chain, raw=self.client.redact(reply.content)))
        return out

    def count_invalid(self, preds: Sequence[Prediction]) -> None:
        """``invalid_items``: items answered without a usable label, once per item (failed items are not answers)."""
        n = sum(p.label is None and p.failed is None for p in preds)
        if n:
            self.client.count("invalid_items", n)

    def report(self, call: str, n: int, before: dict[str, int]) -> None:
        """One stderr line: what this call cost (requests, retries and why, invalid items)."""
        delta = {k: v - before.get(k, 0) for k, v in self.client.stats.items() if v - before.get(k, 0)}
        counts = ", ".join(f"{k} {v}" for k, v in sorted(delta.items())) or "no requests"
        log(self.client.redact(f"[{self.card.name}] {call} {n} items: {counts}"))


class OpenAITeacher(EndpointModel):
    """Stage-1 teacher: the predict prompt, and the explain-the-gold-label prompt for items it got wrong."""

    kinds = ("teacher_predict",)

    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        before = self.stats
        out = self.chains(self.ask("teacher_predict", samples))
        self.count_invalid(out)
        self.report("predict", len(samples), before)
        return out

    def explain(self, samples: Sequence[Sample], gold_labels: Sequence[str]) -> list[Prediction]:
        bad = [g for g in gold_labels if g not in LABELS]
        if bad:
            raise ValueError(f"explain got gold label {bad[0]!r}, not one of {', '.join(LABELS)}")
        before = self.stats
        out = self.chains(self.ask("teacher_explain", samples, gold_labels))
        self.count_invalid(out)
        self.report("explain", len(samples), before)
        return out

    def supports(self, dataset: str) -> bool:
        """Any dataset: a general model. It is opt-in (``--teacher openai``), never chosen by default."""
        return True


class OpenAIZeroShot(EndpointModel):
    """Zero-shot baseline: the reasoning prompt gives the chain, the separate label prompt gives the label."""

    kinds = ("reasoning", "label")

    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        before = self.stats
        reasoning = self.chains(self.ask("reasoning", samples))
        labels = self.ask("label", samples)
        out = []
        for chain, reply in zip(reasoning, labels, strict=True):
            if chain.failed or reply.failed:  # either request got no answer: the item has none (asked again later)
                out.append(Prediction(label=None, failed=chain.failed or reply.problem or "no answer"))
                continue
            label = parse_label(reply.content) if reply.content is not None else None
            raw = self.client.redact(reply.content) if reply.content is not None else reply.last
            out.append(Prediction(label=label, rationale=chain.rationale, raw=raw))
        self.count_invalid(out)
        self.report("predict", len(samples), before)
        return out
