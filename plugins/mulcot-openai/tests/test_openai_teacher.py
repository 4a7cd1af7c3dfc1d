"""The openai teacher and zero-shot baseline against the fake endpoint: success, each failure mode, the key."""

from __future__ import annotations

import json
import time

import pytest
from fake_openai_server import KEY, FakeOpenAI
from mulcot_openai.client import retry_after_seconds
from mulcot_openai.model import OpenAITeacher, OpenAIZeroShot, data_url
from mulcot_openai.settings import TEACHER_KINDS, ZERO_SHOT_KINDS, Transport, card_settings

from mulcot_bench.errors import ModelUnavailable, UserError
from mulcot_bench.rationale import parse
from mulcot_bench.types import ModelCard, Sample

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
FAST = Transport(timeout_s=0.5, max_attempts=3, backoff_s=0.01, backoff_max_s=0.05, concurrency=4)


def card(name: str = "openai", role: str = "teacher", kinds: tuple[str, ...] = TEACHER_KINDS, **extra: object):
    return ModelCard(name, role, "test", settings={**card_settings(kinds), **extra}, default=False)  # type: ignore[arg-type]


def teacher(**extra: object) -> OpenAITeacher:
    return OpenAITeacher(card(**extra), transport=FAST)


def sample(i: int, tags: str = "", gold: str = "positive", image: bytes | None = PNG) -> Sample:
    return Sample(f"s{i}", f"post {i} about the match {tags} [gold={gold}]", gold, target="the match", image=image)


def test_success_sends_the_image_inline_and_the_key_as_bearer(endpoint: FakeOpenAI) -> None:
    model = teacher()
    samples = [sample(0), sample(1, gold="negative"), sample(2, gold="neutral", image=None)]
    preds = model.predict(samples)
    assert [p.label for p in preds] == ["positive", "negative", "neutral"]
    for p in preds:
        assert parse(p.rationale).valid and parse(p.rationale).prediction == p.label
    assert endpoint.count() == 3 and model.stats["requests"] == 3 and model.stats.get("retries", 0) == 0
    by_text = {r["text"]: r for r in endpoint.requests}
    first = by_text[samples[0].text]
    assert first["path"] == "/v1/chat/completions"
    assert first["auth"] == f"Bearer {KEY}"
    assert first["body"]["model"] == "fake-vlm" and first["body"]["temperature"] == 0.0
    assert first["images"] == [data_url(PNG)] and first["images"][0].startswith("data:image/png;base64,")
    assert by_text[samples[2].text]["images"] == []  # no image, no image part
    assert 'toward one target: "the match"' in first["prompt"]


def test_429_waits_for_retry_after(endpoint: FakeOpenAI) -> None:
    model = teacher()
    start = time.perf_counter()
    [pred] = model.predict([sample(0, "[429]")])
    assert time.perf_counter() - start >= 1.0  # Retry-After: 1 honoured
    assert pred.label == "positive"
    assert endpoint.count() == 2 and model.stats["rate_limited"] == 1 and model.stats["retries"] == 1


def test_500_is_retried(endpoint: FakeOpenAI) -> None:
    model = teacher()
    [pred] = model.predict([sample(0, "[500]")])
    assert pred.label == "positive" and model.stats["server_errors"] == 1 and endpoint.count() == 2


def test_timeout_is_retried(endpoint: FakeOpenAI) -> None:
    endpoint.delay = 1.5
    model = teacher()
    [pred] = model.predict([sample(0, "[timeout]")])
    assert pred.label == "positive" and model.stats["timeouts"] == 1 and endpoint.count() == 2


@pytest.mark.parametrize("tag", ["[garbage]", "[html]", "[truncated]"])
def test_unusable_reply_is_counted_and_retried(endpoint: FakeOpenAI, tag: str) -> None:
    model = teacher()
    [pred] = model.predict([sample(0, tag)])
    assert pred.label == "positive" and parse(pred.rationale).valid
    assert model.stats["malformed" if tag != "[truncated]" else "truncated"] == 1
    assert endpoint.count() == 2


def test_reply_without_the_five_fields_becomes_an_invalid_item(endpoint: FakeOpenAI) -> None:
    model = teacher()
    preds = model.predict([sample(0, "[nofields]"), sample(1)])
    assert preds[0].label is None and preds[0].rationale is None
    assert "I would say" in (preds[0].raw or "")
    assert preds[1].label == "positive"  # the rest of the batch goes on
    assert model.stats["invalid_format"] == 3  # first try + format_retries=2
    assert model.stats["invalid_items"] == 1 and preds[0].failed is None  # a real reply: scored invalid


