"""Prompt sets: the shipped `reference` set's structure, and templates read from a copy of the release as they are.

The release-layout files here are of our own making (same layout: templates/MASC|MSC/<name>.py holding one string
with {text} and {aspect}, and {label} in the correction prompt), not the release's text.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mulcot_bench.errors import UserError
from mulcot_bench.labels import LABELS
from mulcot_bench.prompts import KINDS, render_prompt, template_hash
from mulcot_bench.rationale import FIELDS
from mulcot_bench.types import Sample

ASPECT = Sample("a1", "Queues for the new Pixel again", "negative", target="Pixel", image=b"\x89PNG")
POST = Sample("p1", "Sunset at the pier tonight", "positive", image=b"\xff\xd8")


def _definitions(text: str) -> int:
    return sum(f"{label}: " in text.lower() for label in LABELS)


@pytest.mark.parametrize("kind", ["reasoning", "label"])
def test_reference_student_prompts_have_the_release_structure_and_no_definitions(kind: str) -> None:
    aspect = render_prompt(kind, ASPECT, "aspect", prompt_set="reference")
    post = render_prompt(kind, POST, "post", prompt_set="reference")
    for text in (aspect, post):
        assert text.splitlines()[1].startswith("You are an expert in classifying the sentiment")  # the role line
        assert _definitions(text) == 0 and "## Labels" not in text
        assert '"Prediction": "positive/neutral/negative"' in text
    assert "Its text is: Queues for the new Pixel again; its target_aspect is: Pixel" in aspect
    assert "outrank every other cue" in aspect and "outrank" not in post  # the aspect note, aspect level only
    fields = [f'"{f}":' in aspect for f in FIELDS]
    assert fields == ([True] * 5 if kind == "reasoning" else [False] * 4 + [True])


def test_reference_teacher_prompts_define_the_labels_and_the_neutral_rule() -> None:
    for kind in ("teacher_predict", "teacher_explain"):
        text = render_prompt(kind, ASPECT, "aspect", gold="neutral" if kind == "teacher_explain" else None,
                             prompt_set="reference")
        assert _definitions(text) == 3 and "leans clearly neither way" in text
        assert all(f'"{f}":' in text for f in FIELDS)
    assert template_hash("reasoning", "aspect", prompt_set="reference") != template_hash("reasoning", "aspect")


def _release(root: Path) -> Path:
    """A release-layout folder of our own making."""
    (root / "templates" / "MASC").mkdir(parents=True)
    (root / "templates" / "MSC").mkdir(parents=True)
    (root / "templates" / "MASC" / "peft_cot.py").write_text(
        "peft_cot_template = '''\nAspect {aspect} in: {text}\nReply {{json}} with five fields.\n'''\n", encoding="utf-8"
    )
    (root / "templates" / "MASC" / "peft_label.py").write_text(
        'peft_label_template = """Label of {aspect}: {text}"""\n', encoding="utf-8"
    )
    (root / "templates" / "MSC" / "peft_cot.py").write_text("x_template = 'Post: {text}'\n", encoding="utf-8")
    return root


def test_release_templates_are_read_as_they_are(tmp_path: Path) -> None:
    root = _release(tmp_path / "MulCoTRD")
    out = render_prompt("reasoning", ASPECT, "aspect", prompt_set=str(root))
    assert out == "\nAspect Pixel in: Queues for the new Pixel again\nReply {json} with five fields.\n"  # kept whole
    label = render_prompt("label", ASPECT, "aspect", prompt_set=str(root))
    assert label == "Label of Pixel: Queues for the new Pixel again"
    post = render_prompt("reasoning", POST, "post", prompt_set=str(root / "templates"))
    assert post == "Post: Sunset at the pier tonight"
    before = template_hash("label", "aspect", prompt_set=str(root))
    (root / "templates" / "MASC" / "peft_label.py").write_text("t = 'Label {aspect}: {text}'\n", encoding="utf-8")
    assert template_hash("label", "aspect", prompt_set=str(root)) != before  # any edit changes the identity


def test_release_templates_are_never_run_and_errors_are_one_line(tmp_path: Path) -> None:
    root = _release(tmp_path / "rel")
    marker = tmp_path / "ran"
    (root / "templates" / "MSC" / "peft_label.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('x')\nt = 'Post {{text}}'\n", encoding="utf-8"
    )
    assert render_prompt("label", POST, "post", prompt_set=str(root)) == "Post Sunset at the pier tonight"
    assert not marker.exists()
    cases = {
        "teacher_explain": r"inference_label.py \(teacher_explain, aspect level\) does not exist",
        "teacher_predict": r"inference_cot.py \(teacher_predict, aspect level\) does not exist",
    }
    for kind, message in cases.items():
        with pytest.raises(UserError, match=message):
            render_prompt(kind, ASPECT, "aspect", gold="neutral" if kind == "teacher_explain" else None,
                          prompt_set=str(root))
    (root / "templates" / "MASC" / "peft_label.py").write_text("t = 'Label {text.__class__}'\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"placeholder \{text.__class__\} is not one of"):
        render_prompt("label", ASPECT, "aspect", prompt_set=str(root))
    (root / "templates" / "MASC" / "peft_label.py").write_text("a = 'one'\nb = 'two'\n", encoding="utf-8")
    with pytest.raises(UserError, match="expected one string assignment"):
        render_prompt("label", ASPECT, "aspect", prompt_set=str(root))
    with pytest.raises(UserError, match="neither project nor reference nor a folder"):
        render_prompt("label", ASPECT, "aspect", prompt_set=str(tmp_path / "nowhere"))


def _release_teacher(root: Path) -> Path:
    """The teacher's two files per level, in the release's names and placeholders, in our own words."""
    masc, msc = root / "templates" / "MASC", root / "templates" / "MSC"
    (masc / "inference_cot.py").write_text(
        "inference_cot_template = '''\nWeigh {text} , toward {aspect}.\nAnswer {{\"Prediction\": ...}}\n'''\n",
        encoding="utf-8",
    )
    (masc / "inference_label.py").write_text(
        "inference_label_template = '''\nWhy is {aspect} marked {label}? Post: {text}\n\"Prediction\": {label}\n'''\n",
        encoding="utf-8",
    )
    (msc / "inference_cot.py").write_text("inference_cot_template = 'Weigh the post {text}'\n", encoding="utf-8")
    (msc / "inference_label.py").write_text(
        "inference_label_template = 'Why is the post {label}? {text}'\n", encoding="utf-8"
    )
    return root


def test_release_teacher_prompts_fill_text_aspect_and_the_correction_label(tmp_path: Path) -> None:
    root = _release_teacher(_release(tmp_path / "MulCoTRD"))
    # filled as the release fills its templates: template.format(**item) with item's text and aspect, and the
    # gold label (as the data names it) in the correction prompt's {label}; the whitespace is the file's own
    explain = render_prompt("teacher_explain", ASPECT, "aspect", gold="negative", prompt_set=str(root))
    assert explain == '\nWhy is Pixel marked negative? Post: Queues for the new Pixel again\n"Prediction": negative\n'
    predict = render_prompt("teacher_predict", ASPECT, "aspect", prompt_set=str(root))
    assert predict == '\nWeigh Queues for the new Pixel again , toward Pixel.\nAnswer {"Prediction": ...}\n'
    assert render_prompt("teacher_explain", POST, "post", gold="positive", prompt_set=str(root)) == (
        "Why is the post positive? Sunset at the pier tonight"
    )
    # {label} is the correction prompt's only: a training prompt that named the gold label would leak it
    (root / "templates" / "MASC" / "peft_label.py").write_text("t = 'Label {label}: {text}'\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"placeholder \{label\} is not one of \{text\}, \{aspect\}$"):
        render_prompt("label", ASPECT, "aspect", prompt_set=str(root))
    (root / "templates" / "MASC" / "inference_label.py").write_text("t = 'Why {gold}'\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"placeholder \{gold\} is not one of \{text\}, \{aspect\}, \{label\}"):
        render_prompt("teacher_explain", ASPECT, "aspect", gold="neutral", prompt_set=str(root))


def test_the_openai_teacher_renders_the_release_copy_it_is_pointed_at(tmp_path: Path) -> None:
    pytest.importorskip("mulcot_openai")
    from mulcot_openai.model import OpenAITeacher

    from mulcot_bench.cli.distill import prompt_args
    from mulcot_bench.distill.config import apply, load_config
    from mulcot_bench.plugin.overrides import apply_model_args, parse_model_args
    from mulcot_bench.plugin.registry import build_registry

    root = _release_teacher(_release(tmp_path / "rel"))
    (root / "templates" / "MSC" / "peft_label.py").write_text("t = 'Post {text}'\n", encoding="utf-8")
    loaded, registry = load_config("paper"), build_registry([])
    apply(loaded.config, registry, "paper")
    args = prompt_args(loaded, registry, root)
    assert f"openai.prompt_set={root.resolve()}" in args
    apply_model_args(registry, parse_model_args(args, registry))
    card = registry.model("openai").card
    assert card.settings["prompts"]["teacher_explain:aspect"] == template_hash(
        "teacher_explain", "aspect", prompt_set=str(root.resolve())
    )
    teacher = OpenAITeacher.__new__(OpenAITeacher)  # the prompt side only: no endpoint is needed to render
    teacher.prompt_files, teacher.prompt_set = {}, str(card.settings["prompt_set"])
    assert teacher.prompt("teacher_explain", ASPECT, "neutral").startswith("\nWhy is Pixel marked neutral? Post: ")


def test_a_folder_of_our_own_j2_files_is_a_prompt_set(tmp_path: Path) -> None:
    (tmp_path / "label.j2").write_text("Label {{ target }}: {{ text }}", encoding="utf-8")
    label = render_prompt("label", ASPECT, "aspect", prompt_set=str(tmp_path))
    assert label == "Label Pixel: Queues for the new Pixel again\n"
    with pytest.raises(UserError, match="has no reasoning.j2"):
        render_prompt("reasoning", ASPECT, "aspect", prompt_set=str(tmp_path))
    assert set(KINDS) >= {"reasoning", "label"}


def test_distill_prompts_option_points_the_three_models_at_the_release_copy(tmp_path: Path) -> None:
    from mulcot_bench.cli.distill import prompt_args
    from mulcot_bench.distill.config import apply, load_config
    from mulcot_bench.plugin.overrides import apply_model_args, parse_model_args
    from mulcot_bench.plugin.registry import build_registry

    root = _release_teacher(_release(tmp_path / "rel"))
    (root / "templates" / "MSC" / "peft_label.py").write_text("t = 'Post {text}'\n", encoding="utf-8")
    loaded, registry = load_config("paper"), build_registry([])
    apply(loaded.config, registry, "paper")
    args = prompt_args(loaded, registry, root)
    assert args == (f"qwen2.5-vl-assistant.prompts={root.resolve()}", f"qwen2.5-vl-student.prompts={root.resolve()}",
                    f"openai.prompt_set={root.resolve()}")  # fmt: skip
    apply_model_args(registry, parse_model_args(args, registry))
    digests = registry.model("qwen2.5-vl-student").card.settings["prompt_sha256"]
    assert digests["label:aspect"] == template_hash("label", "aspect", prompt_set=str(root.resolve()))
    (root / "templates" / "MSC" / "peft_label.py").unlink()
    with pytest.raises(UserError, match=r"MSC/peft_label.py \(label, post level\) does not exist"):
        prompt_args(loaded, registry, root)
    with pytest.raises(UserError, match="not a folder"):
        prompt_args(loaded, registry, tmp_path / "missing")
