"""Experiment-tracker exports of run folders.

:mod:`~mulcot_bench.export.record` turns each entry of a ``results.json`` into a tracker-neutral record
(params, metrics, tags, artifacts and an idempotency key); :mod:`~mulcot_bench.export.mlflow` logs those
records with MLflow's own client. Neither imports a tracker at import time.
"""
