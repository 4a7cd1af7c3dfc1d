"""Security: no pickle, weights loaded without code, config is data, secrets redacted, file names sanitised."""

from __future__ import annotations

import ast
import io
import secrets as pysecrets
import subprocess
import tokenize
from pathlib import Path

import pytest
from fakerun import command, env

from mulcot_bench.paths import safe_name
from mulcot_bench.redact import redact, redact_obj

ROOT = Path(__file__).resolve().parent.parent
FORBIDDING = ("never", "no ", "not ", "without", "forbid", "instead of")
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal", "jsonpickle"}


def _sources() -> list[Path]:
    """Every Python source of the core and the first-party plugins (tests and build outputs excluded)."""
    files = sorted((ROOT / "mulcot_bench").rglob("*.py"))
    for pkg in sorted((ROOT / "plugins").glob("*/")):
        files += [p for p in pkg.rglob("*.py") if "tests" not in p.parts and ".egg-info" not in str(p)]
    assert len(files) > 30
    return files


def _docstring_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def test_pickle_appears_only_where_it_is_forbidden() -> None:
    """Like ``grep -rn pickle``: only comments and docstrings that forbid it, or ``allow_pickle=False``."""
    bad = []
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        if "pickle" not in text.lower():
            continue
        tree = ast.parse(text)
        docs = _docstring_lines(tree)
        allowed_code = {
            n.lineno
            for n in ast.walk(tree)
            if isinstance(n, ast.keyword) and n.arg == "allow_pickle" and getattr(n.value, "value", None) is False
        }
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if "pickle" not in tok.string.lower():
                continue
            line = tok.start[0]
            lowered = tok.string.lower()
            if tok.type == tokenize.COMMENT or line in docs:
                ok = any(word in lowered for word in FORBIDDING)
            else:
                ok = tok.type == tokenize.NAME and tok.string == "allow_pickle" and line in allowed_code
            if not ok:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {tok.string.strip()[:80]}")
    assert not bad, "pickle used or mentioned without forbidding it:\n" + "\n".join(bad)


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def test_no_unsafe_deserialisation_or_evaluation() -> None:
    """No pickle-family imports; torch.load only with weights_only=True; no eval/exec; YAML only safely."""
    bad = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[0]}
            else:
                continue
            bad += [f"{where}:{node.lineno}: imports {n}" for n in names & UNSAFE_MODULES]
        for call in _calls(tree):
            name = _dotted(call.func)
            kw = {k.arg: getattr(k.value, "value", "?") for k in call.keywords}
            if name.endswith("torch.load") and kw.get("weights_only") is not True:
                bad.append(f"{where}:{call.lineno}: torch.load without weights_only=True")
            if name in ("eval", "exec", "builtins.eval", "builtins.exec", "compile"):
                bad.append(f"{where}:{call.lineno}: {name}() evaluates text as code")
            if name.endswith(("yaml.load", "yaml.unsafe_load", "yaml.full_load")):
                bad.append(f"{where}:{call.lineno}: {name} (use yaml.safe_load)")
            if name.endswith(("np.load", "numpy.load")) and kw.get("allow_pickle", False) is not False:
                bad.append(f"{where}:{call.lineno}: np.load with allow_pickle")
    assert not bad, "\n".join(bad)


def test_redaction_masks_secret_environment_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MULCOT_OPENAI_API_KEY", "sk-abcdefgh12345678")
    monkeypatch.setenv("HF_TOKEN", "hf_zzzzzzzzzz")
    monkeypatch.setenv("SHORT_KEY", "abc")  # too short to mask (it would mask ordinary words)
    monkeypatch.setenv("MULCOT_BENCH_SEED", "sk-abcdefgh12345678-not-a-secret-name")
    text = "url?key=sk-abcdefgh12345678 and hf_zzzzzzzzzz abc"
    assert redact(text) == "url?key=[redacted $MULCOT_OPENAI_API_KEY] and [redacted $HF_TOKEN] abc"
    assert redact_obj({"k": ["x sk-abcdefgh12345678"], "sk-abcdefgh12345678": 1, "n": 2}) == {
        "k": ["x [redacted $MULCOT_OPENAI_API_KEY]"],
        "[redacted $MULCOT_OPENAI_API_KEY]": 1,
        "n": 2,
    }


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "etc_passwd"),
        ("/abs/path", "abs_path"),
        ("a/../b", "a_.._b"),
        ("..", "unnamed"),
        ("C:\\win\\x", "C_win_x"),
        ("ok-name_1.2", "ok-name_1.2"),
    ],
)
def test_safe_name(name: str, safe: str) -> None:
    assert safe_name(name) == safe
    assert "/" not in safe_name(name) and "\\" not in safe_name(name) and safe_name(name) not in ("", ".", "..")


ESCAPE = """
from dataclasses import replace

from mulcot_bench.data.synthetic import generate
from mulcot_bench.plugin.hookspecs import hookimpl
from mulcot_bench.plugin.specs import DatasetSpec, ModelSpec
from mulcot_bench.types import ModelCard, Prediction


class Neutral:
    def __init__(self, card):
        self.card = card

    def predict(self, samples):
        return [Prediction("neutral") for _ in samples]


@hookimpl
def register_models(register):
    register(ModelSpec(ModelCard("../../escape/model", "baseline", "x", rationale=False, default=False), Neutral))


def load(root, name, **options):
    return replace(generate(seed=1, train=30, dev=10, test=20), name=name)


@hookimpl
def register_datasets(register):
    register(DatasetSpec("../../escape-ds", "Escape", "aspect", load))
"""


@pytest.mark.slow
def test_secrets_never_written_and_user_strings_never_escape(tmp_path: Path) -> None:
    """A small run with an API key in the environment, models that echo it, and names that climb out."""
    key = "sk-test-" + pysecrets.token_hex(16)
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "escape.py").write_text(ESCAPE)
    models = ("count-rule", "count-keyed", "count-keyed-fails", "../../escape/model")
    cmd = command(tmp_path, "../../escape-run", tmp_path / "cache", models, "30,10,20")
    cmd += ["-d", "../../escape-ds"]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env(tmp_path, MULCOT_OPENAI_API_KEY=key)
    )
    assert proc.returncode == 1, proc.stderr[-3000:]  # count-keyed-fails fails; the rest completes
    assert "FAILED model count-keyed-fails" in proc.stdout
    # nothing was written outside the folders the run was given
    assert {p.name for p in tmp_path.iterdir()} == {"runs", "reports", "cache", "plugins", "calls.txt"}
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["escape-run"]
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    for p in written:
        assert p.resolve().is_relative_to(tmp_path.resolve())
    preds = {p.relative_to(tmp_path / "runs" / "escape-run").as_posix() for p in written if p.suffix == ".jsonl"}
    assert "predictions/escape-ds/escape_model.jsonl" in preds
    assert "journal/escape_model.jsonl" in preds
    # the key is nowhere: results, predictions, journal, report, cache, stdout, stderr
    leaks = [p for p in written if key.encode() in p.read_bytes()]
    assert not leaks, leaks
    assert key not in proc.stdout and key not in proc.stderr
    results = (tmp_path / "runs" / "escape-run" / "results.json").read_text()
    assert "[redacted $MULCOT_OPENAI_API_KEY]" in results  # the echoed key was there, and was masked
    journal = (tmp_path / "runs" / "escape-run" / "journal" / "count-keyed.jsonl").read_text()
    assert "Bearer [redacted $MULCOT_OPENAI_API_KEY]" in journal
