"""Fast fake models for the crash, fault and security tests (a local plugin file, loaded with --plugins-dir).

Every model appends one line per sample it answers to ``$FAKE_CALLS_FILE`` (model, method, sample content
hash), after computing the batch and before returning it, so a test can count what was asked twice.
``fake-fit`` (each training epoch) and ``fake-predict`` (each predict call) are failpoints
(:func:`mulcot_bench.faults.failpoint`). The ``fault`` setting picks a misbehaviour of the ``Faulty`` models
(opt-in: not in ``--all``): ``raise`` (on batches holding a sample whose content hash starts with 0-3),
``count`` (one output too few), ``hang`` (sleeps far past any timeout), ``type`` (returns strings);
``count-faulty`` has none. ``count-keyed`` reads ``$MULCOT_OPENAI_API_KEY`` and
echoes it (in a setting, in its raw outputs; ``count-keyed-fails`` in an error): it must never show up in
what a run writes.
Outputs depend on each sample alone, never on its batch.
"""

import hashlib
import json
import os
import time

from mulcot_bench.faults import failpoint
from mulcot_bench.plugin.hookspecs import hookimpl
from mulcot_bench.plugin.specs import ModelSpec
from mulcot_bench.rationale import FIELDS, render_chain
from mulcot_bench.types import ModelCard, Prediction

LABELS = ("positive", "neutral", "negative")


def _record(model, method, samples):
    path = os.environ.get("FAKE_CALLS_FILE")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("".join(f"{model}\t{method}\t{s.content_hash}\n" for s in samples))
        fh.flush()
        os.fsync(fh.fileno())


def _h(sample, salt=""):
    return int(hashlib.sha256(f"{salt}{sample.content_hash}".encode()).hexdigest()[:8], 16)


def chain(label):
    return render_chain({f: f"{f.lower()} words" for f in FIELDS[:-1]} | {"Prediction": label})


class Teacher:
    """Gold label, except one item in five said 'neutral'; explains any gold label."""

    def __init__(self, card):
        self.card = card

    def predict(self, samples):
        out = []
        for s in samples:
            label = s.label if _h(s) % 5 else "neutral"
            # chains only where training needs them: scoring chains would load a sentence encoder (slow)
            out.append(Prediction(label, chain(label) if s.id.startswith("train") else None))
        _record(self.card.name, "predict", samples)
        return out

    def explain(self, samples, gold):
        _record(self.card.name, "explain", samples)
        return [Prediction(g, chain(g)) for g in gold]


class Memoriser:
    """Trainable: remembers training labels by content over a few 'epochs'; saves and loads JSON."""

    def __init__(self, card):
        self.card = card
        self.table = None
        self.fallback = "neutral"

    def fit(self, train, dev, ctx):
        for _epoch in range(int(self.card.settings.get("epochs", 3))):
            failpoint("fake-fit")
            time.sleep(0.05)
        self.table = table = {s.content_hash: s.label for s in train}
        labels = [s.label for s in train]
        self.fallback = max(LABELS, key=labels.count)
        return {"n_train": len(train), "params": len(table)}

    def save(self, folder):
        (folder / "table.json").write_text(json.dumps({"table": self.table, "fallback": self.fallback}))

    def load(self, folder):
        data = json.loads((folder / "table.json").read_text())
        self.table, self.fallback = data["table"], data["fallback"]

    def predict(self, samples):
        failpoint("fake-predict")
        shift = int(self.card.settings.get("shift", 0))
        out = []
        for s in samples:
            label = self.table.get(s.content_hash) or LABELS[(_h(s, "p") + shift) % 3]
            out.append(Prediction(label, None, {lab: 0.8 if lab == label else 0.1 for lab in LABELS}))
        _record(self.card.name, "predict", samples)
        return out

    def sample(self, samples, temperature, seed):
        out = [Prediction(None, chain(LABELS[_h(s, f"{seed}") % 3])) for s in samples]
        _record(self.card.name, "sample", samples)
        return out


class Rule:
    """Not trainable: a label from the content hash (depends on the 'shift' setting)."""

    def __init__(self, card):
        self.card = card

    def predict(self, samples):
        failpoint("fake-predict")
        shift = int(self.card.settings.get("shift", 0))
        out = [Prediction(LABELS[(_h(s) + shift) % 3]) for s in samples]
        _record(self.card.name, "predict", samples)
        return out


class Faulty(Rule):
    """Misbehaves as its ``fault`` setting says."""

    def predict(self, samples):
        fault = self.card.settings.get("fault", "")
        if fault == "raise" and any(s.content_hash[0] in "0123" for s in samples):
            raise RuntimeError("faulty model raised on purpose")
        if fault == "count":
            return super().predict(samples)[:-1]
        if fault == "hang":
            time.sleep(3600)
        if fault == "type":
            return ["positive" for _ in samples]
        return super().predict(samples)


class Keyed(Rule):
    """A careless hosted-model client: reads an API key and echoes it in its raw output (or in an error)."""

    def __init__(self, card):
        super().__init__(card)
        self.key = os.environ.get("MULCOT_OPENAI_API_KEY", "")

    def predict(self, samples):
        if self.card.settings.get("fail"):
            raise RuntimeError(f"401 Unauthorized: key {self.key} was rejected")
        out = super().predict(samples)
        return [Prediction(p.label, raw=f"sent with Authorization: Bearer {self.key}") for p in out]


@hookimpl
def register_models(register):
    def card(name, role, default=True, **kw):
        return ModelCard(name, role, f"fake {role}", rationale=False, settings={"version": 1, **kw}, default=default)

    register(ModelSpec(card("count-teacher", "teacher"), Teacher))
    register(ModelSpec(card("count-assistant", "assistant", epochs=3), Memoriser))
    register(ModelSpec(card("count-student", "student", epochs=3, shift=1), Memoriser))
    register(ModelSpec(card("count-rule", "baseline"), Rule))
    register(ModelSpec(card("count-rule-shifted", "baseline", shift=1), Rule))
    register(ModelSpec(card("count-faulty", "baseline"), Faulty))
    for fault in ("raise", "count", "hang", "type"):
        register(ModelSpec(card(f"count-{fault}", "baseline", default=False, fault=fault), Faulty))
    register(ModelSpec(card("count-unimportable", "baseline", default=False), "no_such_module_for_mulcot:Model"))
    endpoint = f"https://api.example/v1?key={os.environ.get('MULCOT_OPENAI_API_KEY', '')}"  # careless, on purpose
    register(ModelSpec(card("count-keyed", "baseline", default=False, endpoint=endpoint), Keyed))
    register(ModelSpec(card("count-keyed-fails", "baseline", default=False, fail=True), Keyed))
