"""The openai teacher in the real pipeline stage with a real cache; registration; the network boundary."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fake_openai_server import KEY, FakeOpenAI
from mulcot_openai.model import OpenAITeacher
from mulcot_openai.settings import Transport

from mulcot_bench.cache import Cache
from mulcot_bench.plugin.registry import plugin_registry
from mulcot_bench.rationale import parse
from mulcot_bench.runner.pipeline import DatasetPipeline
from mulcot_bench.runner.stages import cached_calls, teacher_rationales
from mulcot_bench.types import Sample, Splits

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 16
FAST = Transport(timeout_s=2.0, max_attempts=3, backoff_s=0.01, backoff_max_s=0.05, concurrency=3)


def _samples() -> list[Sample]:
    golds = ["positive", "negative", "neutral", "positive", "negative"]
    tags = ["", "[wrong]", "", "[wrong] [500]", "[429]"]
    return [
        Sample(f"t{i}", f"tweet {i} on the final {t} [gold={g}]", g, target="the final", image=PNG)
        for i, (g, t) in enumerate(zip(golds, tags, strict=True))
    ]


def _registry():
    return plugin_registry("mulcot_openai.plugin")


def test_wrong_label_gets_the_explain_prompt_and_a_rerun_sends_nothing(endpoint: FakeOpenAI, tmp_path: Path) -> None:
    registry = _registry()
    spec = registry.model("openai")
    data = Splits("fake", "aspect", _samples(), [], _samples()[:2])
    ident = DatasetPipeline(registry, data, Cache(tmp_path / "id"), 0, ["openai"]).identity("openai")
    cache = Cache(tmp_path / "cache")
    built: list[OpenAITeacher] = []

    def make() -> OpenAITeacher:
        if not built:
            built.append(OpenAITeacher(spec.card, transport=FAST))
        return built[0]

    kept, counts = teacher_rationales(cache, ident, make, "openai", data.train)
    assert counts["train"] == 5 and counts["kept_as_predicted"] == 3 and counts["corrected"] == 2
    assert counts["rejected"] == 0 and counts.get("label_only", 0) == 0
    assert [s.id for s in kept] == [s.id for s in data.train]
    for s in kept:
        chain = parse(s.rationale)
        assert chain.valid and chain.prediction == s.label
    explains = [r for r in endpoint.requests if r["kind"] == "explain"]
    assert {r["text"] for r in explains} == {data.train[1].text, data.train[3].text}
    assert all(
        f"annotated as {data.train[1].label}" in r["prompt"] for r in explains if r["text"] == data.train[1].text
    )
    # the [500] item fails once in each prompt kind, the [429] one once
    assert built[0].stats["rate_limited"] == 1 and built[0].stats["server_errors"] == 2
    sent = endpoint.count()
    assert sent == 5 + 2 + 3  # 5 predictions, 2 explanations, 3 retries

    # a second run (fresh model, same cache) is answered from the cache: zero requests
    built.clear()
    again, counts_again = teacher_rationales(cache, ident, make, "openai", data.train)
    assert counts_again == counts and [s.rationale for s in again] == [s.rationale for s in kept]
    preds, stats = cached_calls(cache, "teacher-predict", ident, data.train, lambda b: make().predict(b), "openai")
    assert stats.computed == 0 and len(preds) == 5
    assert endpoint.count() == sent and not built


def test_registered_cards_are_opt_in_keyless_and_identify_everything(
    endpoint: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    registry = _registry()
    data = Splits("fake", "aspect", [], [], [])
    ident = DatasetPipeline(registry, data, Cache(tmp_path / "c"), 0, []).identity
    for name, kinds in (
        ("openai", ("teacher_predict", "teacher_explain")),
        ("openai-zero-shot", ("reasoning", "label")),
    ):
        card = registry.model(name).card
        assert card.default is False
        assert card.settings["base_url"] == endpoint.url and card.settings["model"] == "fake-vlm"
        assert sorted(card.settings["prompts"]) == sorted(f"{k}:{lv}" for k in kinds for lv in ("post", "aspect"))
        assert KEY not in repr(card.settings)
    before = ident("openai")
    monkeypatch.setenv("MULCOT_OPENAI_API_KEY", "sk-another-key")  # the key is not part of the identity
    assert DatasetPipeline(_registry(), data, Cache(tmp_path / "c"), 0, []).identity("openai") == before
    for var, value in (
        ("MULCOT_OPENAI_MODEL", "other-vlm"),
        ("MULCOT_OPENAI_TEMPERATURE", "0.7"),
        ("MULCOT_OPENAI_MAX_TOKENS", "64"),
        ("MULCOT_OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
    ):
        with monkeypatch.context() as m:
            m.setenv(var, value)
            assert DatasetPipeline(_registry(), data, Cache(tmp_path / "c"), 0, []).identity("openai") != before, var


def test_prompt_override_changes_identity_and_prompt(
    endpoint: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "teacher_predict.j2").write_text("MY PROMPT\nPost text: {{ text }}\nTarget: {{ target }}\n")
    default_hash = _registry().model("openai").card.settings["prompts"]["teacher_predict:aspect"]
    monkeypatch.setenv("MULCOT_OPENAI_PROMPT_DIR", str(folder))
    card = _registry().model("openai").card
    assert card.settings["prompts"]["teacher_predict:aspect"] != default_hash
    assert card.settings["prompt_files"] == {"teacher_predict": str((folder / "teacher_predict.j2").resolve())}
    OpenAITeacher(card, transport=FAST).predict(_samples()[:1])
    assert endpoint.requests[0]["prompt"].startswith("MY PROMPT")
    (folder / "teacher_predict.j2").write_text("edited after registration {{ text }}")
    with pytest.raises(Exception, match="changed after the model was registered"):
        OpenAITeacher(card, transport=FAST)


def test_only_the_configured_endpoint_is_contacted(endpoint: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(var, "http://10.255.255.1:3128")  # must be ignored
    seen: list[tuple[str, int]] = []
    real_create, real_connect = socket.create_connection, socket.socket.connect

    def guard(address: object) -> None:
        host, port = address[0], address[1]  # type: ignore[index]
        seen.append((host, port))
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ConnectionRefusedError(f"test guard: no network beyond loopback ({host}:{port})")

    def create_connection(address, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        guard(address)
        return real_create(address, *args, **kwargs)

    def connect(self, address):  # noqa: ANN001, ANN202
        if isinstance(address, tuple):
            guard(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket.socket, "connect", connect)
    model = OpenAITeacher(_registry().model("openai").card, transport=FAST)
    preds = model.predict(_samples()[:3]) + model.explain(_samples()[:1], ["positive"])
    assert all(p.label for p in preds)
    assert seen and set(seen) == {("127.0.0.1", endpoint.port)}
    assert {r["client"] for r in endpoint.requests} == {"127.0.0.1"}


def test_contract_check_against_the_fake_endpoint(endpoint: FakeOpenAI) -> None:
    from mulcot_bench.plugin.testing import check_model

    registry = _registry()
    check_model("openai", registry=registry)
    check_model("openai-zero-shot", registry=registry, strict=False)  # separate label prompt: chains may disagree


@pytest.mark.slow  # two full CLI runs (scoring loads BERTScore's model): about 15 s each on 2 busy cores
def test_cli_run_twice_sends_nothing_the_second_time_and_never_writes_the_key(
    endpoint: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import subprocess
    import sys

    monkeypatch.chdir(tmp_path)
    blocked = "features,tiny,baselines,replay"  # the other model plugins are not what this test is about
    env = {**os.environ, "MULCOT_BENCH_CACHE": str(tmp_path / "cache"), "MULCOT_BENCH_BLOCK_PLUGINS": blocked}
    cli = [str(Path(sys.executable).parent / "mulcot-bench")]
    args = ["run", "-d", "synthetic", "-m", "openai", "--teacher", "openai", "--synthetic-size", "6,3,3"]
    first = subprocess.run([*cli, *args, "--run-id", "a"], env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr[-2000:]
    sent = endpoint.count()
    assert sent >= 9  # 6 teacher predictions (+ explanations of the wrong ones) and 3 test predictions
    second = subprocess.run([*cli, *args, "--run-id", "b"], env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr[-2000:]
    assert endpoint.count() == sent  # everything came from the cache
    written = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(KEY.encode() not in blob for blob in written)  # runs/, reports/, the cache
    for out in (first.stdout, first.stderr, second.stdout, second.stderr):
        assert KEY not in out
