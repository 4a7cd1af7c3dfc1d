"""A generic, resumable, multi-process trainer for assistants and students.

What it does, epoch by epoch:

* AdamW over the task's trainable parameters; ``batch_size`` items per micro-batch and ``grad_accum``
  micro-batches per optimiser step (effective batch ``batch_size * grad_accum``, whatever the number of
  processes: under torch.distributed each micro-batch is split across the ranks, ``items[rank::world]``, and
  every rank's loss is weighted by its share of the step's items, so DDP's gradient average is the item-weighted
  mean of the whole step).
* The learning rate: a base rate that is multiplied by ``lr_factor`` (0.5: halved) when validation accuracy has
  not improved (relative threshold ``plateau_threshold``, as torch's ReduceLROnPlateau) for more than
  ``patience`` epochs, never below ``min_lr``; optionally times a per-step warmup and cosine factor.
* Validation after every epoch, sharded by sample over the ranks and gathered in order: accuracy,
  macro-F1 and weighted-F1 (an unparsed answer is wrong). The selected epoch maximises accuracy, ties broken by
  weighted-F1 at post level (MVSA) or macro-F1 at aspect level (Twitter); the first such epoch wins.
* A checkpoint per epoch under ``workdir/checkpoints/epoch-NNNN/`` (written by rank 0, atomically):
  ``model.safetensors`` (the trainable state), ``best.safetensors`` (the selected state so far),
  ``optimizer.safetensors`` (AdamW's moment tensors and steps) and ``state.json`` (epoch, step, learning-rate and
  plateau state, selection state, the per-epoch record, the optimiser's parameter groups, the config). No pickle.
  Only the newest epoch folder is kept. A new :func:`fit` with the same ``workdir`` resumes after the newest
  complete checkpoint (a kill mid-epoch loses only that epoch).
* Randomness: at the start of every epoch torch, ``random`` and NumPy are reseeded from (seed, epoch, rank) and
  the shuffling order comes from (seed, epoch) alone, so the state of every generator at an epoch boundary is a
  function of scalars in ``state.json``: resuming is exact, with the same or another number of processes.

On CPU a resumed run ends with bitwise the same weights as an uninterrupted one (tested).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from mulcot_bench.labels import LABELS
from mulcot_bench.parallel.collect import (
    all_reduce_sum,
    barrier,
    gather_ordered,
    sharded_map,
    sync_buffers,
    union_keys,
)
from mulcot_bench.parallel.world import is_main, rank, world_size

CHECKPOINT_FORMAT = "mulcot-trainer-checkpoint"
CHECKPOINT_VERSION = 1
F1_NAMES = {"post": "weighted-F1", "aspect": "macro-F1"}


@dataclass
class TrainerConfig:
    """Optimisation, schedule and selection settings of one fit (all plain data)."""

    epochs: int = 20
    lr: float = 3e-4
    min_lr: float = 1e-6
    lr_factor: float = 0.5
    patience: int = 2
    plateau_threshold: float = 1e-4
    batch_size: int = 2
    grad_accum: int = 1
    weight_decay: float = 0.01
    grad_clip: float = 0.0
    warmup_steps: int = 0
    cosine_decay: bool = False
    seed: int = 42
    level: str = "aspect"

    def __post_init__(self) -> None:
        if self.level not in F1_NAMES:
            raise ValueError(f"trainer level must be 'post' or 'aspect', got {self.level!r}")
        for name in ("epochs", "batch_size", "grad_accum"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"trainer {name} must be >= 1, got {getattr(self, name)}")


class TrainTask(nn.Module):
    """What :func:`fit` trains: its parameters, a loss over item indices, and dev predictions.

    Subclasses set ``dev_gold`` (the dev labels) and implement :meth:`n_items`, :meth:`batch_loss` and
    :meth:`dev_labels`. Keep a frozen assistant out of the registered submodules (a plain attribute holding a
    non-Module wrapper), so that it is neither trained, synchronised nor checkpointed.
    """

    dev_gold: list[str]

    def n_items(self) -> int:
        raise NotImplementedError

    def batch_loss(self, items: list[int]) -> tuple[Tensor, dict[str, float]]:
        """The loss of ``items`` (mean over them) and named parts (floats, means over the same items)."""
        raise NotImplementedError

    def dev_labels(self, indices: list[int]) -> list[str | None]:
        """Predicted labels of the dev items ``indices`` (the module is in eval mode, under no_grad)."""
        raise NotImplementedError

    def forward(self, items: list[int]) -> tuple[Tensor, dict[str, float]]:
        if not items:  # a rank with no items this micro-batch still takes part in the gradient all-reduce
            zero = sum((p.reshape(-1)[0] * 0.0 for p in self.parameters() if p.requires_grad), torch.zeros(()))
            return zero, {}
        return self.batch_loss(items)


# scores -----------------------------------------------------------------------------------------------
def dev_scores(gold: Sequence[str], pred: Sequence[str | None]) -> dict[str, float]:
    """Accuracy, macro-F1 and weighted-F1 over the three labels (zero division 0; None is wrong)."""
    n = len(gold)
    if n == 0:
        return {"accuracy": 0.0, "macro-F1": 0.0, "weighted-F1": 0.0}
    f1s, support = [], []
    for label in LABELS:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, pred, strict=True) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, pred, strict=True) if g == label and p != label)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
        support.append(tp + fn)
    return {
        "accuracy": sum(1 for g, p in zip(gold, pred, strict=True) if g == p) / n,
        "macro-F1": sum(f1s) / len(f1s),
        "weighted-F1": sum(f * s for f, s in zip(f1s, support, strict=True)) / max(1, sum(support)),
    }


def peak_memory() -> dict[str, float | None]:
    """Peak resident memory of this process (MiB) and peak CUDA memory allocated (MiB, None without CUDA)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024.0 if sys.platform != "darwin" else 1024.0**2)
    cuda = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    return {"peak_rss_mib": round(rss, 1), "peak_cuda_mib": round(cuda, 1) if cuda is not None else None}


