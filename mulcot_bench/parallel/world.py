"""Who this process is in a launched group (torchrun's or accelerate's environment), and joining the group.

The launcher sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE`` (and ``MASTER_ADDR``/``PORT``);
without them a process is rank 0 of 1 and every helper of this room is the single-process identity.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mulcot_bench.errors import UserError

BACKEND_ENV = "MULCOT_BENCH_DIST_BACKEND"
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class World:
    """This process's place in the group: rank and size, overall and on its machine."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def main(self) -> bool:
        """Rank 0: the process that scores and writes the run's files."""
        return self.rank == 0

    @property
    def multi_node(self) -> bool:
        """Ranks on more than one machine (fewer ranks here than in the group)."""
        return self.local_size < self.size


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise UserError(f"environment variable {name}={raw!r} is not a whole number; launch with torchrun") from None


def from_env(env: Mapping[str, str] = os.environ) -> World:
    """The world the launcher describes in ``env`` (rank 0 of 1 when nothing is set)."""
    size = _int(env, "WORLD_SIZE", 1)
    rank = _int(env, "RANK", 0)
    local_size = _int(env, "LOCAL_WORLD_SIZE", size)
    if size < 1 or not 0 <= rank < size:
        raise UserError(f"RANK={rank} and WORLD_SIZE={size} do not fit (0 <= RANK < WORLD_SIZE); launch with torchrun")
    return World(rank, size, _int(env, "LOCAL_RANK", 0), max(1, min(local_size, size)))


_state: dict[str, Any] = {"world": None, "run_id": None, "said": False, "term": None}


def current() -> World:
    """The joined world, or rank 0 of 1."""
    return _state["world"] or World()


def rank() -> int:
    """This process's rank in the joined group (0 when none was joined)."""
    return current().rank


def world_size() -> int:
    """How many processes the joined group has (1 when none was joined)."""
    return current().size


def is_main() -> bool:
    """True on rank 0 (and when not distributed): the process that writes files."""
    return current().main


def launched() -> bool:
    """True when a launcher (torchrun, accelerate) asked for more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def backend_for(device: str, cuda_available: bool) -> str:
    """nccl for ``cuda`` (and ``auto`` with a GPU), gloo for ``cpu``; ``$MULCOT_BENCH_DIST_BACKEND`` overrides."""
    if device not in DEVICES:
        raise UserError(f"--device {device!r}: use one of {', '.join(DEVICES)}")
    chosen = os.environ.get(BACKEND_ENV, "").strip()
    if chosen:
        return chosen
    if device == "cuda" and not cuda_available:
        raise UserError("--device cuda, but torch sees no GPU here; use --device cpu (gloo) or run on a GPU machine")
    return "nccl" if device == "cuda" or (device == "auto" and cuda_available) else "gloo"


def start(device: str = "auto", backend: str | None = None) -> World:
    """Join the launcher's group when launched with more than one process (a joined group is reused as it is).

    ``backend`` (gloo, nccl) wins over the one ``device`` implies (:func:`backend_for`).
    """
    world = from_env()
    if world.size == 1:
        return World()
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        chosen = backend or backend_for(device, torch.cuda.is_available())
        if chosen == "nccl":
            torch.cuda.set_device(world.local_rank)
        dist.init_process_group(backend=chosen)
    _state["world"] = world
    # the launcher stops the other ranks with SIGTERM when one fails: each says so in one line (main thread only)
    with contextlib.suppress(ValueError):
        _state["term"] = signal.signal(signal.SIGTERM, _stopped)
    return world


def init_from_env(backend: str | None = None) -> bool:
    """Join the launcher's group if it asked for more than one process (:func:`start`); True when distributed.

    ``backend`` defaults to nccl when CUDA is available, else gloo (``MULCOT_BENCH_DIST_BACKEND`` overrides).
    """
    if not launched():
        return False
    return start(backend=backend).size > 1


def note_run(run_id: str) -> None:
    """The run's id, for the line that says how to resume."""
    _state["run_id"] = run_id


def resume_hint() -> str:
    run = f" --run-id {_state['run_id']}" if _state["run_id"] else " the same --run-id"
    return f"run the same command with{run} to resume from the journals and cache"


def said() -> None:
    """This rank has printed why it stops (:func:`_stopped` then stays silent)."""
    _state["said"] = True


def _stopped(signum: int, frame: object) -> None:
    """SIGTERM from the launcher: one line naming this rank, then exit at once (finished work is committed)."""
    if not _state["said"]:
        world = current()
        line = (
            f"error: rank {world.rank} of {world.size} was stopped by the launcher because another rank failed "
            f"(the launcher's report names it); {resume_hint()}\n"
        )
        os.write(2, line.encode())
    os._exit(128 + signum)


def joined_here() -> bool:
    """Whether a process group is initialised in this process (by :func:`start` or by ``distill``)."""
    import sys

    if "torch" not in sys.modules:
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def finish(clean: bool = True) -> None:
    """Leave the group (nothing when none was joined): after every rank got here, or, not ``clean`` (this rank
    stops on an error, the others may be gone), at once."""
    if _state["term"] is not None:
        signal.signal(signal.SIGTERM, _state["term"])
    if joined_here():
        import torch.distributed as dist

        if clean:
            dist.barrier()
        dist.destroy_process_group()
    _state.update(world=None, run_id=None, said=False, term=None)
