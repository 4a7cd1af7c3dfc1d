"""Built-in metrics, registered through the same hook a third-party plugin uses."""

from __future__ import annotations

from mulcot_bench.hookspecs import hookimpl
from mulcot_bench.specs import MetricSpec

_M = "mulcot_bench.metrics"


@hookimpl
def register_metrics(register) -> None:  # noqa: ANN001
    register(MetricSpec("accuracy", "label", {"accuracy": "accuracy"}, f"{_M}.classification:Accuracy"))
    register(
        MetricSpec(
            "macro_f1", "label", {"macro_f1": "macro-F1"}, f"{_M}.classification:F1", options={"average": "macro"}
        )
    )
    register(
        MetricSpec(
            "weighted_f1",
            "label",
            {"weighted_f1": "weighted-F1"},
            f"{_M}.classification:F1",
            options={"average": "weighted"},
        )
    )
    register(MetricSpec("bleu4", "rationale", {"bleu4": "BLEU-4 (corpus, sacrebleu)"}, f"{_M}.reasoning:CorpusBleu"))
    register(
        MetricSpec(
            "bertscore",
            "rationale",
            {"bertscore_p": "BERTScore-P", "bertscore_r": "BERTScore-R", "bertscore_f1": "BERTScore-F1"},
            f"{_M}.reasoning:BertScore",
            description="BERTScore with all-MiniLM-L6-v2 layer 6, no idf, not baseline-rescaled",
        )
    )
    register(
        MetricSpec(
            "format_valid", "rationale", {"format_valid": "five-field format rate"}, f"{_M}.reasoning:FormatRate"
        )
    )
