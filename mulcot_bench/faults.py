"""Model faults: a per-call timeout for plugin calls, the error a misbehaving model raises, and failpoints.

**Timeouts.** A model call (one batch of ``predict``, ``explain`` or ``sample``) runs in a daemon worker
thread; when it has not returned within the run's timeout (``--model-timeout`` or
``$MULCOT_BENCH_MODEL_TIMEOUT``, seconds; none by default) the run stops waiting, abandons the thread and
records the model as failed. The model is remembered as hung: later calls to it in the same run fail at
once instead of waiting again. A thread, not a subprocess: the model object (weights loaded on a GPU, an
open client) stays in this process and samples need no serialisation (and nothing may be pickled), at
no cost per call. The price is that an abandoned call cannot be killed: it keeps its CPU, GPU memory
and thread until it returns or the process exits (daemon threads do not delay the exit). Thread-local state
set outside ``predict`` (``torch.cuda.set_device``, a ``no_grad`` block around the call) does not reach the
worker thread: a model sets what it needs inside its own methods. Without a timeout, calls run in the
calling thread as before.

**Failpoints.** ``failpoint(name)`` marks a point in the run where the crash tests stop a run:
with ``$MULCOT_BENCH_FAILPOINT=name[:n]`` the n-th time (default 1) the point is reached, the process
writes ``$MULCOT_BENCH_FAILPOINT_MARKER`` (a file name) and waits there to be killed. Unset, it does nothing.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from mulcot_bench.errors import UserError

TIMEOUT_ENV = "MULCOT_BENCH_MODEL_TIMEOUT"
FAILPOINT_ENV = "MULCOT_BENCH_FAILPOINT"
MARKER_ENV = "MULCOT_BENCH_FAILPOINT_MARKER"
FAILPOINT_WAIT_S = 300  # a failpoint nobody kills ends the process itself after this long

T = TypeVar("T")


class ModelFault(Exception):  # noqa: N818 - reads as what happened, like ModelUnavailable
    """A model broke its contract (wrong number of outputs, an exception, a hang): recorded, the run goes on.

    Not a :class:`~mulcot_bench.errors.UserError`: the fault is the plugin's, not the user's input.
    """


class ModelTimeout(ModelFault):
    """A model call did not return within the run's per-call timeout."""


_state: dict[str, object] = {"timeout": None, "hung": set(), "hits": {}}


def parse_timeout(value: str | float | None, source: str) -> float | None:
    """A timeout in seconds from an option or the environment (None: no timeout); bad values raise."""
    if value is None or value == "":
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise UserError(f"{source} {value!r} must be a positive number of seconds, e.g. 600")
    return seconds


@contextmanager
def call_timeout(seconds: float | None) -> Iterator[float | None]:
    """Within the block, model calls time out after ``seconds`` (None: ``$MULCOT_BENCH_MODEL_TIMEOUT`` or none).

    The record of hung models starts empty for the block.
    """
    if seconds is None:
        seconds = parse_timeout(os.environ.get(TIMEOUT_ENV), f"${TIMEOUT_ENV}")
    before = dict(_state)
    _state.update(timeout=seconds, hung=set())
    try:
        yield seconds
    finally:
        _state.update(before)


def current_timeout() -> float | None:
    return _state["timeout"]  # type: ignore[return-value]


def guarded(model: str, what: str, call: Callable[[], T]) -> T:
    """``call()`` under the current timeout; a hang raises :class:`ModelTimeout` and marks ``model`` hung."""
    hung: set[str] = _state["hung"]  # type: ignore[assignment]
    if model in hung:
        raise ModelTimeout(f"model {model!r} hung earlier in this run (its call is abandoned); not called again")
    timeout = current_timeout()
    if timeout is None:
        return call()
    box: dict[str, object] = {}

    def work() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    worker = threading.Thread(target=work, name=f"mulcot-call-{model}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        hung.add(model)
        raise ModelTimeout(
            f"model {model!r} did not return from {what} within {timeout:g} s (--model-timeout); the call was abandoned"
        )
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def failpoint(name: str) -> None:
    """Stop here (write the marker, wait to be killed) when ``$MULCOT_BENCH_FAILPOINT`` names this point."""
    spec = os.environ.get(FAILPOINT_ENV)
    if not spec:
        return
    wanted, _, nth = spec.partition(":")
    if wanted != name:
        return
    hits: dict[str, int] = _state["hits"]  # type: ignore[assignment]
    hits[name] = hits.get(name, 0) + 1
    if hits[name] != int(nth or 1):
        return
    marker = os.environ.get(MARKER_ENV)
    if marker:
        Path(marker).write_text(f"{name} {os.getpid()}\n")
    time.sleep(FAILPOINT_WAIT_S)
    os._exit(137)  # nobody killed us: end as a kill would, with no clean-up
