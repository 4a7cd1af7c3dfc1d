"""The chain decoder: copying post words, the field input, decoding without repeats, labels untouched."""

from __future__ import annotations

import pytest
import torch
from enc_testutil import fitted
from mulcot_encoder.decode import Decoding, generate
from mulcot_encoder.features import load_inputs
from mulcot_encoder.net import Source, field_ids
from mulcot_encoder.vocab import EOS, SEP, TGT, ChainVocab

from mulcot_bench.plugin import parse

#: the grounded decoder's settings (opt-in on the cards)
GROUNDED = {"field_input": True, "copy": True, "no_repeat_ngram": 3, "no_repeat_scope": "field",
            "repetition_penalty": 1.5}  # fmt: skip


@pytest.fixture(scope="module")
def assistant(mulcot_data):  # noqa: ANN001, ANN201
    return fitted("enc-assistant", mulcot_data.train, mulcot_data.dev, **GROUNDED)[0]


def test_a_rare_post_word_is_one_copy_id_and_round_trips() -> None:
    vocab = ChainVocab.build([(["The text is about the game and the team."] * 4, None)], min_count=1)
    words = ["Zorblaxian", "game", "Lydia"]
    ids = vocab.copy_ids(words)
    assert ids[0] == len(vocab) and ids[2] == len(vocab) + 2  # no kept token writes " Zorblaxian" or " Lydia"
    assert ids[1] == vocab.index["Ġgame"]  # a kept token: copying it adds mass to that token
    fields = ["The tweet praises Zorblaxian for the game.", "'Zorblaxian' again, and Zorblaxians", "x", "Lydia wins"]
    encoded = vocab.encode(fields, "Lydia", words)
    assert encoded.count(len(vocab)) == 1  # after a space and a whole word only (not after a quote, not a prefix)
    assert TGT in encoded and len(vocab) + 2 not in encoded  # the target is the placeholder, not a copy
    assert encoded.count(SEP) == 3 and encoded[-1] == EOS
    assert vocab.decode(encoded, "Lydia", words) == fields
    assert len(encoded) < len(vocab.encode(fields, "Lydia"))  # one copy step instead of several sub-word steps


def test_post_words_point_at_their_own_minilm_tokens(mulcot_data) -> None:  # noqa: ANN001
    from mulcot_encoder.features import token_encoder
    from mulcot_features.store import features_root

    encoder = token_encoder(features_root(None), 128, 1)
    text, target = "Crazy hair day ! Lydia is a contender . : )", "Lydia"
    found = dict(encoder.words([(text, target)])[0])
    assert list(found) == ["Crazy", "hair", "day", "Lydia", "is", "a", "contender", "crazy", "lydia"]
    assert found["crazy"] == found["Crazy"]
    tokenizer = encoder.tokenizer()
    ids = tokenizer(target, text)["input_ids"]
    for word, rows in found.items():
        pieces = tokenizer.convert_ids_to_tokens([ids[j] for j in rows])
        assert "".join(p.removeprefix("##") for p in pieces) == word.lower()
    cached = encoder.encode([(text, target)])[0]
    assert cached.shape[0] == len(ids) and cached[found["Lydia"], -1].tolist() == [2.0] * len(found["Lydia"])


def test_field_ids_count_the_separators() -> None:
    inputs = torch.tensor([[1, 7, SEP, 8, SEP, SEP, 9, SEP, 4]])
    assert field_ids(inputs, SEP, 4).tolist() == [[0, 0, 1, 1, 2, 3, 3, 3, 3]]


def test_the_copy_mixture_is_a_distribution_over_vocabulary_and_post_words(assistant, mulcot_data) -> None:  # noqa: ANN001
    model = assistant
    test = mulcot_data.test[:4]
    inputs, _ = load_inputs(test, model.s)
    rows = list(range(len(test)))
    with torch.no_grad():
        enc = model.net.encode(inputs.batch(rows))
        source = model._source(inputs, rows, enc)
        assert isinstance(source, Source) and source.mask.any()
        seqs = [
            model.vocab.encode(["a b", "c", "d", "e"], s.target, model._words(inputs, r)) for r, s in enumerate(test)
        ]
        inp, _ = model._chain_batch(seqs)
        labels = torch.zeros(len(test), dtype=torch.long)
        log_probs, _ = model.net.decoder(enc, labels, inp, fields=field_ids(inp, SEP, 4), source=source)
    k = source.ids.shape[1]
    assert log_probs.shape[-1] == len(model.vocab) + k
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(log_probs.shape[:-1]), atol=1e-4)
    padding = ~source.mask  # a padding slot's own extended column gets nothing
    cols = log_probs.exp()[..., len(model.vocab) :]
    left = cols.permute(0, 2, 1)[padding]
    assert left.numel() == 0 or float(left.max()) < 1e-6


def _ngrams(ids: list[int], n: int) -> list[tuple[int, ...]]:
    body = [i for i in ids if i not in (SEP, EOS)]
    return [tuple(body[i : i + n]) for i in range(len(body) - n + 1)]


def test_decoding_never_repeats_an_ngram_in_its_scope(assistant, mulcot_data) -> None:  # noqa: ANN001
    model = assistant
    test = mulcot_data.test
    inputs, _ = load_inputs(test, model.s)
    rows = list(range(len(test)))
    with torch.no_grad():
        enc = model.net.encode(inputs.batch(rows))
        source = model._source(inputs, rows, enc)
    labels = torch.zeros(len(test), dtype=torch.long)
    free = generate(model.net, enc, labels, Decoding(60, 0, "chain", 1.0, True), source=source)
    chain = generate(model.net, enc, labels, Decoding(60, 2, "chain", 1.0, True), source=source)
    field = generate(model.net, enc, labels, Decoding(60, 2, "field", 1.0, True), source=source)
    assert any(len(set(_ngrams(q, 2))) < len(_ngrams(q, 2)) for q in free)  # the tiny decoder loops unchecked
    assert all(len(set(_ngrams(q, 2))) == len(_ngrams(q, 2)) for q in chain)
    for q in field:
        parts, cur = [], []
        for i in q:
            if i in (SEP, EOS):
                parts.append(cur)
                cur = []
            else:
                cur.append(i)
        assert all(len(set(_ngrams(p, 2))) == len(_ngrams(p, 2)) for p in [*parts, cur])
    penalised = generate(model.net, enc, labels, Decoding(60, 0, "chain", 1e30, True), source=source)
    for q in penalised:  # log(1e30) = 69 nats, more than any two log-probabilities differ (>= log 1e-12)
        body = [i for i in q if i not in (SEP, EOS)]
        assert len(set(body)) == len(body)
    with pytest.raises(ValueError, match="no_repeat_scope"):
        Decoding(10, 3, "post")


def test_the_chain_decoder_leaves_the_label_answer_alone(assistant, mulcot_data) -> None:  # noqa: ANN001
    plain, _ = fitted(
        "enc-assistant",
        mulcot_data.train,
        mulcot_data.dev,
        copy=False,
        field_input=False,
        no_repeat_ngram=5,
        no_repeat_scope="field",
    )
    with_copy = assistant.predict(mulcot_data.test)
    without = plain.predict(mulcot_data.test)
    assert [p.probs for p in with_copy] == [p.probs for p in without]
    assert [p.rationale for p in with_copy] != [p.rationale for p in without]
    assert all(parse(p.rationale).valid for p in without)
