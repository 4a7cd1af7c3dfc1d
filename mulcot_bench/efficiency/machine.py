"""The machine a figure was measured on: CPU model, cores, memory, GPUs; read without importing torch.

Two figures are comparable only when measured on the same machine: :func:`machine` describes this one and gives it
an ``id`` (a hash of the description), which every efficiency record carries.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return None


def _gpus() -> list[str]:
    """NVIDIA GPUs as the driver lists them (Linux), e.g. ``["NVIDIA H100 80GB HBM3"]``; [] when none."""
    names = []
    for info in sorted(Path("/proc/driver/nvidia/gpus").glob("*/information")):
        try:
            for line in info.read_text(errors="replace").splitlines():
                if line.startswith("Model:"):
                    names.append(line.split(":", 1)[1].strip())
        except OSError:
            continue
    return names


@functools.cache
def machine() -> dict[str, Any]:
    """This machine: ``id`` (12 hex digits of its description), ``cpu``, ``cores``, ``memory_gib``, ``gpus``,
    ``arch`` and ``os``."""
    memory = _memory_bytes()
    gpus = _gpus()
    desc: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1) if memory else None,
        "gpus": gpus,
        "arch": platform.machine(),
        "os": platform.system(),
    }
    digest = hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:12]
    return {"id": digest, **desc}


def describe(m: dict[str, Any]) -> str:
    """One line: ``AMD EPYC, 2 cores, 23.4 GiB, no GPU``."""
    gpus = m.get("gpus") or []
    gpu = ", ".join(f"{gpus.count(g)}x {g}" if gpus.count(g) > 1 else g for g in dict.fromkeys(gpus)) or "no GPU"
    memory = f"{m['memory_gib']} GiB" if m.get("memory_gib") else "memory unknown"
    return f"{m.get('cpu', 'unknown CPU')}, {m.get('cores', '?')} cores, {memory}, {gpu}"
