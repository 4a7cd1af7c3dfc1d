"""Training under torch.distributed (gloo on CPU, launched with torchrun) against one process.

This file is also the worker: ``python tests/test_distill_ddp.py MODE ARGS...`` (alone, or under torchrun).

Tolerances, and why:

* toy task (an MLP without dropout or batch statistics, loss = mean over items): 2 processes compute the same
  gradient as 1 up to the order of floating-point sums, so the weights agree to 1e-5 and the dev record and
  the selected epoch are equal. The same holds for a run stopped with 2 processes and resumed with 1.
* tiny VLM KD student: its token-mean losses are averaged per process and its image encoder has BatchNorm
  (statistics of each process's half batch), so the two runs follow slightly different trajectories: the test
  asks for the same selected epoch and test accuracy and macro-F1 within 0.1 (2 of 24 test items... at most
  2.4 items) of the single-process run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

HERE = Path(__file__).resolve()
SMALL = {
    "d_model": 32,
    "layers": 1,
    "heads": 2,
    "cnn_channels": 4,
    "batch_size": 8,
    "warmup_steps": 2,
    "max_len": 200,
    "eval_batch_size": 16,
    "max_new_tokens": 40,
}
STUDENT = {**SMALL, "d_model": 16, "epochs": 4, "kd_top_k": 16}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env


def _run(nproc: int, *args: str) -> None:
    if nproc == 1:
        cmd = [sys.executable, str(HERE), *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
        cmd += [str(HERE), *args]
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


# workers --------------------------------------------------------------------------------------------------
def _toy_worker(workdir: str, out: str, stop: str) -> None:
    from safetensors.torch import save_file
    from test_distill_trainer import ToyTask

    from mulcot_bench.parallel.world import finish, init_from_env, is_main
    from mulcot_bench.training.trainer import TrainerConfig, fit

    init_from_env()
    torch.set_num_threads(1)
    task = ToyTask(dropout=0.0)
    cfg = TrainerConfig(epochs=5, lr=0.05, batch_size=8, grad_accum=2, patience=1, grad_clip=1.0, seed=5)
    report = fit(task, cfg, workdir=Path(workdir), stop_after_epoch=int(stop) or None)
    if is_main():
        save_file({k: v.contiguous() for k, v in task.state_dict().items()}, str(Path(out) / "weights.safetensors"))
        (Path(out) / "report.json").write_text(json.dumps(report))
    finish()


def _data():  # noqa: ANN202
    from mulcot_bench.data.synthetic import generate

    return generate(seed=13, train=48, dev=24, test=24)


def _tiny_worker(assistant_dir: str, out: str) -> None:
    from mulcot_tiny.model import TinyVLM

    from mulcot_bench.parallel.world import finish, init_from_env, is_main
    from mulcot_bench.training.trainer import dev_scores
    from mulcot_bench.types import FitContext, ModelCard

    init_from_env()
    torch.set_num_threads(1)
    data = _data()
    assistant = TinyVLM(ModelCard("a", "assistant", "test", settings=SMALL)).load(Path(assistant_dir))
    student = TinyVLM(ModelCard("s", "student", "test", settings=STUDENT))
    report = student.fit(
        data.train, data.dev, FitContext(seed=7, dataset="synthetic", level="aspect", assistant=assistant)
    )
    preds = student.predict(data.test)
    if is_main():
        scores = dev_scores([s.label for s in data.test], [p.label for p in preds])
        out_json = {"report": report, "test": scores, "labels": [p.label for p in preds]}
        (Path(out) / "result.json").write_text(json.dumps(out_json, default=str))
    finish()


# tests ----------------------------------------------------------------------------------------------------
def _load(out: Path) -> tuple[dict[str, torch.Tensor], dict]:
    from safetensors.torch import load_file

    return load_file(str(out / "weights.safetensors")), json.loads((out / "report.json").read_text())


@pytest.mark.slow
def test_toy_two_processes_match_one_and_resume_across_world_sizes(tmp_path: Path) -> None:
    outs = {name: tmp_path / name for name in ("one", "two", "cut")}
    for d in outs.values():
        d.mkdir()
    _run(1, "toy", str(tmp_path / "w1"), str(outs["one"]), "0")
    _run(2, "toy", str(tmp_path / "w2"), str(outs["two"]), "0")
    _run(2, "toy", str(tmp_path / "w3"), str(outs["cut"]), "2")  # 2 processes stop after epoch 2 ...
    _run(1, "toy", str(tmp_path / "w3"), str(outs["cut"]), "0")  # ... 1 process resumes and finishes
    (w1, r1), (w2, r2), (w3, r3) = (_load(outs[n]) for n in ("one", "two", "cut"))
    assert r2["world_size"] == 2 and r1["world_size"] == 1 and r3["resumed_from_epoch"] == 2
    for other, rep in ((w2, r2), (w3, r3)):
        assert all(torch.allclose(w1[k], other[k], atol=1e-5) for k in w1)
        assert rep["selected_epoch"] == r1["selected_epoch"] and rep["dev_accuracy"] == r1["dev_accuracy"]
        assert rep["losses"] == pytest.approx(r1["losses"], abs=1e-5)


@pytest.mark.slow
def test_tiny_kd_student_two_processes_match_one(tmp_path: Path) -> None:
    pytest.importorskip("mulcot_tiny")
    from mulcot_tiny.model import TinyVLM

    from mulcot_bench.types import FitContext, ModelCard

    data = _data()
    assistant = TinyVLM(ModelCard("a", "assistant", "test", settings={**SMALL, "epochs": 3}))
    assistant.fit(data.train, data.dev, FitContext(seed=3, dataset="synthetic", level="aspect"))
    assistant.save(tmp_path / "assistant")
    for n in (1, 2):
        (tmp_path / f"out{n}").mkdir()
        _run(n, "tiny", str(tmp_path / "assistant"), str(tmp_path / f"out{n}"))
    one, two = (json.loads((tmp_path / f"out{n}" / "result.json").read_text()) for n in (1, 2))
    assert one["report"]["world_size"] == 1 and two["report"]["world_size"] == 2
    assert (
        one["report"]["kd"]["source"] == "cached"
        and two["report"]["kd"]["cached_rows"] == one["report"]["kd"]["cached_rows"]
    )
    assert two["report"]["selected_epoch"] == one["report"]["selected_epoch"]
    for metric in ("accuracy", "macro-F1"):
        assert abs(two["test"][metric] - one["test"][metric]) <= 0.1, (metric, one["test"], two["test"])


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    mode, rest = sys.argv[1], sys.argv[2:]
    {"toy": _toy_worker, "tiny": _tiny_worker}[mode](*rest)
