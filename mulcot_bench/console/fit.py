"""How a trainable model reports its progress through ``FitContext.progress``.

``ctx.progress(desc, epochs)`` returns what the runner shows (see :mod:`mulcot_bench.runner.progress`);
:func:`fit_reporter` wraps it so that a model calls three methods whatever it got: :meth:`FitReporter.epoch`
after each epoch, :meth:`FitReporter.step` after each optimiser step (the runner prints at most one step line
every few seconds, so calling it every step is cheap), :meth:`FitReporter.close` at the end. A progress object
with only ``update(n)`` (a tqdm bar, an older runner) counts epochs; no progress hook at all is a no-op.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class FitReporter:
    """Epoch and step reports of one fit (see the module docstring)."""

    def __init__(self, target: Any = None) -> None:
        self.target = target

    def epoch(self, info: Mapping[str, Any]) -> None:
        """An epoch ended: ``epoch`` (1-based) and, where known, ``step``, ``steps``, ``loss``, ``dev_accuracy``,
        ``dev_macro_f1`` and any other number worth a look (shown as ``name value``)."""
        report = getattr(self.target, "epoch", None)
        if callable(report):
            report(dict(info))
        elif callable(getattr(self.target, "update", None)):
            self.target.update(1)

    def step(self, info: Mapping[str, Any]) -> None:
        """An optimiser step ended: ``step`` (over the whole fit), ``steps`` (the total), ``epoch``, ``loss``."""
        report = getattr(self.target, "step", None)
        if callable(report):
            report(dict(info))

    def close(self) -> None:
        close = getattr(self.target, "close", None)
        if callable(close):
            close()


def fit_reporter(ctx: Any, desc: str, epochs: int) -> FitReporter:
    """The reporter of one fit: ``desc`` names it (``"fit MODEL"``, or ``"fit MODEL PHASE"``), ``epochs`` its length."""
    progress = getattr(ctx, "progress", None)
    return FitReporter(progress(desc, int(epochs)) if callable(progress) else None)
