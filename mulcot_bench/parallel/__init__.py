"""Data-parallel runs: the launcher's world, collectives that move JSON, the cache layout across ranks.

``torchrun --nproc-per-node N -m mulcot_bench run ...`` (or ``accelerate launch``) starts N processes; each joins the
group (:mod:`.world`), computes its interleaved shard of every model call (``items[rank::N]``), and the outputs are
gathered in order on every rank (:mod:`.collect`: JSON bytes in tensors, never pickle; the trainer's DDP fits use
the same collectives). Where the ranks keep their cache is :mod:`.layout` (shared SQLite, or one shard file per
rank: :mod:`.shards`). Nothing here imports torch at import time.
"""
