"""What a run shows while it works: each dataset's step count, progress over model calls, training lines.

* :class:`Steps`: ``[synthetic] step 3/25: tiny-vlm-student`` as each step of a dataset starts (the teacher
  stage, every model's evaluation, the scoring), with the time since the dataset started.
* :class:`Meter`: progress over a known number of items (model calls, scoring): a tqdm bar on a terminal;
  elsewhere (a pipe, a log file) a line at most every :data:`LINE_EVERY` seconds with done/total and the ETA.
* :func:`heartbeat`: around a fit, a "still training" line whenever the console was silent for
  :data:`HEARTBEAT` seconds (a model's set-up, or a long epoch of a model that reports nothing).
* :class:`FitLines`: what ``FitContext.progress(desc, epochs)`` returns to a training model: a line per epoch
  (epoch k/N, step, loss, dev scores, elapsed, ETA) and, within a long epoch, a step line at most every
  :data:`LINE_EVERY` seconds, so training is never silent for long. A model that only calls ``update(1)``
  per epoch gets the epoch lines without scores; one that never calls it still trains.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from mulcot_bench.console.logs import QUIET, log, seconds_since_last_line, verbosity

#: seconds between intermediate lines of one piece of long work (training steps, model calls off a terminal)
LINE_EVERY = 10.0
#: the longest a fit stays silent: after this many seconds without a line, :func:`heartbeat` prints one
HEARTBEAT = 20.0
#: how the dev scores a trainer reports are named on the epoch line (exact metric names)
DEV_NAMES = {"dev_accuracy": "dev accuracy", "dev_macro_f1": "macro-F1", "dev_weighted_f1": "weighted-F1"}
_SHOWN = {"epoch", "epochs", "step", "steps", "loss", "seconds", *DEV_NAMES}


def duration(seconds: float) -> str:
    """``42s``, ``3m05s`` or ``2h07m``."""
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def eta(done: float, total: float, elapsed: float) -> str | None:
    """The remaining time at the rate so far (None before anything is done)."""
    if done <= 0 or total <= done:
        return None if done <= 0 else "0s"
    return duration(elapsed / done * (total - done))


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class Steps:
    """The step count of one dataset; each :meth:`next` prints the step that starts."""

    def __init__(self, dataset: str, total: int) -> None:
        self.dataset = dataset
        self.total = total
        self.done = 0
        self.start = time.monotonic()

    def next(self, what: str) -> None:
        self.done += 1
        elapsed = duration(time.monotonic() - self.start)
        log(f"[{self.dataset}] step {self.done}/{self.total}: {what} (at {elapsed})")


class Meter:
    """Progress over ``total`` items: a bar on a terminal (none with ``-q``), throttled lines elsewhere."""

    def __init__(self, desc: str, total: int, unit: str = "sample") -> None:
        import sys

        self.desc, self.total, self.unit = desc, total, unit
        self.done = 0
        self.start = self.last = time.monotonic()
        self.bar = None
        if verbosity() > QUIET and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, leave=False, file=sys.stderr)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.monotonic()
        if now - self.last >= LINE_EVERY and self.done < self.total:
            self.last = now
            left = eta(self.done, self.total, now - self.start)
            log(f"{self.desc}: {self.done}/{self.total} {self.unit}s, {duration(now - self.start)}, ETA {left}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> Meter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FitLines:
    """One model's training as lines (see the module docstring); ``label`` names the dataset and the model."""

    def __init__(self, label: str, epochs: int) -> None:
        self.label = label
        self.epochs = int(epochs)
        self.start = self.last = time.monotonic()
        self.epoch_done = 0
        self.first_epoch: int | None = None
        self.first_step: int | None = None

    def _elapsed_eta(self, done: float, total: float) -> str:
        elapsed = time.monotonic() - self.start
        left = eta(done, total, elapsed)
        return f"elapsed {duration(elapsed)}" + (f", ETA {left}" if left is not None else "")

    def update(self, n: int = 1) -> None:
        """An epoch ended (for models that count epochs only)."""
        self.epoch({"epoch": self.epoch_done + n})

    def epoch(self, info: Mapping[str, Any]) -> None:
        """An epoch ended: ``epoch`` (1-based), and where known ``step``/``steps``, ``loss`` and dev scores."""
        k = int(info.get("epoch", self.epoch_done + 1))
        total = int(info.get("epochs", self.epochs))
        if self.first_epoch is None:
            self.first_epoch = k  # a resumed fit starts past 1: its rate counts the epochs run here
        self.epoch_done = k
        parts = [f"{self.label} epoch {k}/{total}"]
        if "step" in info:
            parts.append(f"step {info['step']}" + (f"/{info['steps']}" if "steps" in info else ""))
        if info.get("loss") is not None:
            parts.append(f"loss {float(info['loss']):.4f}")
        parts += [f"{name} {float(info[key]):.3f}" for key, name in DEV_NAMES.items() if info.get(key) is not None]
        parts += [f"{key} {_number(value)}" for key, value in info.items() if key not in _SHOWN and value is not None]
        parts.append(self._elapsed_eta(k - self.first_epoch + 1, total - self.first_epoch + 1))
        self.last = time.monotonic()
        log(", ".join(parts))

    def step(self, info: Mapping[str, Any]) -> None:
        """An optimiser step ended (``step``, ``steps``, ``epoch``, ``loss``): a line when the last is old enough."""
        step = int(info.get("step", 0))
        if self.first_step is None:
            self.first_step = step - 1
        if time.monotonic() - self.last < LINE_EVERY:
            return
        parts = [f"{self.label} epoch {info.get('epoch', self.epoch_done + 1)}/{info.get('epochs', self.epochs)}"]
        steps = info.get("steps")
        parts.append(f"step {step}" + (f"/{steps}" if steps else ""))
        if info.get("loss") is not None:
            parts.append(f"loss {float(info['loss']):.4f}")
        done = step - self.first_step
        parts.append(self._elapsed_eta(done, int(steps) - self.first_step) if steps else self._elapsed_eta(0, 0))
        self.last = time.monotonic()
        log(", ".join(parts))

    def close(self) -> None:
        """Nothing to release (lines only); here for the bar-like contract."""


def fit_progress(dataset: str, model: str) -> Callable[[str, int], FitLines]:
    """The ``FitContext.progress`` the pipeline hands to ``model`` on ``dataset``."""

    def progress(desc: str, epochs: int) -> FitLines:
        what = desc.removeprefix("fit ").strip() or model
        return FitLines(f"[{dataset}] {what}", epochs)

    return progress


@contextmanager
def heartbeat(label: str, every: float = HEARTBEAT) -> Iterator[None]:
    """While the block runs, ``<label>: still training (<elapsed>)`` whenever nothing was printed for ``every`` s."""
    stop = threading.Event()
    start = time.monotonic()

    def beat() -> None:
        while not stop.wait(min(1.0, every / 4)):
            if seconds_since_last_line() >= every:
                log(f"{label}: still training ({duration(time.monotonic() - start)} so far)")

    thread = threading.Thread(target=beat, name="mulcot-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