# randomness -------------------------------------------------------------------------------------------
def _mix(*parts: int) -> int:
    """A 63-bit seed from integers (splitmix-style), stable across runs and platforms."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h ^= (int(p) + 0x9E3779B97F4A7C15 + (h << 6) + (h >> 2)) & 0xFFFFFFFFFFFFFFFF
        h = (h * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    return h & 0x7FFFFFFFFFFFFFFF


def seed_epoch(seed: int, epoch: int, rank: int) -> None:
    """Reseed torch, ``random`` and NumPy for one epoch of one rank."""
    import numpy as np

    s = _mix(seed, epoch, rank)
    torch.manual_seed(s)
    random.seed(s)
    np.random.seed(s % 2**32)


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The shuffled item order of an epoch: a function of (seed, epoch) only, the same on every rank."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(_mix(seed, epoch, 0xD15))).tolist()


def lr_factor(cfg: TrainerConfig, step: int, total: int) -> float:
    """Per-step factor: linear warmup over ``warmup_steps``, then 1 or a cosine from 1 down to 0.1."""
    warm = min(1.0, step / cfg.warmup_steps) if cfg.warmup_steps > 0 else 1.0
    if not cfg.cosine_decay or total <= 0:
        return warm
    return warm * (0.1 + 0.45 * (1.0 + math.cos(math.pi * min(step, total) / total)))


# state ------------------------------------------------------------------------------------------------
@dataclass
class TrainState:
    """Everything besides tensors that a resumed fit needs (saved as JSON)."""

    epoch: int = 0
    step: int = 0
    base_lr: float = 0.0
    plateau_best: float | None = None
    bad_epochs: int = 0
    best: list[float] | None = None
    best_epoch: int = 0
    record: dict[str, list[Any]] = field(
        default_factory=lambda: {
            "losses": [],
            "task_losses": [],
            "dev_accuracy": [],
            "dev_macro_f1": [],
            "dev_weighted_f1": [],
            "lr": [],
            "epoch_seconds": [],
        }
    )


def _optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors: dict[str, Tensor] = {}
    extra: dict[str, Any] = {}
    for idx, st in sd["state"].items():
        for name, value in st.items():
            if torch.is_tensor(value):
                tensors[f"{idx}.{name}"] = value.detach().contiguous().cpu()
            else:
                extra[f"{idx}.{name}"] = value
    return tensors, {"param_groups": sd["param_groups"], "extra": extra}


def _load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, Tensor], info: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        idx, _, key = name.partition(".")
        state.setdefault(int(idx), {})[key] = value
    for name, value in info.get("extra", {}).items():
        idx, _, key = name.partition(".")
        state.setdefault(int(idx), {})[key] = value
    groups = []
    for g in info["param_groups"]:
        g = dict(g)
        if isinstance(g.get("betas"), list):
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    opt.load_state_dict({"state": state, "param_groups": groups})


def _state_dict(task: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone().contiguous().cpu() for k, v in task.state_dict().items()}


def latest_checkpoint(workdir: Path | None) -> Path | None:
    """The newest complete ``epoch-NNNN`` folder under ``workdir/checkpoints``, or None."""
    if workdir is None:
        return None
    root = Path(workdir) / "checkpoints"
    found = sorted(p for p in root.glob("epoch-*") if (p / "state.json").is_file()) if root.is_dir() else []
    return found[-1] if found else None


def _save_checkpoint(
    workdir: Path,
    epoch: int,
    task: nn.Module,
    best_state: dict[str, Tensor] | None,
    opt: torch.optim.Optimizer,
    state: TrainState,
    cfg: TrainerConfig,
    fingerprint: str,
) -> Path:
    root = Path(workdir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"epoch-{epoch:04d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".epoch-{epoch:04d}.", dir=root))
    try:
        save_file(_state_dict(task), str(tmp / "model.safetensors"))
        if best_state is not None:
            save_file(best_state, str(tmp / "best.safetensors"))
        tensors, info = _optimizer_tensors(opt)
        save_file(tensors, str(tmp / "optimizer.safetensors"))
        payload = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "fingerprint": fingerprint,
            "config": asdict(cfg),
            "state": asdict(state),
            "optimizer": info,
            "world_size": world_size(),
            "rng": {"scheme": "reseeded per epoch from (seed, epoch, rank); order from (seed, epoch)"},
        }
        (tmp / "state.json").write_text(json.dumps(payload, indent=1, sort_keys=True), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    for old in root.glob("epoch-*"):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _load_checkpoint(
    folder: Path, task: nn.Module, opt: torch.optim.Optimizer, cfg: TrainerConfig, fingerprint: str
) -> tuple[TrainState, dict[str, Tensor] | None] | None:
    """Restore a checkpoint into ``task`` and ``opt``; None (and a note on stderr) when it does not match."""
    payload = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    why = None
    if payload.get("format") != CHECKPOINT_FORMAT or payload.get("version") != CHECKPOINT_VERSION:
        why = "another checkpoint format"
    elif payload.get("fingerprint") != fingerprint:
        why = "another task fingerprint"
    elif payload.get("config") != json.loads(json.dumps(asdict(cfg))):
        why = "another trainer config"
    if why is not None:
        print(f"note: ignoring checkpoint {folder} ({why}); training from the start", file=sys.stderr)
        return None
    task.load_state_dict(load_file(str(folder / "model.safetensors")))
    _load_optimizer(opt, load_file(str(folder / "optimizer.safetensors")), payload["optimizer"])
    best = load_file(str(folder / "best.safetensors")) if (folder / "best.safetensors").is_file() else None
    names = {f.name for f in fields(TrainState)}
    return TrainState(**{k: v for k, v in payload["state"].items() if k in names}), best


# the loop ---------------------------------------------------------------------------------------------
def fit(
    task: TrainTask,
    cfg: TrainerConfig,
    *,
    workdir: Path | None = None,
    fingerprint: str = "",
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    eval_batch: int = 256,
    stop_after_epoch: int | None = None,
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train ``task`` in place, load the selected epoch's state into it, and return the training report.

    ``workdir`` holds the checkpoints (None: no checkpoints, no resume). ``fingerprint`` names what is trained
    (a resumed fit refuses a checkpoint with another fingerprint or config). ``stop_after_epoch`` ends the loop
    early after that epoch (tests use it to simulate an interruption at an epoch boundary). ``on_epoch`` gets
    ``epoch``, ``epochs``, ``step``, ``steps``, ``loss``, ``seconds`` and the dev scores after each epoch;
    ``on_step`` (rank 0 only) ``epoch``, ``epochs``, ``step``, ``steps`` and the epoch's mean ``loss`` so far after
    each optimiser step (the shapes of :class:`mulcot_bench.console.fit.FitReporter`).
    The caller's random generators (torch, ``random``, NumPy) are left as they were.
    """
    import numpy as np

    py_state, np_state = random.getstate(), np.random.get_state()
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=devices):
            return _fit(task, cfg, workdir, fingerprint, on_epoch, eval_batch, stop_after_epoch, on_step)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


