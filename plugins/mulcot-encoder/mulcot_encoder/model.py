"""EncoderChainModel: the assistant, the KD student and the no-KD student of the enc- family.

Training runs in two phases on frozen inputs (:mod:`mulcot_encoder.features`):

1. **label**: fusion + label head on every training item, ``(1 - lam) * CE + lam * T^2 * KL`` against the
   assistant's label logits for a student (lam 0: plain CE); the epoch with the best dev accuracy (ties
   macro-F1) is kept.
2. **chain**: with the fusion frozen at that epoch, the GRU decoder learns the four free-text fields of the
   items that carry a valid chain, conditioned on the gold label, with the same loss on every target token
   against the assistant's teacher-forced logits (same output vocabulary: the student takes the assistant's).

At prediction the label head answers; the chain is decoded conditioned on that answer and rendered with it as
the Prediction field, so the chain always agrees with the label. Items without a chain train the label only;
when no training item has a chain, predictions carry no rationale.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mulcot_bench.plugin import (
    FIELDS,
    LABELS,
    FitContext,
    FitReporter,
    ModelCard,
    Prediction,
    Sample,
    UserError,
    asked_input,
    fit_reporter,
    macro_f1,
    parse,
    render_chain,
)
from mulcot_bench.plugin.training import kd_terms, torch_threads
from mulcot_encoder.decode import Decoding, generate, row_generators
from mulcot_encoder.features import Inputs, identities, load_inputs
from mulcot_encoder.net import ChainNet, Encoded, LabelNet, Source, field_ids
from mulcot_encoder.vocab import BOS, N_FIELDS, PAD, SEP, ChainVocab

WEIGHTS_FILE = "weights.safetensors"
META_FILE = "model.json"
EVAL_BATCH = 128
FORMAT = "mulcot-encoder-model-v2"


def chain_fields(chain: str | None) -> list[str] | None:
    """The four free-text fields of a valid five-field chain, else None."""
    if not chain:
        return None
    parsed = parse(chain)
    if not parsed.valid:
        return None
    return [parsed.fields[name] for name in FIELDS[:4]]


def class_weights(labels: Tensor, mode: str) -> Tensor | None:
    """CE class weights: ``none``, or ``sqrt-inverse`` (1 / sqrt(frequency), mean 1 over the training items)."""
    if mode == "none":
        return None
    if mode != "sqrt-inverse":
        raise ValueError(f"unknown class_weight {mode!r}; use none or sqrt-inverse")
    counts = torch.bincount(labels, minlength=3).float().clamp(min=1.0)
    w = counts.rsqrt()
    return w / (w[labels].mean())


def dev_scores(logits: Tensor, gold: Tensor) -> tuple[float, float]:
    """Accuracy and macro-F1 of the argmax of ``logits`` against ``gold`` label ids."""
    pred = logits.argmax(-1)
    acc = float((pred == gold).float().mean())
    return acc, macro_f1([LABELS[i] for i in gold.tolist()], [LABELS[i] for i in pred.tolist()])


class EncoderChainModel:
    """One class for the three cards; the card's settings decide sizes, epochs and the KD weight."""

    def __init__(self, card: ModelCard) -> None:
        self.card = card
        self.s = card.settings
        self.net: ChainNet | None = None
        self.vocab: ChainVocab | None = None
        self.chains = False
        self.meta: dict[str, Any] = {}

    @staticmethod
    def asked(card: ModelCard, sample: Sample) -> dict[str, Any]:
        """The pair the frozen text encoder reads (no text prompt), and whether an image feeds the fusion."""
        pair = f"[CLS] {sample.target} [SEP] {sample.text} [SEP]" if sample.target is not None else (
            f"[CLS] {sample.text} [SEP]")
        limit = card.settings.get("text_max_length")
        note = (f"frozen MiniLM token states of the pair (text truncated to {limit} tokens) and EfficientNet-Lite0 "
                "grid features, fused; no text prompt")
        return asked_input({"text": pair}, sample.image is not None, note)

    # building --------------------------------------------------------------------------------------------------
    def _build(self, vocab_size: int) -> ChainNet:
        s = self.s
        return ChainNet(vocab_size, int(s["d_model"]), int(s["fusion_layers"]), int(s["heads"]), float(s["dropout"]),
                        int(s["image_pool"]) ** 2, int(s["queries"]), int(s["emb_dim"]), int(s["decoder_layers"]),
                        int(s["label_members"]) - 1, N_FIELDS if s["field_input"] else 0, bool(s["copy"]))

    def _words(self, inputs: Inputs, row: int) -> list[str]:
        """The post words the chain of ``row`` may copy (none when copying is off)."""
        if not self.s["copy"]:
            return []
        return [w for w, _ in inputs.words[row][: int(self.s["copy_max_words"])]]

    def _source(self, inputs: Inputs, rows: Sequence[int], enc: Encoded) -> Source | None:
        """The copyable words of ``rows``: vectors from the memory's text rows (after the queries), output ids."""
        if not self.s["copy"]:
            return None
        assert self.vocab is not None
        found = [inputs.words[r][: int(self.s["copy_max_words"])] for r in rows]
        k = max(1, max(len(w) for w in found))
        offset, size = int(self.s["queries"]), len(self.vocab)
        weight = torch.zeros(len(rows), k, enc.memory.shape[1])
        ids = (size + torch.arange(k)).repeat(len(rows), 1)  # a padding slot scatters nothing onto its own column
        mask = torch.zeros(len(rows), k, dtype=torch.bool)
        for i, words in enumerate(found):
            for j, ((_, where), out) in enumerate(zip(words, self.vocab.copy_ids([w for w, _ in words]),
                                                      strict=True)):
                weight[i, j, [offset + p for p in where]] = 1.0 / len(where)
                ids[i, j], mask[i, j] = out, True
        return Source(weight @ enc.memory.detach(), ids, mask)

    # training --------------------------------------------------------------------------------------------------
    def fit(self, train: Sequence[Sample], dev: Sequence[Sample], ctx: FitContext) -> dict[str, Any]:
        """Label phase then chain phase (see the module docstring); returns the stage report."""
        with torch_threads(self.s["torch_threads"]):
            return self._fit(list(train), list(dev), ctx)

    def _teacher(self, ctx: FitContext) -> EncoderChainModel | None:
        lam = float(self.s["kd_lambda"])
        if lam == 0.0:
            return None
        teacher = ctx.assistant
        if not isinstance(teacher, EncoderChainModel) or teacher.net is None:
            raise UserError(f"{self.card.name} distils from an enc- assistant's logits (kd_lambda {lam}); it got "
                            f"{type(teacher).__name__}: name enc-assistant as its assistant")
        for key in ("text_max_length", "image_size", "image_pool", "image_preprocessing", "chain_tokenizer"):
            if teacher.s[key] != self.s[key]:
                raise UserError(f"{self.card.name} and its assistant must share {key}")
        return teacher

    def _fit(self, train: list[Sample], dev: list[Sample], ctx: FitContext) -> dict[str, Any]:
        start = time.perf_counter()
        teacher = self._teacher(ctx)
        fields = [chain_fields(s.rationale) for s in train]
        invalid = sum(1 for s, f in zip(train, fields, strict=True) if s.rationale and f is None)
        chain_rows = [i for i, f in enumerate(fields) if f is not None]
        if teacher is not None and teacher.vocab is not None:
            self.vocab = ChainVocab(teacher.vocab.tokens, bool(self.s["target_placeholder"]))
        else:
            self.vocab = ChainVocab.build([(fields[i], train[i].target) for i in chain_rows],
                                          int(self.s["vocab_min_count"]), bool(self.s["target_placeholder"]))
        inputs, image_stats = load_inputs(train + dev, self.s)
        feature_seconds = time.perf_counter() - start
        torch.manual_seed(ctx.seed)  # here: loading an encoder may draw from the global generator
        self.net = self._build(len(self.vocab))
        labels = torch.tensor([LABELS.index(s.label) for s in train + dev])
        n = len(train)
        report: dict[str, Any] = {
            "n_train": n, "n_dev": len(dev), "chains": len(chain_rows), "invalid_chains": invalid,
            "label_only": n - len(chain_rows), "vocab": len(self.vocab), "images": image_stats,
            "kd": {"lambda": float(self.s["kd_lambda"]), "temperature": float(self.s["kd_temperature"]),
                   "t2": bool(self.s["kd_t2"]), "assistant": teacher.card.name if teacher else None},
            "feature_seconds": round(feature_seconds, 1),
        }
        report.update(self._label_phases(inputs, labels, n, teacher, ctx))
        self.chains = bool(chain_rows)
        torch.manual_seed(ctx.seed + 1)
        if chain_rows:
            seqs = [self.vocab.encode(fields[i], train[i].target, self._words(inputs, i)) for i in chain_rows]
            dev_rows = [(n + j, f) for j, f in enumerate(chain_fields(s.rationale) for s in dev) if f is not None]
            dev_seqs = [self.vocab.encode(f, dev[r - n].target, self._words(inputs, r)) for r, f in dev_rows]
            report["copied_words"] = self._copy_counts(seqs)
            progress = fit_reporter(ctx, f"fit {self.card.name} chain", self.s["chain_epochs"])
            report["chain_phase"] = self._chain_phase(inputs, labels, chain_rows, seqs, [r for r, _ in dev_rows],
                                                      dev_seqs, teacher, ctx.seed, progress)
        else:
            report["why_no_chains"] = ("no training item carries a five-field chain (no teacher served the train "
                                       "split and the data has no released training chains): label task only, "
                                       "predictions have no rationale")
        report["params"] = sum(p.numel() for p in self.net.parameters())
        report["train_seconds"] = round(time.perf_counter() - start, 1)
        self.meta = {"encoders": identities(self.s), "report": report}
        return report

    def _encode(self, inputs: Inputs, rows: Sequence[int], net: LabelNet | None = None) -> Encoded:
        return (net or self.net).encode(inputs.batch(rows))  # type: ignore[union-attr]

    def _label_logits(self, inputs: Inputs, rows: Sequence[int], net: LabelNet | None = None) -> Tensor:
        """Eval-mode label logits of ``rows``, in batches: ``net``'s own, or (None) the label answer's, the log of
        the members' mean probability."""
        assert self.net is not None
        model = net or self.net
        model.eval()
        parts = []
        with torch.no_grad():
            for i in range(0, len(rows), EVAL_BATCH):
                batch = inputs.batch(rows[i : i + EVAL_BATCH])
                enc = model.encode(batch)
                parts.append(enc.label_logits if net is not None else self.net.label_log_probs(batch, enc))
        return torch.cat(parts) if parts else torch.zeros(0, 3)

    def _label_phases(self, inputs: Inputs, labels: Tensor, n: int, teacher: EncoderChainModel | None,
                      ctx: FitContext) -> dict[str, Any]:
        """The label phase of each member (the first one's fusion also feeds the chain decoder), each from its own
        seed; with more than one, the report gives the members' mean-probability answer on dev."""
        assert self.net is not None
        nets: list[LabelNet] = [self.net, *self.net.members]
        out: dict[str, Any] = {}
        for m, net in enumerate(nets):
            seed = ctx.seed + 1000 * m
            torch.manual_seed(seed)
            what = f"fit {self.card.name} label" + (f" {m + 1}/{len(nets)}" if len(nets) > 1 else "")
            progress = fit_reporter(ctx, what, self.s["label_epochs"])
            phase = self._label_phase(net, inputs, labels, n, teacher, seed, progress)
            if m == 0:
                out["label_phase"] = phase
            else:
                out.setdefault("label_members", []).append({k: v for k, v in phase.items() if k != "history"})
        dev_rows = list(range(n, len(inputs)))
        if len(nets) > 1 and dev_rows:
            acc, f1 = dev_scores(self._label_logits(inputs, dev_rows), labels[dev_rows])
            out["label_answer"] = {"members": len(nets), "rule": "argmax of the members' mean probability",
                                   "dev_accuracy": round(acc, 4), "dev_macro_f1": round(f1, 4)}
        return out

    def _label_phase(self, net: LabelNet, inputs: Inputs, labels: Tensor, n: int, teacher: EncoderChainModel | None,
                     seed: int, progress: FitReporter) -> dict[str, Any]:
        s = self.s
        epochs, bs = int(s["label_epochs"]), int(s["batch_size"])
        params = list(net.fusion.parameters()) + list(net.head.parameters())
        opt = torch.optim.AdamW(params, lr=float(s["label_lr"]), weight_decay=float(s["weight_decay"]))
        total = epochs * ((n + bs - 1) // bs)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=float(s["label_lr"]), total_steps=max(1, total),
                                                    pct_start=0.1)
        dev_rows = list(range(n, len(inputs)))
        a_logits = teacher._label_logits(inputs, list(range(n))) if teacher else None
        weight = class_weights(labels[:n], str(s["class_weight"]))
        lam, temp = float(s["kd_lambda"]), float(s["kd_temperature"])
        scale = temp**2 if bool(s["kd_t2"]) else 1.0
        best: tuple[float, float] = (-1.0, -1.0)
        best_state, best_epoch, history = None, 0, []
        t0 = time.perf_counter()
        step = 0
        for epoch in range(1, epochs + 1):
            net.train()
            order = np.random.RandomState(seed * 1000 + epoch).permutation(n)
            total_loss = 0.0
            for b in range(0, n, bs):
                rows = order[b : b + bs].tolist()
                logits = self._encode(inputs, rows, net).label_logits
                terms = kd_terms(logits, a_logits[rows] if a_logits is not None else None, labels[rows],
                                 lam=lam, temperature=temp, t2=bool(s["kd_t2"]))
                loss = terms.loss
                if weight is not None:  # the same loss with a class-weighted CE
                    ce = torch.nn.functional.cross_entropy(logits, labels[rows], weight=weight)
                    loss = (1.0 - lam) * ce + lam * scale * terms.kl
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, float(s["grad_clip"]))
                opt.step()
                sched.step()
                total_loss += float(loss.detach()) * len(rows)
                step += 1
                progress.step({"epoch": epoch, "epochs": epochs, "step": step, "steps": total,
                               "loss": total_loss / (b + len(rows))})
            record: dict[str, Any] = {"epoch": epoch, "loss": round(total_loss / max(1, n), 4)}
            if dev_rows:
                acc, f1 = dev_scores(self._label_logits(inputs, dev_rows, net), labels[dev_rows])
                record.update(dev_accuracy=round(acc, 4), dev_macro_f1=round(f1, 4))
                if (acc, f1) > best:
                    best, best_epoch, best_state = (acc, f1), epoch, copy.deepcopy(net.state_dict())
            history.append(record)
            progress.epoch({**record, "epochs": epochs, "step": step, "steps": total})
        progress.close()
        if best_state is not None:
            net.load_state_dict(best_state)
        else:
            best_epoch = epochs
        out = {"epochs": epochs, "selected_epoch": best_epoch, "history": history,
               "seconds": round(time.perf_counter() - t0, 1)}
        if dev_rows:
            out.update(dev_accuracy=best[0], dev_macro_f1=best[1])
        return out

    def _chain_batch(self, seqs: list[list[int]]) -> tuple[Tensor, Tensor]:
        """Decoder inputs (<bos> + ids[:-1]) and targets (ids, padding -100)."""
        length = max(len(q) for q in seqs)
        inp = torch.full((len(seqs), length), PAD, dtype=torch.long)
        tgt = torch.full((len(seqs), length), -100, dtype=torch.long)
        for i, q in enumerate(seqs):
            inp[i, : len(q)] = torch.tensor([BOS, *q[:-1]])
            tgt[i, : len(q)] = torch.tensor(q)
        return inp, tgt

    def _chain_logits(self, inputs: Inputs, rows: list[int], labels: Tensor, inp: Tensor,
                      train: bool) -> Tensor:
        assert self.net is not None
        self.net.fusion.eval()
        self.net.head.eval()
        with torch.no_grad():
            enc = self._encode(inputs, rows)
            source = self._source(inputs, rows, enc)
        self.net.decoder.train(train)
        fields = field_ids(inp, SEP, N_FIELDS) if self.s["field_input"] else None
        return self.net.decoder(enc, labels, inp, fields=fields, source=source)[0]

    def _copy_counts(self, seqs: list[list[int]]) -> dict[str, int]:
        """How many training chain tokens are extended copy ids (post words with no single kept token)."""
        assert self.vocab is not None
        size = len(self.vocab)
        return {"copy_ids": sum(i >= size for q in seqs for i in q), "tokens": sum(len(q) for q in seqs)}

    def _chain_phase(self, inputs: Inputs, labels: Tensor, rows: list[int], seqs: list[list[int]],
                     dev_rows: list[int], dev_seqs: list[list[int]], teacher: EncoderChainModel | None,
                     seed: int, progress: FitReporter) -> dict[str, Any]:
        assert self.net is not None
        s = self.s
        epochs, bs = int(s["chain_epochs"]), int(s["chain_batch_size"])
        cap = s["max_chain_items_per_epoch"]
        per_epoch = len(rows) if cap is None else min(len(rows), int(cap))
        params = self.net.decoder_parameters()
        opt = torch.optim.AdamW(params, lr=float(s["chain_lr"]), weight_decay=float(s["weight_decay"]))
        steps = epochs * ((per_epoch + bs - 1) // bs)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=float(s["chain_lr"]), total_steps=max(1, steps),
                                                    pct_start=0.1)
        lam, temp, t2 = float(s["kd_lambda"]), float(s["kd_temperature"]), bool(s["kd_t2"])
        best, best_state, best_epoch, history = float("inf"), None, epochs, []
        t0 = time.perf_counter()
        step = 0
        for epoch in range(1, epochs + 1):
            rng = np.random.RandomState(seed * 1000 + 500 + epoch)
            pick = rng.permutation(len(rows))[:per_epoch]
            # batches of similar length (little padding), in a shuffled order
            pick = sorted(pick.tolist(), key=lambda k: len(seqs[k]))
            batches = [pick[b : b + bs] for b in range(0, len(pick), bs)]
            rng.shuffle(batches)
            total, count = 0.0, 0
            for batch in batches:
                rr = [rows[k] for k in batch]
                inp, tgt = self._chain_batch([seqs[k] for k in batch])
                logits = self._chain_logits(inputs, rr, labels[rr], inp, train=True)
                a_logits = None
                if teacher is not None:
                    with torch.no_grad():
                        a_logits = teacher._chain_logits(inputs, rr, labels[rr], inp, train=False)
                if lam == 0.0 and self.s["copy"]:  # already log-probabilities: the CE is their NLL
                    sel = tgt != -100
                    loss, n_ce = torch.nn.functional.nll_loss(logits[sel], tgt[sel]), int(sel.sum())
                else:
                    terms = kd_terms(logits, a_logits, tgt, lam=lam, temperature=temp, t2=t2)
                    loss, n_ce = terms.loss, terms.n_ce
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, float(s["grad_clip"]))
                opt.step()
                sched.step()
                total += float(loss.detach()) * n_ce
                count += n_ce
                step += 1
                progress.step({"epoch": epoch, "epochs": epochs, "step": step, "steps": steps,
                               "loss": total / max(1, count)})
            record: dict[str, Any] = {"epoch": epoch, "loss": round(total / max(1, count), 4)}
            if dev_rows:
                record["dev_chain_ce"] = round(self._dev_ce(inputs, labels, dev_rows, dev_seqs), 4)
                if record["dev_chain_ce"] < best:
                    best, best_epoch = record["dev_chain_ce"], epoch
                    best_state = copy.deepcopy(self.net.decoder.state_dict())
            history.append(record)
            progress.epoch({**record, "epochs": epochs, "step": step, "steps": steps, "chains": per_epoch})
        progress.close()
        if best_state is not None:
            self.net.decoder.load_state_dict(best_state)
        return {"epochs": epochs, "chains_per_epoch": per_epoch, "selected_epoch": best_epoch, "history": history,
                "dev_chains": len(dev_rows), "seconds": round(time.perf_counter() - t0, 1)}

    def _dev_ce(self, inputs: Inputs, labels: Tensor, rows: list[int], seqs: list[list[int]]) -> float:
        total, count = 0.0, 0
        with torch.no_grad():
            for b in range(0, len(rows), EVAL_BATCH):
                rr, qq = rows[b : b + EVAL_BATCH], seqs[b : b + EVAL_BATCH]
                inp, tgt = self._chain_batch(qq)
                logits = self._chain_logits(inputs, rr, labels[rr], inp, train=False)
                sel = tgt != -100
                loss = torch.nn.functional.nll_loss if self.s["copy"] else torch.nn.functional.cross_entropy
                total += float(loss(logits[sel], tgt[sel], reduction="sum"))
                count += int(sel.sum())
        return total / max(1, count)

    # prediction ------------------------------------------------------------------------------------------------
    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        """Label from the head; chain decoded greedily, conditioned on that label."""
        return self._run(list(samples), None, 0)

    def sample(self, samples: Sequence[Sample], temperature: float = 0.7, seed: int = 0) -> list[Prediction]:
        """One sampled (label, chain) per sample at ``temperature``; per-sample seeds, so batching never matters."""
        return self._run(list(samples), float(temperature), seed)

    def _run(self, samples: list[Sample], temperature: float | None, seed: int) -> list[Prediction]:
        if self.net is None or self.vocab is None:
            raise RuntimeError(f"{self.card.name} used before fit or load")
        if not samples:
            return []
        with torch_threads(self.s["torch_threads"]):
            inputs, _ = load_inputs(samples, self.s)
            self.net.eval()
            out: list[Prediction] = []
            for b in range(0, len(samples), EVAL_BATCH):
                rows = list(range(b, min(len(samples), b + EVAL_BATCH)))
                out.extend(self._run_batch(samples, inputs, rows, temperature, seed))
        return out

    def _run_batch(self, samples: list[Sample], inputs: Inputs, rows: list[int], temperature: float | None,
                   seed: int) -> list[Prediction]:
        assert self.net is not None and self.vocab is not None
        with torch.no_grad():
            batch = inputs.batch(rows)
            enc = self.net.encode(batch)
            log_probs = self.net.label_log_probs(batch, enc)
            probs = log_probs.exp()
            gens = None
            if temperature is None:
                labels = probs.argmax(-1)
            else:
                gens = row_generators(seed, [samples[r].content_hash for r in rows])
                tempered = (log_probs / max(temperature, 1e-6)).softmax(-1)
                labels = torch.stack([torch.multinomial(p, 1, generator=g)[0]
                                      for p, g in zip(tempered, gens, strict=True)])
            ids = (generate(self.net, enc, labels, self._decoding(), temperature, gens,
                            self._source(inputs, rows, enc))
                   if self.chains else [None] * len(rows))
        preds = []
        for r, k, p, seq in zip(rows, labels.tolist(), probs.tolist(), ids, strict=True):
            label = LABELS[k]
            chain = None
            if seq is not None:
                values = self.vocab.decode(seq, samples[r].target, self._words(inputs, r))
                chain = render_chain({**dict(zip(FIELDS[:4], values, strict=True)), "Prediction": label})
            preds.append(Prediction(label, chain, {lab: float(v) for lab, v in zip(LABELS, p, strict=True)}))
        return preds

    def _decoding(self) -> Decoding:
        s = self.s
        return Decoding(int(s["max_chain_tokens"]), int(s["no_repeat_ngram"]), str(s["no_repeat_scope"]),
                        float(s["repetition_penalty"]), bool(s["field_input"]))

    # persistence -----------------------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """``weights.safetensors`` (the trainable state) and ``model.json`` (vocabulary, flags, encoders, report)."""
        from safetensors.torch import save_file

        if self.net is None or self.vocab is None:
            raise RuntimeError(f"{self.card.name}: nothing to save before fit")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.net.state_dict().items()}, str(folder / WEIGHTS_FILE))
        meta = {"format": FORMAT, "model": self.card.name, "settings": self.s, "chains": self.chains,
                "vocab": self.vocab.tokens, **self.meta}
        (folder / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True))

    def load(self, folder: Path) -> None:
        from safetensors.torch import load_file

        folder = Path(folder)
        meta = json.loads((folder / META_FILE).read_text())
        if meta.get("format") != FORMAT:
            raise RuntimeError(f"{folder}: not a {FORMAT} folder")
        if meta.get("encoders") and meta["encoders"] != identities(self.s):
            raise RuntimeError(f"{folder} was trained on features from other encoder weights or layout")
        self.vocab = ChainVocab(meta["vocab"], bool(self.s["target_placeholder"]))
        self.chains = bool(meta["chains"])
        self.meta = {k: meta[k] for k in ("encoders", "report") if k in meta}
        self.net = self._build(len(self.vocab))
        self.net.load_state_dict(load_file(str(folder / WEIGHTS_FILE)))
        self.net.eval()
