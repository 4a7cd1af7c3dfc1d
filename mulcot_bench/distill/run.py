"""``mulcot-bench distill``: one distillation (teacher -> assistant -> augmentation -> student) on one dataset.

It is ``mulcot-bench run`` restricted to the config's assistant and student (its teacher comes along, as in
``run``), with the config's settings put on their cards first. So it writes the same ``results.json``,
predictions and leaderboard as ``run`` (``report`` and ``compare`` work on it), plus ``distill.json``: the
resolved config field by field and each stage's report (data counts, losses per epoch, selected epoch, wall
time, peak memory).

Under ``torchrun`` / ``accelerate launch`` every process runs this same command: they join one process group,
the models train with DDP (see :mod:`mulcot_bench.training.trainer`) and the run splits every model call across the
processes (docs/parallel.md), so they take the same path through the pipeline; only rank 0 scores and writes
the run folder's results and the leaderboard (the others add their journals and ``run.rank<N>.log``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mulcot_bench.atomic import write_text
from mulcot_bench.distill.config import Loaded, apply, resolved_rows
from mulcot_bench.parallel.world import finish, init_from_env, is_main, world_size
from mulcot_bench.plugin.overrides import apply_model_args, parse_model_args

STAGE_KEYS = (
    "counts",
    "n_train",
    "n_dev",
    "kept_as_predicted",
    "corrected",
    "label_only",
    "rejected",
    "augmentation",
    "losses",
    "task_losses",
    "dev_accuracy",
    "dev_macro_f1",
    "dev_weighted_f1",
    "dev_format",
    "dev_score",
    "select_on",
    "init",
    "lr",
    "selected_epoch",
    "selection",
    "epochs_run",
    "resumed_from_epoch",
    "world_size",
    "effective_batch",
    "wall_seconds",
    "train_seconds",
    "peak_rss_mib",
    "peak_cuda_mib",
    "kd",
)


def distill(
    registry: Any, loaded: Loaded, dataset: str, model_args: tuple[str, ...] = (), **run_options: Any
) -> Any:
    """Run the distillation of ``loaded`` on ``dataset``; ``run_options`` are :class:`RunOptions` fields.

    ``model_args`` (``-o MODEL.KEY=VALUE``) go on the cards after the config's settings, so they win.

    Returns the :class:`~mulcot_bench.runner.RunOutcome` (rank 0's run folder).
    """
    from mulcot_bench.runner import RunOptions, run

    config = loaded.config
    apply(config, registry, loaded.sources[-1])
    parsed = parse_model_args(model_args, registry)
    apply_model_args(registry, parsed)
    run_options.setdefault("checkpoints", parsed.checkpoints)
    run_options.setdefault("chain_filter", config.chain_filter)
    run_options.setdefault("train_chains", config.teacher.chains)
    registry.dataset(dataset)
    distributed = init_from_env()
    if run_options.get("seed") is None:
        run_options["seed"] = config.seed
    # rank 0's id wins (run() shares it); the other ranks write only their journals and run.rank<N>.log there
    run_options["run_id"] = run_options.get("run_id") or "distill-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    options = RunOptions(
        datasets=[dataset],
        models=[config.assistant.model, config.student.model],
        teacher=config.teacher.model,
        **run_options,
    )
    try:
        outcome = run(registry, options)
    except BaseException:
        if distributed:
            finish(clean=False)  # the other ranks may be gone: no barrier
        raise
    if is_main():
        write_summary(outcome, loaded, registry)
    if distributed:
        finish()
    return outcome


def write_summary(outcome: Any, loaded: Loaded, registry: Any) -> Path:
    """``distill.json`` in the run folder: the resolved config and each stage's report."""
    stages: dict[str, Any] = {}
    for entry in outcome.results.entries:
        if getattr(entry, "variant", None) is not None:  # modality-ablation rows are not stages
            continue
        stages[entry.model] = {
            "role": entry.role,
            "scores": entry.scores,
            **{k: entry.stage[k] for k in STAGE_KEYS if k in entry.stage},
        }
    payload = {
        "format": "mulcot-distill-summary",
        "version": 1,
        "run_id": outcome.results.run_id,
        "sources": loaded.sources,
        "config": loaded.config.model_dump(mode="json", by_alias=True),
        "resolved": [
            {"field": name, "value": value, "source": source}
            for name, value, source in resolved_rows(loaded.config, loaded.raw, registry)
        ],
        "world_size": world_size(),
        "stages": stages,
        "failures": [f.model_dump(mode="json") for f in outcome.results.failures],
    }
    path = outcome.run_dir / "distill.json"
    write_text(path, json.dumps(payload, indent=2, default=str) + "\n")
    return path
