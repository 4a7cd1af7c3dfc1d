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
    _register_health(register)


def _register_depth(register) -> None:  # noqa: ANN001
    """The reference's reasoning metrics, then the chain checks and per-class scores, then the release's variants."""
    register(
        MetricSpec(
            "bleu4_sentence",
            "rationale",
            {"bleu4_sentence": "BLEU-4 (sentence avg, effective order)"},
            f"{_M}.bleu:SentenceBleu",
            description="sacrebleu sentence BLEU-4 per sample (13a, no smoothing, effective order: a hypothesis under "
            "4 tokens is scored on the orders it has), averaged, x100",
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
            {"minilm_cosine": "MiniLM cosine similarity (sentence-transformers, reference)"},
            f"{_M}.embedding:MiniLMCosine",
            description="mean cosine of sentence-transformers all-MiniLM-L6-v2 embeddings, as the MulCoT-RD release "
            "computes its semantic similarity; not BERTScore",
            uses_reference=True,
            loads_model=True,
        )
    )
    _register_checks(register)
    _register_reference_variants(register)


def _register_checks(register) -> None:  # noqa: ANN001
    """The chain checks (chain vs label answer, chain vs gold) and the per-class scores."""
    from mulcot_bench.metrics.perclass import OUTPUTS

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


def _register_reference_variants(register) -> None:  # noqa: ANN001
    """The MulCoT-RD release's own metric implementations, beside ours where they differ (docs/metrics.md)."""
    variants = f"{_M}.reference_variants"
    register(
        MetricSpec(
            "bleu4_sentence_ref",
            "rationale",
            {"bleu4_sentence_ref": "BLEU-4 (sentence avg, order 4, no smoothing, reference)"},
            f"{variants}:ReferenceSentenceBleu",
            description="sentence BLEU-4 per sample as the MulCoT-RD release computes it (13a, no smoothing, no "
            "effective order: a hypothesis under 4 tokens scores 0), averaged, x100",
            summary=(),
            uses_reference=True,
            percent=True,
        )
    )
    register(
        MetricSpec(
            "rouge_l_ref",
            "rationale",
            {"rouge_l_ref": "ROUGE-L F (rouge package, reference)"},
            f"{variants}:ReferenceRougeL",
            description="the rouge package's ROUGE-L F per sample (summary-level LCS over '.'-split sentences, "
            "whitespace tokens, beta = P/R), averaged",
            summary=(),
            uses_reference=True,
        )
    )
    register(
        MetricSpec(
            "meteor_ref",
            "rationale",
            {"meteor_ref": "METEOR (nltk, Treebank tokens, WordNet synonyms where installed, reference)"},
            f"{variants}:ReferenceMeteor",
            description="NLTK meteor_score per sample on lowercased Treebank tokens with stem and WordNet 3.0 "
            "synonym matching (the signature says synonyms:none where WordNet is not installed), averaged",
            summary=(),
            uses_reference=True,
        )
    )
    register(
        MetricSpec(
            "distinct_ref",
            "rationale",
            {
                "distinct_1_ref": "Distinct-1 (generated, per-text mean, reference)",
                "distinct_2_ref": "Distinct-2 (generated, per-text mean, reference)",
            },
            f"{variants}:ReferenceDistinct",
            description="mean over generated rationales of distinct / all n-grams of lowercased Treebank tokens "
            "(the release's definition, applied to generations, not to its references)",
            summary=(),
        )
    )


def _register_health(register) -> None:  # noqa: ANN001
    """Reasoning health of the generated chains: repetition, grounding in the post, field topics (docs/metrics.md)."""
    health = f"{_M}.health"
    register(
        MetricSpec(
            "repetition",
            "rationale",
            {"repeated_trigrams": "repeated trigrams (share)"},
            f"{health}:Repetition",
            description="per chain, the share of its lower-cased word 3-grams that repeat an earlier 3-gram of the "
            "same chain (lower is better), averaged",
            lower_is_better=("repeated_trigrams",),
        )
    )
    register(
        MetricSpec(
            "grounding",
            "rationale",
            {
                "post_words_used": "post words used (share)",
                "target_mentioned": "target mentioned (share)",
                "image_facts_used": "reference image facts used (share)",
            },
            f"{health}:Grounding",
            description="per chain: the share of the post's content words it uses; whether it names the aspect "
            "target; the share of the reference Image_analysis words absent from the post that its Image_analysis "
            "uses; each averaged over the chains where it is defined",
            summary=("post_words_used", "image_facts_used"),
        )
    )
    register(
        MetricSpec(
            "field_topic",
            "rationale",
            {"field_topic": "fields on their own topic (share)"},
            f"{health}:FieldTopic",
            description="per chain, the share of its four free-text fields that a naive Bayes classifier fitted on "
            "the other reference chains assigns to their own field name, averaged",
            uses_reference=True,
        )
    )
