"""Chain checks as rates: does the chain's Prediction agree with the label answer, and with gold?

The chain's label is read with the reference's answer parser (:func:`mulcot_bench.rationale.parse_label`:
the first label after the word "Prediction", else the last label named), so ``"Prediction": "x"`` fields
and markdown ``### Prediction`` headings both count. A chain naming no label never agrees.
"""

from __future__ import annotations

from collections.abc import Sequence

from mulcot_bench.cache import Cache
from mulcot_bench.rationale import parse_label
from mulcot_bench.scoring.metric import SampleScores
from mulcot_bench.types import Prediction, Sample

_PARSER = "mulcot_bench.rationale.parse_label (first label after 'Prediction', else last label)"


def chain_label(rationale: str | None) -> str | None:
    """The label a reasoning chain states, or None."""
    return parse_label(rationale)


def consistent(pred: Prediction) -> bool:
    """The chain's label equals the label-prompt answer (an unparseable answer is never consistent)."""
    return pred.label is not None and chain_label(pred.rationale) == pred.label


def agrees_with_gold(sample: Sample, pred: Prediction) -> bool:
    """The chain's label equals the gold label."""
    return chain_label(pred.rationale) == sample.label


class ChainConsistency:
    """Share of samples whose chain Prediction equals the separate label-prompt answer."""

    def signature(self) -> str:
        return f"label-rationale consistency rate|chain label: {_PARSER}|vs Prediction.label|invalid=inconsistent"

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]:
        if not preds or all(p.rationale is None for p in preds):
            return {"chain_consistency": None}
        return {"chain_consistency": sum(consistent(p) for p in preds) / len(preds)}

    def per_sample(self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None) -> SampleScores:
        out = SampleScores(len(gold))
        out.add_mean("chain_consistency", [float(consistent(p)) for p in preds])
        return out


class ChainGold:
    """Share of samples whose chain Prediction equals the gold label (accuracy of the chain's own answer)."""

    def signature(self) -> str:
        return f"chain-gold agreement rate|chain label: {_PARSER}|no label=wrong"

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]:
        if not preds or all(p.rationale is None for p in preds):
            return {"chain_gold": None}
        return {"chain_gold": sum(agrees_with_gold(s, p) for s, p in zip(gold, preds, strict=True)) / len(preds)}

    def per_sample(self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None) -> SampleScores:
        out = SampleScores(len(gold))
        out.add_mean("chain_gold", [float(agrees_with_gold(s, p)) for s, p in zip(gold, preds, strict=True)])
        return out
