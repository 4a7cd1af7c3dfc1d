"""The reference protocol's points (docs/protocol.md): the paper profile takes the released code's value on
each, print-config shows each with its source, the values reach the model cards, and the pipeline's chain
filter keeps what the released code keeps."""

from __future__ import annotations

import subprocess
import sys

from mulcot_bench.cache import Cache
from mulcot_bench.distill.config import apply, config_text, load_config
from mulcot_bench.distill.protocol import POINTS
from mulcot_bench.plugin.registry import build_registry
from mulcot_bench.rationale import render_chain
from mulcot_bench.runner.stages import augment, teacher_rationales
from mulcot_bench.types import Prediction, Sample

#: What the released code does, written here from the method notes (independently of POINTS): field -> value.
REFERENCE = {
    "assistant.prompts.set": '"reference"',
    "student.prompts.set": '"reference"',
    "assistant.lora.scope": '"all"',
    "student.lora.scope": '"all"',
    "assistant.training.weight_decay": "0.01",
    "student.training.weight_decay": "0.01",
    "assistant.training.grad_clip": "0.0",
    "student.training.grad_clip": "0.0",
    "assistant.training.loss_scaling": '"sum"',
    "student.training.loss_scaling": '"sum"',
    "assistant.training.select_ties": '"field-metric"',
    "student.training.select_ties": '"field-metric"',
    "chain_filter": '"reference"',
    "assistant.generation.top_k": "1",
    "assistant.generation.label_format": '"bare"',
    "student.generation.label_format": '"bare"',
    "assistant.generation.target_end": '"pad"',
    "student.generation.target_end": '"pad"',
    "assistant.generation.max_label_tokens": "512",
    "student.generation.max_label_tokens": "512",
    "student.kd.vocab": '"resize"',
    # the teacher's side, decoding, the parser, the resized rows, the assistant during KD, the micro-batch rule
    "teacher.prompts.set": '"reference"',
    "teacher.correction": '"explain the gold label"',
    "teacher.chain_text": '"raw"',
    "assistant.generation.repetition_penalty": "1.05",
    "student.generation.repetition_penalty": "1.05",
    "assistant.generation.label_parser": '"released"',
    "student.generation.label_parser": '"released"',
    "student.kd.vocab_init": '"mean"',
    "student.kd.assistant_mode": '"lora-dropout"',
    "assistant.training.accum_count": '"global"',
    "student.training.accum_count": '"global"',
}


def _points(stdout: str) -> dict[str, tuple[str, str]]:
    """field -> (value, comment) of the print-config's protocol section."""
    section = stdout.split("# reference protocol points", 1)[1]
    out = {}
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            continue
        name, _, rest = line.partition("=")
        value, _, comment = rest.partition("#")
        out[name.strip()] = (value.strip(), comment.strip())
    return out


def test_paper_reference_print_config_shows_every_point_with_the_reference_value() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mulcot_bench", "distill", "--profile", "paper", "--protocol", "reference",
         "--print-config"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    points = _points(done.stdout)
    assert set(points) == set(REFERENCE)
    for field, value in REFERENCE.items():
        shown, comment = points[field]
        assert shown == value, (field, shown)
        source = "from fixed" if field == "teacher.correction" else "from config"
        assert comment.startswith("reference;") and source in comment, (field, comment)
    assert "# data view: --protocol reference" in done.stdout
    assert {p.gap for p in POINTS} == {"prompts", "teacher", "reference text", "LoRA scope", "optimiser",
                                       "epoch selection", "chain filters", "decoding", "answer parser",
                                       "label target", "vocabulary", "KD"}  # fmt: skip


