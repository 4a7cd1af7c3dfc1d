"""The replay teacher: serves saved chains by sample content, counts its misses, and can fall back.

``predict`` serves the first chain filed for the sample (declared files first, then the chain the dataset
attached to the sample); ``explain`` serves the first one whose Prediction is the gold label. A sample with
nothing to serve is a **miss**: ``Prediction(label=None, rationale=None, raw=None)``, which the pipeline
keeps as a label-only training item and counts, or, with a ``fallback`` teacher, that teacher's answer.
The fallback is looked up in the run's registry (handed over through ``use_registry``), so a teacher that only
the run's ``--plugins-dir`` registers, with the run's ``-o`` settings, is the one that answers.
Counts are in :attr:`ReplayTeacher.stats` and on one stderr line per call.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mulcot_bench.plugin import (
    LABELS,
    ModelCard,
    Prediction,
    Sample,
    Splits,
    UserError,
    file_sha256,
    get_logger,
    parse,
    parse_label,
)
from mulcot_replay.index import ReplayIndex
from mulcot_replay.settings import ENV_FALLBACK, ENV_FILES

if TYPE_CHECKING:
    from mulcot_bench.plugin import Registry

LOG_EVERY_S = 10.0


def _log(message: str) -> None:
    get_logger("replay").info(message)


def data_root() -> Path:
    """The data root a run uses without ``--data-root``: ``$MULCOT_BENCH_DATA_ROOT`` or the default folder."""
    from mulcot_bench.plugin import default_data_root

    return default_data_root()


class ReplayTeacher:
    """Serves saved rationales; never calls a model (except its optional fallback teacher)."""

    def __init__(self, card: ModelCard) -> None:
        self.card = card
        s = card.settings
        self.files: list[dict[str, Any]] = list(s.get("files") or [])
        for f in self.files:
            if f.get("sha256") is None or not Path(f["path"]).is_file():
                raise UserError(
                    f"replay file {f['path']} (declared in {ENV_FILES} or the card) does not exist; fix the path"
                )
        self.datasets = set(s.get("datasets") or ())
        self.use_dataset = bool(s.get("dataset_rationales", True))
        self.fallback_name: str | None = s.get("fallback") or None
        if self.fallback_name == card.name:
            raise UserError(f"{ENV_FALLBACK}={card.name!r} names the replay teacher itself; name another teacher")
        self._index: ReplayIndex | None = None
        self._fallback: Any = None
        self._registry: Registry | None = None
        self.stats: Counter[str] = Counter()
        self._logged: dict[str, float] = {}

    @staticmethod
    def asked(card: ModelCard, sample: Sample) -> dict[str, Any]:
        """Nothing asked: a saved chain is served by the sample's content (or the fallback teacher answers)."""
        s = card.settings
        return {
            "kind": "replay",
            "key": sample.content_hash,
            "files": [f.get("path") for f in (s.get("files") or [])],
            "dataset_rationales": bool(s.get("dataset_rationales", True)),
            "fallback": s.get("fallback") or None,
            "note": "the first saved chain filed for this content is served; no model is asked (a miss goes to "
            "the fallback teacher, if any, whose own prompt is not recorded here)",
        }

    # sources ---------------------------------------------------------------------------------------------
    def index(self) -> ReplayIndex:
        """The declared files, read once (their sha256 must still be the card's)."""
        if self._index is None:
            index = ReplayIndex()
            for f in self.files:
                path = Path(f["path"])
                if file_sha256(path) != f["sha256"]:
                    raise UserError(f"replay file {path} changed after the replay teacher was registered; rerun")
                n = index.load(path)
                _log(f"[{self.card.name}] {path}: {n} chains for {f['dataset']}")
            self._index = index
        return self._index

    def use_registry(self, registry: Registry) -> None:
        """The run's registry (the run calls this right after building the teacher): the fallback is found there."""
        self._registry = registry

    def fallback(self) -> Any:
        """The fallback teacher, built on first use from the run's registry."""
        if self._fallback is None:
            if self._registry is None:
                raise UserError(
                    f"the replay teacher's fallback {self.fallback_name!r} is looked up in the run's registry, and "
                    "this replay teacher was built without one; build it with spec.build(registry)"
                )
            spec = self._registry.model(str(self.fallback_name))
            if spec.card.role != "teacher":
                raise UserError(f"{ENV_FALLBACK}={self.fallback_name!r} is a {spec.card.role}; name a teacher")
            self._fallback = spec.build(self._registry)
        return self._fallback

    def candidates(self, sample: Sample) -> list[str]:
        """Every chain filed for this sample: declared files first, then the dataset's own chain."""
        chains = [r.chain for r in self.index().lookup(sample)] if self.files else []
        if self.use_dataset and sample.rationale and sample.rationale not in chains:
            chains.append(sample.rationale)
        return chains

    def supports(self, dataset: str, data: Splits | None = None) -> bool:
        """Whether it has chains for ``dataset``: declared files for it, or reference chains the loader attached
        to ``data`` (without ``data``: ``teacher_cot/*.json`` under ``$MULCOT_BENCH_DATA_ROOT`` or the default
        data root). Never the embedded synthetic set."""
        if any(f["dataset"] == dataset for f in self.files):
            return True
        if not self.use_dataset or dataset not in self.datasets:
            return False
        if data is not None:
            return any(s.rationale for split in ("train", "dev", "test") for s in data.split(split))
        folder = data_root() / dataset / "teacher_cot"
        return folder.is_dir() and any(folder.glob("*.json"))

    # the teacher contract --------------------------------------------------------------------------------
    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        out: list[Prediction | None] = []
        for s in samples:
            chains = self.candidates(s)
            if chains:
                self.stats["served"] += 1
                label = parse(chains[0]).prediction or parse_label(chains[0])  # the reference answer parser
                out.append(Prediction(label=label, rationale=chains[0]))
            else:
                out.append(None)
        return self._finish("predict", out, lambda idx: self.fallback().predict([samples[i] for i in idx]))

    def explain(self, samples: Sequence[Sample], gold_labels: Sequence[str]) -> list[Prediction]:
        bad = [g for g in gold_labels if g not in LABELS]
        if bad:
            raise ValueError(f"explain got gold label {bad[0]!r}, not one of {', '.join(LABELS)}")
        out: list[Prediction | None] = []
        for s, gold in zip(samples, gold_labels, strict=True):
            chain = next((c for c in self.candidates(s) if parse(c).valid and parse(c).prediction == gold), None)
            if chain is not None:
                self.stats["explain_served"] += 1
            out.append(Prediction(label=gold, rationale=chain) if chain is not None else None)
        return self._finish(
            "explain",
            out,
            lambda idx: self.fallback().explain([samples[i] for i in idx], [gold_labels[i] for i in idx]),
        )

    def _finish(
        self, call: str, out: list[Prediction | None], ask: Callable[[list[int]], list[Prediction]]
    ) -> list[Prediction]:
        """Fill the misses (from the fallback when there is one) and count them."""
        missed = [i for i, p in enumerate(out) if p is None]
        prefix = "" if call == "predict" else "explain_"
        by_fallback = 0
        if missed and self.fallback_name:
            answers = ask(missed)
            if not isinstance(answers, list) or len(answers) != len(missed):
                raise UserError(f"fallback teacher {self.fallback_name!r} returned a wrong number of answers")
            for i, p in zip(missed, answers, strict=True):
                out[i] = p
            by_fallback = len(missed)
            self.stats[f"{prefix}fallback"] += by_fallback
        elif missed:
            self.stats[f"{prefix}misses"] += len(missed)
        self.stats[f"{prefix}asked"] += len(out)
        self._report(call, prefix)
        return [p if p is not None else Prediction(label=None, rationale=None, raw=None) for p in out]

    def _report(self, call: str, prefix: str) -> None:
        """The running counts on stderr: on the first call of a kind, then at most every LOG_EVERY_S seconds."""
        now = time.monotonic()
        if now - self._logged.get(call, -LOG_EVERY_S) < LOG_EVERY_S:
            return
        self._logged[call] = now
        s = self.stats
        served = s[f"{prefix}served"]
        line = f"[{self.card.name}] {call} so far: {served}/{s[f'{prefix}asked']} served from saved chains"
        if self.fallback_name:
            line += f", {s[f'{prefix}fallback']} sent to fallback {self.fallback_name!r}"
        line += f", {s[f'{prefix}misses']} misses"
        _log(line + (" (kept as label-only items)" if call == "predict" and s[f"{prefix}misses"] else ""))
