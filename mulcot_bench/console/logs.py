"""Logging of the command line: one console handler on stderr (``-v``/``-q``), a ``run.log`` in each run folder,
and third-party progress bars (transformers, huggingface_hub) kept quiet unless ``-v``.

Every message of the core and of first-party plugins goes through the ``mulcot_bench`` logger
(:func:`get_logger`): the console shows INFO and above by default (``-q``: warnings only; ``-v``: DEBUG too),
the run log keeps DEBUG and above with a timestamp. Console lines are written through ``tqdm.write`` so that a
live progress bar stays below them. Nothing heavy is imported here (tqdm only when a line is written).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = "mulcot_bench"
RUN_LOG = "run.log"
QUIET, NORMAL, VERBOSE = -1, 0, 1
#: the console level of each verbosity
LEVELS = {QUIET: logging.WARNING, NORMAL: logging.INFO, VERBOSE: logging.DEBUG}
#: read by huggingface_hub when it is imported; transformers takes its progress-bar switch from it
HUB_BARS_ENV = "HF_HUB_DISABLE_PROGRESS_BARS"

_state = {"verbosity": NORMAL}
_last_line = [0.0]  # time.monotonic() of the last console line


class ConsoleHandler(logging.Handler):
    """Writes each record to the *current* ``sys.stderr`` (looked up per record, so a redirected or captured
    stream is followed) through ``tqdm.write``, which keeps a live bar below the line."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
            sys.stderr.flush()
            _last_line[0] = time.monotonic()
        except Exception:  # noqa: BLE001 - logging must never break the run; logging reports it
            self.handleError(record)


class _ConsoleFormat(logging.Formatter):
    """The message as it is; warnings and errors start with ``warning:`` / ``error:``."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.ERROR:
            return f"error: {text}"
        if record.levelno >= logging.WARNING and not text.startswith("warning:"):
            return f"warning: {text}"
        return text


class RunLogHandler(logging.Handler):
    """The run folder's ``run.log``: records are kept in memory until :meth:`open` names the file (the run folder
    is made after the pre-flight checks), then appended to it line by line as they come (a resumed run appends)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s"))
        self.path: Path | None = None
        self._held: list[str] = []

    def open(self, path: Path) -> None:
        self.path = path
        held, self._held = self._held, []
        if held:
            self._write(held)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            if self.path is None:
                self._held.append(line)
            else:
                self._write([line])
        except Exception:  # noqa: BLE001
            self.handleError(record)

    def _write(self, lines: list[str]) -> None:
        assert self.path is not None
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write("".join(f"{line}\n" for line in lines))


def _root() -> logging.Logger:
    """The ``mulcot_bench`` logger, with its console handler (INFO) added on first use."""
    logger = logging.getLogger(ROOT)
    if not any(isinstance(h, ConsoleHandler) for h in logger.handlers):
        handler = ConsoleHandler(LEVELS[_state["verbosity"]])
        handler.setFormatter(_ConsoleFormat("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)  # the handlers decide what is shown where
        logger.propagate = False
    return logger


def get_logger(name: str = "") -> logging.Logger:
    """The logger of a part of mulcot-bench or of a plugin (``get_logger("openai")`` is ``mulcot_bench.openai``):
    its lines follow ``-v``/``-q`` and go to the run log."""
    root = _root()
    return root.getChild(name) if name else root


def log(message: str, level: int = logging.INFO) -> None:
    """One line on the console (and in the run log)."""
    get_logger().log(level, message)


def warn(message: str) -> None:
    """One ``warning:`` line."""
    get_logger().warning(message)


def seconds_since_last_line() -> float:
    """How long the console has been silent."""
    return time.monotonic() - _last_line[0]


def verbosity() -> int:
    """QUIET (-1), NORMAL (0) or VERBOSE (1)."""
    return _state["verbosity"]


def setup(level: int) -> None:
    """Set the console's verbosity (``-q``: -1, default 0, ``-v``: 1) and quiet third-party bars unless verbose."""
    level = max(QUIET, min(VERBOSE, level))
    _state["verbosity"] = level
    for handler in _root().handlers:
        if isinstance(handler, ConsoleHandler):
            handler.setLevel(LEVELS[level])
    if level < VERBOSE:
        quiet_third_party_bars()


def errors_only() -> None:
    """Only errors on the console (the other ranks of a data-parallel run: rank 0 speaks; their run log keeps all)."""
    setup(QUIET)
    for handler in _root().handlers:
        if isinstance(handler, ConsoleHandler):
            handler.setLevel(logging.ERROR)


def quiet_third_party_bars() -> None:
    """Turn off the progress bars of huggingface_hub and transformers (weight loading, downloads).

    Set through ``HF_HUB_DISABLE_PROGRESS_BARS`` for when they are imported later (never imported here); switched
    off directly where they are imported already. A value the user set for that variable is left as it is.
    """
    if os.environ.setdefault(HUB_BARS_ENV, "1") != "1":
        return
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


_current: list[RunLogHandler] = []


@contextmanager
def run_log() -> Iterator[RunLogHandler]:
    """Collect the lines of one run for its ``run.log`` (:func:`open_run_log` names the folder once it exists)."""
    handler = RunLogHandler()
    logger = _root()
    logger.addHandler(handler)
    _current.append(handler)
    try:
        yield handler
    finally:
        _current.remove(handler)
        logger.removeHandler(handler)
        handler.close()


def open_run_log(run_dir: Path, name: str = RUN_LOG) -> Path:
    """Start writing the current run's lines (those so far first) to ``run_dir/name`` (``run.log``)."""
    path = run_dir / name
    if _current:
        _current[-1].open(path)
    return path


def append_run_log(run_dir: Path, text: str) -> None:
    """Add closing text (the exit summary, the score table) to a finished run's ``run.log``."""
    with (run_dir / RUN_LOG).open("a", encoding="utf-8") as fh:
        fh.write(text.rstrip("\n") + "\n")
