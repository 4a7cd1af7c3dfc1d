"""The generic trainer: plateau halving, selection tie-breaks, checkpoints, and bitwise resume after SIGKILL.

This file is also the worker script of the kill test: ``python tests/test_distill_trainer.py WORKDIR OUT``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from safetensors.torch import load_file, save_file  # noqa: E402
from torch import nn  # noqa: E402

from mulcot_bench.labels import LABELS  # noqa: E402
from mulcot_bench.training.trainer import (  # noqa: E402
    TrainerConfig,
    TrainTask,
    dev_scores,
    fit,
    latest_checkpoint,
)

HERE = Path(__file__).resolve()


class ToyTask(TrainTask):
    """A 3-class MLP on random vectors; ``heartbeat`` counts loss calls in a file, ``slow`` sleeps per batch."""

    def __init__(
        self, n: int = 96, dropout: float = 0.2, slow: float = 0.0, heartbeat: Path | None = None, seed: int = 0
    ) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        w = torch.randn(8, 3, generator=gen)
        self.x = torch.randn(n, 8, generator=gen)
        self.y = (self.x @ w + 0.8 * torch.randn(n, 3, generator=gen)).argmax(1)
        self.dev_x = torch.randn(40, 8, generator=gen)
        self.dev_gold = [LABELS[i] for i in (self.dev_x @ w).argmax(1).tolist()]
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3))
        self.slow = slow
        self.heartbeat = heartbeat
        self.calls = 0

    def n_items(self) -> int:
        return len(self.x)

    def batch_loss(self, items: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        if self.slow:
            time.sleep(self.slow)
        self.calls += 1
        if self.heartbeat is not None:
            self.heartbeat.write_text(str(self.calls))
        loss = nn.functional.cross_entropy(self.net(self.x[items]), self.y[items])
        return loss, {"ce": float(loss.detach())}

    def dev_labels(self, indices: list[int]) -> list[str | None]:
        return [LABELS[i] for i in self.net(self.dev_x[indices]).argmax(1).tolist()]


CFG = dict(epochs=6, lr=0.05, batch_size=8, grad_accum=2, patience=1, grad_clip=1.0, warmup_steps=2, seed=5)


def _weights(task: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in task.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# unit behaviour --------------------------------------------------------------------------------------------
class Scripted(TrainTask):
    """Dev predictions follow a script, one list per epoch (to test plateau halving and selection)."""

    def __init__(self, gold: list[str], script: list[list[str]]) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
        self.dev_gold = gold
        self.script = script
        self.epoch = 0

    def n_items(self) -> int:
        return 5

    def batch_loss(self, items: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        return (self.w - 1.0).pow(2).sum(), {}

    def dev_labels(self, indices: list[int]) -> list[str | None]:
        self.epoch += 1
        return [self.script[self.epoch - 1][i] for i in indices]


def test_plateau_halves_lr_and_selection_breaks_ties_by_level() -> None:
    gold = ["positive", "positive", "positive", "neutral", "negative"]
    good_macro = ["positive", "positive", "neutral", "neutral", "positive"]  # acc 0.6, macro-F1 0.44
    good_weighted = ["positive", "positive", "positive", "negative", "neutral"]  # acc 0.6, weighted-F1 0.6
    low = ["negative"] * 5  # acc 0.2
    script = [low, good_macro, good_weighted, low, low, low, low, low]
    s_macro, s_weighted = dev_scores(gold, good_macro), dev_scores(gold, good_weighted)
    assert s_macro["accuracy"] == s_weighted["accuracy"] == 0.6
    assert s_macro["macro-F1"] > s_weighted["macro-F1"] and s_weighted["weighted-F1"] > s_macro["weighted-F1"]
    cfg = dict(epochs=8, lr=1.0, min_lr=0.2, patience=2, batch_size=4)
    aspect = fit(Scripted(gold, script), TrainerConfig(**cfg, level="aspect"))
    post = fit(Scripted(gold, script), TrainerConfig(**cfg, level="post"))
    assert aspect["selected_epoch"] == 2 and post["selected_epoch"] == 3
    # best accuracy at epoch 2; epochs 3, 4, 5 do not improve: halved after the third (patience 2), then floored
    assert aspect["lr"] == [1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5]
    assert aspect["dev_accuracy"][:3] == [0.2, 0.6, 0.6]
    assert fit(Scripted(gold, [low] * 12), TrainerConfig(**{**cfg, "epochs": 12}))["lr"][-1] == 0.2


def test_dev_scores_count_unparsed_as_wrong() -> None:
    scores = dev_scores(["positive", "negative"], ["positive", None])
    assert scores["accuracy"] == 0.5 and scores["macro-F1"] == pytest.approx((1.0 + 0.0 + 0.0) / 3 * (2 / 3) * 1.5)


def test_fit_is_deterministic_and_leaves_rng_alone(tmp_path: Path) -> None:
    import random

    import numpy as np

    a, b = ToyTask(), ToyTask()
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    before = (torch.rand(1).item(), random.random(), np.random.rand())
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    rep = fit(a, TrainerConfig(**CFG), workdir=tmp_path / "a")
    fit(b, TrainerConfig(**CFG))
    after = (torch.rand(1).item(), random.random(), np.random.rand())
    assert before == after
    assert _same(_weights(a), _weights(b))
    assert rep["selected_epoch"] >= 1 and len(rep["losses"]) == 6 and rep["effective_batch"] == 16
    assert rep["peak_rss_mib"] > 0 and rep["resumed_from_epoch"] is None
    ckpt = latest_checkpoint(tmp_path / "a")
    assert ckpt is not None and ckpt.name == "epoch-0006"
    assert sorted(p.name for p in ckpt.iterdir()) == [
        "best.safetensors",
        "model.safetensors",
        "optimizer.safetensors",
        "state.json",
    ]
    assert len(list((tmp_path / "a" / "checkpoints").iterdir())) == 1  # only the newest epoch is kept


def test_resume_at_epoch_boundary_is_bitwise(tmp_path: Path) -> None:
    full = ToyTask()
    fit(full, TrainerConfig(**CFG), workdir=tmp_path / "full")
    part = ToyTask()
    fit(part, TrainerConfig(**CFG), workdir=tmp_path / "cut", stop_after_epoch=3)
    again = ToyTask()
    rep = fit(again, TrainerConfig(**CFG), workdir=tmp_path / "cut")
    assert rep["resumed_from_epoch"] == 3 and len(rep["losses"]) == 6
    assert _same(_weights(full), _weights(again))


def test_checkpoint_of_another_config_is_ignored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fit(ToyTask(), TrainerConfig(**CFG), workdir=tmp_path, stop_after_epoch=2)
    rep = fit(ToyTask(), TrainerConfig(**{**CFG, "lr": 0.01}), workdir=tmp_path, stop_after_epoch=1)
    assert rep["resumed_from_epoch"] is None and "another trainer config" in capsys.readouterr().err


# SIGKILL mid-epoch -------------------------------------------------------------------------------------------
def _worker(workdir: Path, out: Path, slow: float) -> None:
    torch.set_num_threads(1)
    task = ToyTask(slow=slow, heartbeat=workdir / "heartbeat")
    report = fit(task, TrainerConfig(**CFG), workdir=workdir)
    save_file(_weights(task), str(out / "weights.safetensors"))
    (out / "report.json").write_text(json.dumps(report))


def _spawn(workdir: Path, out: Path, slow: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(HERE), str(workdir), str(out), str(slow)], env=env)


def test_sigkill_mid_epoch_then_resume_ends_bitwise_equal(tmp_path: Path) -> None:
    """Kill the worker in the middle of epoch 3; a second run resumes after epoch 2 and ends bitwise equal."""
    per_epoch = 96 // 8  # loss calls (micro-batches) per epoch
    ref_dir, ref_out, cut_dir, cut_out = (tmp_path / n for n in ("ref", "ref-out", "cut", "cut-out"))
    for d in (ref_dir, ref_out, cut_dir, cut_out):
        d.mkdir()
    proc = _spawn(cut_dir, cut_out, 0.05)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        beat = cut_dir / "heartbeat"
        calls = int(beat.read_text() or 0) if beat.is_file() else 0
        if calls >= 2 * per_epoch + per_epoch // 2:  # half-way through epoch 3
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the worker ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ckpt = latest_checkpoint(cut_dir)
    assert ckpt is not None and ckpt.name == "epoch-0002", f"expected a kill in epoch 3, found {ckpt}"
    assert not (cut_out / "weights.safetensors").exists()
    resumed = _spawn(cut_dir, cut_out, 0.0)
    reference = _spawn(ref_dir, ref_out, 0.0)
    assert resumed.wait(timeout=300) == 0 and reference.wait(timeout=300) == 0
    report = json.loads((cut_out / "report.json").read_text())
    assert report["resumed_from_epoch"] == 2
    a = load_file(str(cut_out / "weights.safetensors"))
    b = load_file(str(ref_out / "weights.safetensors"))
    assert _same(a, b), "resumed weights differ from the uninterrupted run"
    ref_report = json.loads((ref_out / "report.json").read_text())
    for key in ("losses", "dev_accuracy", "lr", "selected_epoch"):
        assert report[key] == ref_report[key], key


if __name__ == "__main__":
    _worker(Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]))
