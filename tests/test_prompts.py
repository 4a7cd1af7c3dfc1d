"""Prompt templates: the four kinds at both levels, overrides, hashing and clear errors."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from mulcot_bench.errors import UserError
from mulcot_bench.labels import LABELS
from mulcot_bench.prompts import KINDS, LEVELS, render_prompt, template_hash, template_text
from mulcot_bench.rationale import FIELDS
from mulcot_bench.types import Sample

ASPECT = Sample("a1", "Queues for the new Pixel again, because of course", "negative", target="Pixel", image=b"\x89PNG")
POST = Sample("p1", "Sunset at the pier tonight", "positive", image=b"\xff\xd8")


def _render(kind: str, sample: Sample, level: str, **kw: object) -> str:
    return render_prompt(kind, sample, level, gold="neutral" if kind == "teacher_explain" else None, **kw)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_task_labels_post_and_reply_format(kind: str) -> None:
    for sample, level in ((ASPECT, "aspect"), (POST, "post")):
        text = _render(kind, sample, level)
        assert sample.text in text
        for label in LABELS:
            assert f"- {label}:" in text, f"{kind}/{level} lacks the definition of {label}"
        if kind == "label":
            assert '"Prediction": <label>' in text
            assert '"Text_analysis"' not in text  # the label prompt asks for the label only
        else:
            positions = [text.index(f'"{field}":') for field in FIELDS]
            assert positions == sorted(positions), f"{kind}/{level}: fields out of order"
        assert "{{" not in text and "{%" not in text


def test_aspect_prompts_name_the_target_and_post_prompts_do_not() -> None:
    aspect = render_prompt("reasoning", ASPECT, "aspect")
    post = render_prompt("reasoning", POST, "post")
    assert 'toward one target: "Pixel"' in aspect and "Target: Pixel" in aspect
    assert "Target:" not in post and "as a whole" in post
    # the same sample read at post level has no target line either
    assert "Target:" not in render_prompt("label", ASPECT, "post")


def test_explain_names_the_gold_label_in_the_prediction_field() -> None:
    for gold in LABELS:
        text = render_prompt("teacher_explain", ASPECT, "aspect", gold=gold)
        assert f"annotated as {gold}" in text
        assert text.rstrip().endswith(f'"Prediction": {gold}')


def test_image_presence_is_said_but_no_image_content_is_in_the_text() -> None:
    assert "attached image" in render_prompt("teacher_predict", ASPECT, "aspect")
    no_image = Sample("n", "text only", "neutral")
    text = render_prompt("teacher_predict", no_image, "post")
    assert "attached image" not in text and "no image" in text


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="gold"):
        render_prompt("teacher_explain", ASPECT, "aspect")
    with pytest.raises(ValueError, match="gold"):
        render_prompt("teacher_explain", ASPECT, "aspect", gold="happy")
    with pytest.raises(ValueError, match="only used by"):
        render_prompt("reasoning", ASPECT, "aspect", gold="positive")
    with pytest.raises(UserError, match="unknown prompt kind 'reason'"):
        render_prompt("reason", ASPECT, "aspect")
    with pytest.raises(UserError, match="unknown prompt level"):
        render_prompt("label", ASPECT, "sentence")
    with pytest.raises(UserError, match="sample 'p1' has no target"):
        render_prompt("label", POST, "aspect")


def test_hash_is_the_sha256_of_the_shipped_text_and_differs_between_kinds() -> None:
    import hashlib

    hashes = {kind: template_hash(kind, "aspect") for kind in KINDS}
    assert len(set(hashes.values())) == len(KINDS)
    for kind, digest in hashes.items():
        assert re.fullmatch(r"[0-9a-f]{64}", digest)
        assert digest == hashlib.sha256(template_text(kind, "aspect").encode()).hexdigest()


def test_override_file_is_rendered_and_hashed(tmp_path: Path) -> None:
    custom = tmp_path / "mine.j2"
    custom.write_text(
        "Sentiment of {{ target }} in: {{ text }} ({{ labels | join('/') }}){% if gold %} -> {{ gold }}{% endif %}"
    )
    out = render_prompt("teacher_explain", ASPECT, "aspect", gold="negative", template=custom)
    assert out == f"Sentiment of Pixel in: {ASPECT.text} (positive/neutral/negative) -> negative\n"
    assert template_hash("teacher_explain", "aspect", custom) != template_hash("teacher_explain", "aspect")
    before = template_hash("label", "post", custom)
    custom.write_text(custom.read_text() + " ")
    assert template_hash("label", "post", custom) != before  # any edit changes the identity


def test_override_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.j2"
    with pytest.raises(UserError, match=r"nope\.j2 .*does not exist"):
        render_prompt("label", POST, "post", template=missing)
    with pytest.raises(UserError, match="does not exist"):
        template_hash("label", "post", missing)
    bad = tmp_path / "bad.j2"
    bad.write_text("line one\n{% if text %}never closed")
    with pytest.raises(UserError, match=r"bad\.j2 line \d+: .*Jinja2 syntax"):
        render_prompt("label", POST, "post", template=bad)
    binary = tmp_path / "binary.j2"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(UserError, match=r"binary\.j2 .*cannot be read"):
        render_prompt("label", POST, "post", template=binary)
    undefined = tmp_path / "undefined.j2"
    undefined.write_text("{{ text }} {{ author }}")
    with pytest.raises(UserError, match=r"undefined\.j2 failed to render: 'author' is undefined"):
        render_prompt("label", POST, "post", template=undefined)


def test_templates_are_sandboxed(tmp_path: Path) -> None:
    evil = tmp_path / "evil.j2"
    evil.write_text("{{ text.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(UserError, match="failed to render"):
        render_prompt("label", POST, "post", template=evil)


def test_shipped_templates_are_package_data() -> None:
    from importlib.resources import files

    folder = files("mulcot_bench.prompts") / "templates"
    assert sorted(p.name for p in folder.iterdir() if p.name.endswith(".j2")) == sorted(f"{k}.j2" for k in KINDS)
    assert LEVELS == ("post", "aspect")


def test_importing_prompts_is_light() -> None:
    import subprocess

    code = (
        "import sys, mulcot_bench.prompts; "
        "print(sorted(m for m in ('jinja2', 'torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
