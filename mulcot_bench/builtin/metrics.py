"""Built-in metrics, registered through the same hook a third-party plugin uses."""

from __future__ import annotations

from mulcot_bench.plugin.hookspecs import hookimpl
from mulcot_bench.plugin.specs import MetricSpec

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
    register(
        MetricSpec(
            "bleu4",
            "rationale",
            {"bleu4": "BLEU-4 (corpus, sacrebleu)"},
            f"{_M}.reasoning:CorpusBleu",
            uses_reference=True,
            percent=True,
        )
    )
    register(
        MetricSpec(
            "bertscore",
            "rationale",
            {"bertscore_p": "BERTScore-P", "bertscore_r": "BERTScore-R", "bertscore_f1": "BERTScore-F1"},
            f"{_M}.reasoning:BertScore",
            description="BERTScore with all-MiniLM-L6-v2 layer 6, no idf, not baseline-rescaled",
            summary=("bertscore_f1",),
            uses_reference=True,
            loads_model=True,
        )
    )
    register(
        MetricSpec(
            "format_valid", "rationale", {"format_valid": "five-field format rate"}, f"{_M}.reasoning:FormatRate"
        )
    )
    _register_depth(register)


def _register_depth(register) -> None:  # noqa: ANN001
    """The reference's reasoning metrics, chain checks and per-class scores (issue "Evaluation depth")."""
    from mulcot_bench.metrics.perclass import OUTPUTS

    register(
        MetricSpec(
            "bleu4_sentence",
            "rationale",
            {"bleu4_sentence": "BLEU-4 (sentence avg, reference variant)"},
            f"{_M}.bleu:SentenceBleu",
            description="sacrebleu sentence BLEU-4 per sample (13a, no smoothing, effective order), averaged, x100",
            uses_reference=True,
            percent=True,
        )
    )
    register(
        MetricSpec(
            "rouge_l",
            "rationale",
            {"rouge_l": "ROUGE-L F (13a tokens)"},
            f"{_M}.overlap:RougeL",
            description="per-sample ROUGE-L F1 from the LCS of 13a tokens (case kept, no stemming), averaged",
            summary=(),
            uses_reference=True,
        )
    )
    register(
        MetricSpec(
            "meteor",
            "rationale",
            {"meteor": "METEOR (exact+stem, nltk)"},
            f"{_M}.meteor:Meteor",
            description="NLTK METEOR per sample with exact and Porter-stem matching (no WordNet synonyms: no "
            "registry ships the corpus), 13a tokens lowercased, averaged",
            summary=(),
            uses_reference=True,
        )
    )
    register(
        MetricSpec(
            "distinct",
            "rationale",
            {"distinct_1": "Distinct-1 (generated)", "distinct_2": "Distinct-2 (generated)"},
            f"{_M}.overlap:Distinct",
            description="distinct n-grams / all n-grams of the generated rationales (the reference code scores "
            "its references by mistake)",
            summary=(),
        )
    )
    register(
        MetricSpec(
            "minilm_cosine",
            "rationale",
            {"minilm_cosine": "MiniLM cosine similarity (reference's semantic similarity)"},
            f"{_M}.embedding:MiniLMCosine",
            description="mean cosine of mean-pooled, L2-normalised all-MiniLM-L6-v2 embeddings; not BERTScore",
            uses_reference=True,
            loads_model=True,
        )
    )
    register(
        MetricSpec(
            "chain_consistency",
            "rationale",
            {"chain_consistency": "label-rationale consistency"},
            f"{_M}.chains:ChainConsistency",
            description="share of samples whose chain Prediction equals the label-prompt answer",
        )
    )
    register(
        MetricSpec(
            "chain_gold",
            "rationale",
            {"chain_gold": "chain-gold agreement"},
            f"{_M}.chains:ChainGold",
            description="share of samples whose chain Prediction equals the gold label",
        )
    )
    register(MetricSpec("per_class", "label", dict(OUTPUTS), f"{_M}.perclass:PerClass", summary=()))
