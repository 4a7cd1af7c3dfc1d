from mulcot_bench.rationale import FIELDS, parse, parse_label, render_chain


def _chain(label: str = "negative") -> str:
    return render_chain({f: f"about {f.lower()}" for f in FIELDS[:-1]} | {"Prediction": label})


def test_render_then_parse_is_valid_and_keeps_label() -> None:
    chain = parse(_chain("neutral"))
    assert chain.valid
    assert chain.prediction == "neutral"
    assert chain.fields["Text_analysis"] == "about text_analysis"


def test_missing_or_reordered_fields_are_invalid() -> None:
    text = _chain()
    assert not parse(text.replace('"Image_analysis"', '"Imageanalysis"')).valid
    blocks = text.split("\n\n")
    assert not parse("\n\n".join([blocks[1], blocks[0], *blocks[2:]])).valid


def test_json_style_chain_parses() -> None:
    body = ",\n".join(f'  "{f}": "x {f}"' for f in FIELDS[:-1])
    text = "```json\n{\n" + body + ',\n  "Prediction": "positive"\n}\n```'
    chain = parse(text)
    assert chain.valid and chain.prediction == "positive"


def test_render_refuses_missing_field() -> None:
    import pytest

    with pytest.raises(ValueError, match="Prediction"):
        render_chain({f: "x" for f in FIELDS[:-1]})


def test_parse_label_rules() -> None:
    assert parse_label('"Prediction": "negative"') == "negative"
    assert parse_label("positive at first. Prediction: Neutral, not negative") == "neutral"
    assert parse_label("it is positive, or maybe negative") == "negative"
    assert parse_label("no idea") is None
    assert parse_label(None) is None


def test_released_parser_reads_only_whole_label_words() -> None:
    from mulcot_bench.rationale import label_parser, parse_label_released

    # the project's parser finds a label in these; the released code's split on quotes, dots, colons, commas and
    # white space leaves "positive!", "(positive)" and "neutral-to-positive", which are no label: scored wrong
    for reply in ('"Prediction": positive!', '"Prediction": (positive)', '"Prediction": neutral-to-positive'):
        assert parse_label(reply) is not None and parse_label_released(reply) is None
    assert parse_label_released('"Prediction": "Negative".') == "negative"
    assert parse_label_released("positive at first. Prediction: Neutral, not negative") == "neutral"
    assert parse_label_released("it is positive, or maybe negative") == "negative"  # no "Prediction": the last
    # "Prediction" present but no label word after it: wrong, where the project's parser falls back to the text before
    assert parse_label_released("positive. Prediction: unclear") is None and parse_label("positive. Prediction: x")
    assert parse_label_released("prediction: positive") == "positive"  # lowercase prefix: the last label word
    assert label_parser("released") is parse_label_released and label_parser("project") is parse_label
