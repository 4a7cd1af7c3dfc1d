"""A fixed torch thread count for a block: the count a model's card states, whatever the machine or the run.

A model's float results depend on its intra-op thread count (reductions split differently), so a model that
trains or predicts with torch states ``torch_threads`` on its card (part of its identity) and runs its work
inside :func:`torch_threads`: the same numbers in one process, in a job beside others (``run --jobs``), and on
another machine with more cores. One thread also never spins against other work on a small shared machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run torch on ``n`` intra-op threads inside the block, restoring the previous count after (None: as is)."""
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)
