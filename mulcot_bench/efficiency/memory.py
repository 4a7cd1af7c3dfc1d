"""Peak memory of one phase of a run (a ``fit``, a predict call): resident set size, and CUDA memory on a GPU.

On Linux the kernel keeps the process's peak resident set size (``VmHWM``) and lets a process reset it
(``/proc/self/clear_refs``): a phase resets it on entry and reads it on exit, so the peak is exact, whatever
happened between two samples. Elsewhere a thread samples the resident set size every
:data:`SAMPLE_SECONDS` with psutil (when installed). On a GPU (torch already loaded and CUDA initialised) the phase
also resets and reads ``torch.cuda.max_memory_allocated``. Phases may nest: an inner phase's reset never loses
the outer phase's peak. Figures are for the whole process (its threads included, not its child processes).
"""

from __future__ import annotations

import functools
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
SAMPLE_SECONDS = 0.005
_active: list[PeakMemory] = []
_lock = threading.Lock()


def _status_kib(field: str) -> int | None:
    try:
        found = re.search(rf"^{field}:\s+(\d+) kB", STATUS.read_text(), re.M)
    except OSError:
        return None
    return int(found.group(1)) * 1024 if found else None


def rss_bytes() -> int | None:
    """The process's resident set size now (None where it cannot be read)."""
    now = _status_kib("VmRSS")
    if now is not None:
        return now
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.Process().memory_info().rss)


def _reset_hwm() -> bool:
    try:
        CLEAR_REFS.write_text("5")  # 5: reset the peak resident set size (Linux 4.0+)
    except OSError:
        return False
    return True


@functools.cache
def method() -> str:
    """How peaks are read here: ``VmHWM`` (exact, Linux), ``psutil sampled every 5 ms`` or ``none``."""
    if _status_kib("VmHWM") is not None and _reset_hwm():
        return "VmHWM"
    try:
        import psutil  # noqa: F401
    except ImportError:
        return "none"
    return f"psutil sampled every {SAMPLE_SECONDS * 1000:g} ms"


def _cuda() -> Any:
    """torch.cuda when torch is already loaded and CUDA initialised (never imports torch), else None."""
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    try:
        return cuda if cuda is not None and cuda.is_available() and cuda.is_initialized() else None
    except Exception:  # noqa: BLE001 - a broken CUDA set-up: no GPU figure
        return None


@dataclass
class PeakMemory:
    """``with PeakMemory() as peak: ...``; then ``rss_start``, ``rss_peak`` (bytes), ``cuda_start`` and
    ``cuda_peak`` (None without CUDA) and :attr:`rss_delta` / :attr:`cuda_delta` (peak above the start)."""

    rss_start: int | None = None
    rss_peak: int | None = None
    cuda_start: int | None = None
    cuda_peak: int | None = None
    _thread: threading.Thread | None = None
    _stop: threading.Event | None = None

    @property
    def rss_delta(self) -> int | None:
        return None if self.rss_peak is None or self.rss_start is None else max(0, self.rss_peak - self.rss_start)

    @property
    def cuda_delta(self) -> int | None:
        return None if self.cuda_peak is None else max(0, self.cuda_peak - (self.cuda_start or 0))

    def _fold(self, rss: int | None, cuda: int | None) -> None:
        if rss is not None:
            self.rss_peak = max(self.rss_peak or 0, rss)
        if cuda is not None:
            self.cuda_peak = max(self.cuda_peak or 0, cuda)

    def __enter__(self) -> PeakMemory:
        how = method()
        cuda = _cuda()
        with _lock:
            hwm = _status_kib("VmHWM") if how == "VmHWM" else None
            cuda_max = cuda.max_memory_allocated() if cuda is not None else None
            for outer in _active:  # what the outer phases reached so far, before this phase resets the peaks
                outer._fold(hwm, cuda_max)
            self.rss_start = rss_bytes()
            self.rss_peak = self.rss_start
            if how == "VmHWM":
                _reset_hwm()
            if cuda is not None:
                self.cuda_start = cuda.memory_allocated()
                cuda.reset_peak_memory_stats()
            _active.append(self)
        if how.startswith("psutil"):
            self._sample()
        return self

    def _sample(self) -> None:
        import psutil

        proc, stop = psutil.Process(), threading.Event()

        def loop() -> None:
            while not stop.wait(SAMPLE_SECONDS):
                self._fold(int(proc.memory_info().rss), None)

        self._stop, self._thread = stop, threading.Thread(target=loop, name="peak-memory", daemon=True)
        self._thread.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._thread is not None and self._stop is not None:
            self._stop.set()
            self._thread.join()
        cuda = _cuda()
        with _lock:
            hwm = _status_kib("VmHWM") if method() == "VmHWM" else rss_bytes()
            cuda_max = cuda.max_memory_allocated() if cuda is not None else None
            for phase in _active:
                phase._fold(hwm, cuda_max)
            if self in _active:
                _active.remove(self)