def test_other_profiles_keep_the_project_side_and_the_values_reach_the_cards() -> None:
    registry = build_registry([])
    tiny = _points(config_text(load_config("cpu-smol"), registry))
    assert tiny["chain_filter"][1].startswith("project;")
    assert tiny["student.training.loss_scaling"] == ('"mean"', tiny["student.training.loss_scaling"][1])
    sides = {field: comment.split(";")[0] for field, (_, comment) in tiny.items()}
    assert sides.pop("assistant.lora.scope") == sides.pop("student.lora.scope") == "n/a"  # smol-vlm has no tower
    assert sides.pop("teacher.correction") == "reference"  # both sides explain the gold label
    # cpu-smol names no teacher: the teacher's settings are of no card
    assert sides.pop("teacher.prompts.set") == sides.pop("teacher.chain_text") == "n/a"
    assert set(sides.values()) == {"project"}
    loaded = load_config("paper")
    apply(loaded.config, registry, "paper")
    assistant = registry.model("qwen2.5-vl-assistant").card.settings
    student = registry.model("qwen2.5-vl-student").card.settings
    assert (assistant["lora_scope"], assistant["weight_decay"], assistant["grad_clip"]) == ("all", 0.01, 0.0)
    assert (student["loss_scaling"], student["select_ties"], student["kd_vocab"]) == ("sum", "field-metric", "resize")
    assert (student["label_format"], student["target_end"], student["max_label_tokens"]) == ("bare", "pad", 512)
    assert assistant["top_k"] == 1 and student["prompts"] == "reference"
    assert (student["repetition_penalty"], student["label_parser"], student["accum_count"]) == (1.05, "released",
                                                                                               "global")  # fmt: skip
    assert (student["kd_vocab_init"], student["kd_assistant_mode"]) == ("mean", "lora-dropout")
    teacher = registry.model("openai").card.settings
    assert (teacher["prompt_set"], teacher["chain_text"]) == ("reference", "raw")
    shipped = build_registry([]).model("openai").card.settings
    assert shipped["prompt_set"] == "project" and teacher["prompts"] != shipped["prompts"]  # digests follow the set
    # the prompt set's content is in the identity: the digests follow the set put on the card
    assert student["prompt_sha256"] != build_registry([]).model("qwen2.5-vl-student").card.settings["prompt_sha256"]


class Teacher:
    """Answers with a fixed chain per item; explains with a chain that lacks fields."""

    def __init__(self, chains: dict[str, str]) -> None:
        self.chains = chains

    def predict(self, samples: list[Sample]) -> list[Prediction]:
        return [Prediction(label="negative" if s.id == "wrong" else s.label, rationale=self.chains[s.id])
                for s in samples]  # fmt: skip

    def explain(self, samples: list[Sample], gold: list[str]) -> list[Prediction]:
        return [Prediction(label=g, rationale=f'"Final_conclusion": "so it is {g}"') for g in gold]

    def sample(self, samples: list[Sample], temperature: float, seed: int) -> list[Prediction]:
        return [Prediction(label=None, rationale=self.chains[s.id]) for s in samples]


def test_chain_filter_reference_keeps_what_the_released_code_keeps(tmp_path) -> None:  # noqa: ANN001
    five = render_chain({"Text_analysis": "a", "Image_analysis": "b", "Conflict_resolution": "c",
                         "Final_conclusion": "d", "Prediction": "positive"})  # fmt: skip
    items = [Sample("ok", "t1", "positive"), Sample("loose", "t2", "positive"), Sample("wrong", "t3", "positive")]
    chains = {"ok": five, "loose": 'The text is upbeat. "Prediction": positive', "wrong": five}
    teacher = Teacher(chains)
    counts = {}
    for keep in ("five-fields", "reference"):
        kept, counts[keep] = teacher_rationales(Cache(tmp_path / keep), "t", lambda: teacher, "t", items, keep=keep)
        counts[keep]["ids"] = sorted(s.id for s in kept)
    assert counts["five-fields"]["ids"] == ["ok"] and counts["five-fields"]["rejected"] == 2
    assert counts["reference"]["ids"] == ["loose", "ok", "wrong"] and counts["reference"]["corrected"] == 1
    extra = {}
    for keep in ("five-fields", "reference"):
        got, _ = augment(Cache(tmp_path / f"a-{keep}"), "a", lambda: teacher, "a", items, 0.7, 1, keep=keep)
        extra[keep] = sorted(s.id for s in got)
    assert extra == {"five-fields": ["ok", "wrong"], "reference": ["loose", "ok", "wrong"]}