def test_persistent_5xx_gives_up_after_bounded_attempts(endpoint: FakeOpenAI) -> None:
    model = teacher()
    [pred, ok] = model.predict([sample(0, "[down]"), sample(1)])
    assert pred.label is None and model.stats["server_errors"] == FAST.max_attempts
    assert pred.failed and "HTTP 503" in pred.failed and pred.raw is None  # no answer: never cached or scored
    assert ok.label == "positive" and ok.failed is None
    assert model.stats["failed"] == 1 and endpoint.count() == FAST.max_attempts + 1
    # counters add up: every item asked is answered or failed; attempts are the HTTP requests
    assert model.stats["requests"] == model.stats["answered"] + model.stats["failed"] == 2
    assert model.stats["attempts"] == endpoint.count() and model.stats.get("invalid_items", 0) == 0


def test_explain_names_the_gold_label(endpoint: FakeOpenAI) -> None:
    model = teacher()
    preds = model.explain([sample(0, gold="negative")], ["negative"])
    assert preds[0].label == "negative"
    assert "annotated as negative" in endpoint.requests[0]["prompt"]
    with pytest.raises(ValueError, match="gold label 'meh'"):
        model.explain([sample(0)], ["meh"])


def test_zero_shot_takes_the_label_from_the_label_prompt(endpoint: FakeOpenAI) -> None:
    model = OpenAIZeroShot(card("openai-zero-shot", "baseline", ZERO_SHOT_KINDS), transport=FAST)
    preds = model.predict([sample(0, "[wrong]"), sample(1, gold="negative")])
    assert [p.label for p in preds] == ["positive", "negative"]
    assert parse(preds[0].rationale).prediction == "neutral"  # the chain is scored separately (consistency)
    kinds = sorted(r["kind"] for r in endpoint.requests)
    assert kinds == ["chain", "chain", "label", "label"]
    assert model.stats.get("invalid_items", 0) == 0


def test_zero_shot_counts_an_invalid_item_once(endpoint: FakeOpenAI) -> None:
    model = OpenAIZeroShot(card("openai-zero-shot", "baseline", ZERO_SHOT_KINDS), transport=FAST)
    [pred] = model.predict([sample(0, "[echo]")])  # neither the chain nor the label reply is usable
    assert pred.label is None and pred.failed is None
    assert model.stats["invalid_items"] == 1 and model.stats["requests"] == model.stats["answered"] == 2
    assert model.stats["attempts"] == 6  # each reply asked again twice (format_retries)
    assert any("Reply with the label only" in r["prompt"] for r in endpoint.requests)


def test_no_endpoint_is_model_unavailable_naming_the_variables() -> None:
    with pytest.raises(ModelUnavailable, match="MULCOT_OPENAI_BASE_URL and MULCOT_OPENAI_MODEL"):
        teacher()


def test_refused_connection_is_model_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MULCOT_OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("MULCOT_OPENAI_MODEL", "m")
    monkeypatch.setenv("MULCOT_OPENAI_API_KEY", KEY)
    with pytest.raises(ModelUnavailable) as info:
        teacher().predict([sample(0)])
    message = str(info.value)
    assert f"http://127.0.0.1:{port}/v1/chat/completions" in message and "MULCOT_OPENAI_BASE_URL" in message
    assert "\n" not in message and KEY not in message


