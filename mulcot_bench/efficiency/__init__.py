"""What a model costs: parameters, size on disk, wall time, latency, throughput and peak memory, measured in the run.

Small modules, none importing torch (a figure that needs torch reads it only where the model already loaded it):
:mod:`.machine` (the hardware a figure was measured on), :mod:`.memory` (peak resident set size and CUDA memory of
a phase), :mod:`.params` (parameter counts and size on disk), :mod:`.probe` (latency at batch size 1),
:mod:`.schema` (the ``efficiency`` record of results.json), :mod:`.measure` (the run's bookkeeping) and
:mod:`.front` (the quality-cost front of the leaderboard's chart). See ``docs/metrics.md``.
"""