@dataclass
class _Loop:
    """What the epochs of one fit share: the task and its (DDP) model, the optimiser, the sizes, the step hook."""

    task: TrainTask
    model: nn.Module
    opt: torch.optim.Optimizer
    params: list[nn.Parameter]
    cfg: TrainerConfig
    world: int
    rank: int
    n: int
    total_steps: int
    on_step: Callable[[dict[str, Any]], None] | None


def _fit(
    task: TrainTask,
    cfg: TrainerConfig,
    workdir: Path | None,
    fingerprint: str,
    on_epoch: Callable[[dict[str, Any]], None] | None,
    eval_batch: int,
    stop_after_epoch: int | None,
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    start = time.perf_counter()
    report_steps = on_step if is_main() else None
    world, rk = world_size(), rank()
    params = [p for p in task.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the task has no trainable parameters")
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    state, best_state, resumed_from = _resume(task, opt, cfg, workdir, fingerprint, world)
    model: nn.Module = task
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(task, find_unused_parameters=True)
    n = task.n_items()
    if n == 0:
        raise ValueError("no training items")
    n_micro = math.ceil(n / int(cfg.batch_size))
    total_steps = cfg.epochs * math.ceil(n_micro / int(cfg.grad_accum))
    loop = _Loop(task, model, opt, params, cfg, world, rk, n, total_steps, report_steps)
    last = min(cfg.epochs, stop_after_epoch) if stop_after_epoch is not None else cfg.epochs
    for epoch in range(state.epoch + 1, last + 1):
        t0 = time.perf_counter()
        _record_losses(state, _train_epoch(loop, state, epoch), n)
        sync_buffers(task)  # e.g. BatchNorm statistics: every rank evaluates (and rank 0 saves) rank 0's
        if task.dev_gold:
            best_state = _evaluate(loop, state, epoch, eval_batch, best_state)
        state.record["epoch_seconds"].append(round(time.perf_counter() - t0, 3))
        state.epoch = epoch
        if workdir is not None:
            if is_main():
                _save_checkpoint(Path(workdir), epoch, task, best_state, opt, state, cfg, fingerprint)
            barrier("saving a checkpoint")
        if on_epoch is not None:
            on_epoch(_epoch_info(loop, state, epoch, start))
    return _report(loop, state, best_state, resumed_from, start)


def _resume(
    task: TrainTask, opt: torch.optim.Optimizer, cfg: TrainerConfig, workdir: Path | None, fingerprint: str, world: int
) -> tuple[TrainState, dict[str, Tensor] | None, int | None]:
    """The state to start from, the selected state so far and the epoch resumed after: the newest matching
    checkpoint under ``workdir`` (loaded into ``task`` and ``opt``), else a fresh start."""
    ckpt = latest_checkpoint(workdir)
    seen = gather_ordered([ckpt.name if ckpt is not None else None], world, "finding the checkpoints")  # per rank
    if len(set(seen)) > 1:
        raise ValueError(
            f"the processes see different checkpoints under {workdir} ({seen}); the work folder must be on a "
            "file system that every process shares"
        )
    if ckpt is not None:
        loaded = _load_checkpoint(ckpt, task, opt, cfg, fingerprint)
        if loaded is not None:
            state, best_state = loaded
            return state, best_state, state.epoch
    return TrainState(base_lr=cfg.lr), None, None


def _train_epoch(loop: _Loop, state: TrainState, epoch: int) -> dict[str, float]:
    """One epoch of optimiser steps; this rank's item-weighted sums of the loss and of its named parts."""
    cfg, model, world, rk = loop.cfg, loop.model, loop.world, loop.rank
    seed_epoch(cfg.seed, epoch, rk)
    order = epoch_order(loop.n, cfg.seed, epoch)
    micro, accum = int(cfg.batch_size), int(cfg.grad_accum)
    batches = [order[s : s + micro] for s in range(0, loop.n, micro)]
    model.train()
    sums: dict[str, float] = {}
    seen = 0  # this rank's items so far this epoch
    for m, batch in enumerate(batches):
        group = batches[(m // accum) * accum : (m // accum) * accum + accum]
        n_group = sum(len(b) for b in group)
        local = batch[rk::world]
        sync = m % accum == accum - 1 or m == len(batches) - 1
        no_sync = model.no_sync() if world > 1 and not sync else contextlib.nullcontext()  # type: ignore[operator]
        with no_sync:
            loss, parts = model(local)
            (loss * (len(local) / n_group * world)).backward()
        if local:
            seen += len(local)
            sums["loss"] = sums.get("loss", 0.0) + float(loss.detach()) * len(local)
            for name, value in parts.items():
                sums[name] = sums.get(name, 0.0) + float(value) * len(local)
        if sync:
            _step(loop, state, epoch, sums.get("loss", 0.0) / max(1, seen))
    return sums


def _step(loop: _Loop, state: TrainState, epoch: int, mean_loss: float) -> None:
    """One optimiser step at the scheduled learning rate (clipped first when asked), then the step report."""
    cfg = loop.cfg
    state.step += 1
    lr = state.base_lr * lr_factor(cfg, state.step, loop.total_steps)
    for g in loop.opt.param_groups:
        g["lr"] = lr
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(loop.params, cfg.grad_clip)
    loop.opt.step()
    loop.opt.zero_grad(set_to_none=True)
    if loop.on_step is not None:
        loop.on_step(
            {"epoch": epoch, "epochs": cfg.epochs, "step": state.step, "steps": loop.total_steps, "loss": mean_loss}
        )


def _record_losses(state: TrainState, sums: dict[str, float], n: int) -> None:
    """The epoch's mean loss and parts over every rank's items, and its base learning rate, into the record."""
    names = union_keys(sums, "summing the losses")
    totals = dict(zip(names, all_reduce_sum([sums.get(k, 0.0) for k in names], "summing the losses"), strict=True))
    rec = state.record
    rec["losses"].append(round(totals.get("loss", 0.0) / n, 6))
    rec["task_losses"].append({k: round(v / n, 6) for k, v in totals.items() if k != "loss"})
    rec["lr"].append(state.base_lr)


def _evaluate(
    loop: _Loop, state: TrainState, epoch: int, eval_batch: int, best_state: dict[str, Tensor] | None
) -> dict[str, Tensor] | None:
    """Score the dev set (sharded over the ranks), keep the epoch if it is the best so far, follow the plateau;
    returns the selected state."""
    task, cfg = loop.task, loop.cfg
    task.eval()
    with torch.no_grad():
        pred = sharded_map(lambda idx: _chunked(task.dev_labels, idx, eval_batch), len(task.dev_gold), "scoring dev")
    scores = dev_scores(task.dev_gold, pred)
    acc, tie = scores["accuracy"], scores[F1_NAMES[cfg.level]]
    rec = state.record
    rec["dev_accuracy"].append(round(acc, 6))
    rec["dev_macro_f1"].append(round(scores["macro-F1"], 6))
    rec["dev_weighted_f1"].append(round(scores["weighted-F1"], 6))
    if state.best is None or (acc, tie) > tuple(state.best):
        state.best, state.best_epoch = [acc, tie], epoch
        best_state = _state_dict(task)
    if state.plateau_best is None or acc > state.plateau_best * (1.0 + cfg.plateau_threshold):
        state.plateau_best, state.bad_epochs = acc, 0
    else:
        state.bad_epochs += 1
        if state.bad_epochs > cfg.patience:
            state.base_lr, state.bad_epochs = max(cfg.min_lr, state.base_lr * cfg.lr_factor), 0
    return best_state


def _epoch_info(loop: _Loop, state: TrainState, epoch: int, start: float) -> dict[str, Any]:
    """What ``on_epoch`` gets after an epoch."""
    rec = state.record
    info = {"epoch": epoch, "epochs": loop.cfg.epochs, "step": state.step, "steps": loop.total_steps,
            "loss": rec["losses"][-1], "seconds": time.perf_counter() - start}  # fmt: skip
    if loop.task.dev_gold:
        info.update(dev_accuracy=rec["dev_accuracy"][-1], dev_macro_f1=rec["dev_macro_f1"][-1])
    return info


def _report(
    loop: _Loop, state: TrainState, best_state: dict[str, Tensor] | None, resumed_from: int | None, start: float
) -> dict[str, Any]:
    """Load the selected state into the task (eval mode) and return the training report."""
    task, cfg = loop.task, loop.cfg
    if best_state is not None:
        task.load_state_dict(best_state)
        selected = state.best_epoch
    else:
        selected = state.epoch
    task.eval()
    f1_name = F1_NAMES[cfg.level]
    return {
        "epochs": cfg.epochs,
        "epochs_run": state.epoch,
        "steps": state.step,
        "selected_epoch": selected,
        "selection": f"dev accuracy, ties by dev {f1_name}" if task.dev_gold else "last epoch (no dev set)",
        **state.record,
        "resumed_from_epoch": resumed_from,
        "world_size": loop.world,
        "effective_batch": int(cfg.batch_size) * int(cfg.grad_accum),
        "train_seconds": round(time.perf_counter() - start, 3),
        **peak_memory(),
    }


def _chunked(fn: Callable[[list[int]], list[Any]], idx: list[int], size: int) -> list[Any]:
    out: list[Any] = []
    for s in range(0, len(idx), size):
        out.extend(fn(idx[s : s + size]))
    return out