def test_the_key_never_leaks(endpoint: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    model = teacher()
    preds = model.predict([sample(0, "[echo]"), sample(1, "[nofields]"), sample(2, "[html]")])
    assert preds[0].label is None and "Bearer ***" in (preds[0].raw or "")
    with pytest.raises(ModelUnavailable) as info:
        model.predict([sample(3, "[401]")])
    assert "MULCOT_OPENAI_API_KEY" in str(info.value)
    captured = capsys.readouterr()
    blobs = [
        json.dumps([p.to_json() for p in preds]),
        json.dumps(model.stats),
        str(info.value),
        captured.err,
        captured.out,
        json.dumps(model.card.settings),
        repr(model.card),
    ]
    assert endpoint.requests[0]["auth"] == f"Bearer {KEY}"  # it was sent ...
    for blob in blobs:
        assert KEY not in blob  # ... and is nowhere else


def test_a_key_in_settings_is_refused(endpoint: FakeOpenAI) -> None:
    with pytest.raises(UserError, match="never put an API key in settings"):
        teacher(api_key="sk-oops")


def test_bad_environment_values_are_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MULCOT_OPENAI_BASE_URL", "localhost:8000/v1")
    with pytest.raises(UserError, match="must start with http"):
        card_settings(TEACHER_KINDS)
    monkeypatch.setenv("MULCOT_OPENAI_BASE_URL", "http://me:secret@h:1/v1")
    with pytest.raises(UserError, match="must not carry credentials"):
        card_settings(TEACHER_KINDS)
    monkeypatch.setenv("MULCOT_OPENAI_BASE_URL", "http://h:1/v1/chat/completions/")
    monkeypatch.setenv("MULCOT_OPENAI_TEMPERATURE", "warm")
    with pytest.raises(UserError, match="MULCOT_OPENAI_TEMPERATURE='warm'"):
        card_settings(TEACHER_KINDS)
    monkeypatch.delenv("MULCOT_OPENAI_TEMPERATURE")
    assert card_settings(TEACHER_KINDS)["base_url"] == "http://h:1/v1"


def test_retry_after_forms() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert 0 <= retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # type: ignore[operator]


def _text_only_server() -> FakeOpenAI:
    return FakeOpenAI(text_only=True)


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_text_only_server_works_with_images_auto_and_off(monkeypatch: pytest.MonkeyPatch, mode: str, capsys) -> None:
    """A text-only model behind llama-cpp-python's server: 500 to list content; plain strings work."""
    with _text_only_server() as server:
        monkeypatch.setenv("MULCOT_OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("MULCOT_OPENAI_MODEL", "smol")
        monkeypatch.setenv("MULCOT_OPENAI_IMAGES", mode)
        samples = [sample(i, gold=g) for i, g in enumerate(["positive", "negative", "neutral"])]
        samples.append(sample(3, gold="negative", image=None))
        t = OpenAITeacher(card(), transport=FAST)
        assert t.card.settings["images"] == mode  # the choice is on the card (so in results and the identity)
        preds = t.predict(samples) + t.explain(samples[:1], ["negative"])
        z = OpenAIZeroShot(card("openai-zero-shot", "baseline", ZERO_SHOT_KINDS), transport=FAST)
        zs = z.predict(samples)
        assert [p.label for p in preds] == ["positive", "negative", "neutral", "negative", "negative"]
        assert [p.label for p in zs] == ["positive", "negative", "neutral", "negative"]
        answered = [r for r in server.requests if not r["listed"]]
        assert all(isinstance(r["body"]["messages"][0]["content"], str) for r in answered)
        refused = [r for r in server.requests if r["listed"]]
        if mode == "off":
            assert not refused and t.stats.get("images_dropped", 0) == 0
        else:  # each model learns it once (a few concurrent first requests may each be refused), then sends text
            assert 1 <= len(refused) <= FAST.concurrency * 2
            assert t.stats["images_dropped"] == 1 and z.stats["images_dropped"] == 1
            assert capsys.readouterr().err.count("sent text only from now on") == 2


def test_images_on_sends_images_and_a_text_only_server_fails_the_items(monkeypatch: pytest.MonkeyPatch) -> None:
    with _text_only_server() as server:
        monkeypatch.setenv("MULCOT_OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("MULCOT_OPENAI_MODEL", "smol")
        monkeypatch.setenv("MULCOT_OPENAI_IMAGES", "on")
        t = OpenAITeacher(card(), transport=FAST)
        [pred, no_image] = t.predict([sample(0), sample(1, image=None)])
        assert pred.failed and pred.label is None  # never an answer: not cached, not scored
        assert no_image.label == "positive"  # a post without an image is a plain string in every mode


def test_bad_images_mode_is_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MULCOT_OPENAI_IMAGES", "maybe")
    with pytest.raises(UserError, match="MULCOT_OPENAI_IMAGES='maybe'"):
        card_settings(TEACHER_KINDS)


def test_openai_sdk_variables_are_fallbacks(endpoint: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MULCOT_OPENAI_BASE_URL")
    monkeypatch.delenv("MULCOT_OPENAI_API_KEY")
    monkeypatch.setenv("OPENAI_BASE_URL", endpoint.url + "/")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    t = OpenAITeacher(card(), transport=FAST)
    assert t.card.settings["base_url"] == endpoint.url and KEY not in repr(t.card.settings)
    assert t.predict([sample(0)])[0].label == "positive"
    assert endpoint.requests[0]["auth"] == f"Bearer {KEY}"
    monkeypatch.setenv("MULCOT_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # ours win over the SDK's
    assert card().settings["base_url"] == "http://127.0.0.1:9/v1"


def test_probe_fails_fast_on_a_refused_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MULCOT_OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("MULCOT_OPENAI_MODEL", "m")
    start = time.perf_counter()
    with pytest.raises(ModelUnavailable, match=f"127.0.0.1:{port}/v1/models"):
        OpenAITeacher.probe(card())
    assert time.perf_counter() - start < 5


def test_probe_passes_against_a_server_without_a_models_route(endpoint: FakeOpenAI) -> None:
    OpenAITeacher.probe(card())  # the fake answers 501 to GET: a server that is there
