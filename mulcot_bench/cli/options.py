"""Options and helpers shared by the ``mulcot-bench`` command modules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mulcot_bench.errors import UserError

if TYPE_CHECKING:
    from mulcot_bench.data.views import Limits
    from mulcot_bench.plugin.registry import Registry
    from mulcot_bench.runner.options import RunOutcome

plugins_dir_option = click.option(
    "--plugins-dir",
    "plugins_dirs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Folder of local plugin files (*.py); also MULCOT_BENCH_PLUGINS_DIR.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (machine-readable) instead of text.")
strict_option = click.option("--strict", is_flag=True, help="A plugin that fails to load is fatal.")
def protocol_option(default: str) -> Callable[[Any], Any]:
    """``--protocol``: the data view each dataset runs under (``auto``: see ``mulcot_bench.data.views``)."""
    return click.option(
        "--protocol",
        type=click.Choice(["auto", "reference", "released-rationales"]),
        default=default,
        show_default=True,
        help="released-rationales: train reasoning on the dev items that carry released chains (Twitter-2015), "
        "validate on a held-out 20% of dev, train the label task on train + dev. auto: released-rationales for a "
        "dataset whose train split no teacher serves and whose release has dev chains, else reference.",
    )


synthetic_size_option = click.option(
    "--synthetic-size", help="TRAIN,DEV,TEST sample counts of the synthetic set (default 600,200,200)."
)
synthetic_seed_option = click.option("--synthetic-seed", type=int, default=13, show_default=True)
allow_partial_option = click.option(
    "--allow-partial",
    is_flag=True,
    help="Run a known dataset release whose splits load short of its manifest (rows or labels differ); the "
    "difference is recorded, printed and shown on the leaderboard. Without it such a dataset is refused.",
)
limit_option = click.option(
    "--limit",
    metavar="N|TRAIN,DEV,TEST",
    help="A seeded subset of every dataset, for quick runs: N test samples (train and dev whole), or at most "
    "TRAIN,DEV,TEST samples per split.",
)
model_arg_option = click.option(
    "-o",
    "--model-arg",
    "model_args",
    multiple=True,
    metavar="MODEL.KEY=VALUE",
    help="Set one of a model's card settings (repeatable; 'plugins show MODEL' lists them), or "
    "MODEL.checkpoint=PATH: load that folder (what the model's save() wrote) instead of training it.",
)

F = TypeVar("F", bound=Callable[..., Any])


def _verbosity(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Set the console's verbosity as soon as ``-v`` or ``-q`` is read (both: an error)."""
    from mulcot_bench.console import logs

    ctx.meta[f"mulcot_bench.{param.name}"] = value
    verbose, quiet = ctx.meta.get("mulcot_bench.verbose"), ctx.meta.get("mulcot_bench.quiet")
    if verbose and quiet:
        raise UserError("pass -v (more detail) or -q (warnings only), not both")
    logs.setup(logs.VERBOSE if verbose else logs.QUIET if quiet else logs.NORMAL)


def verbosity_options(command: F) -> F:
    """``-v/--verbose`` (debug lines and third-party progress bars) and ``-q/--quiet`` (warnings and results only)."""
    quiet = click.option(
        "-q", "--quiet", is_flag=True, expose_value=False, callback=_verbosity,
        help="Warnings, errors and the results only: no progress lines or bars.",
    )  # fmt: skip
    verbose = click.option(
        "-v", "--verbose", is_flag=True, expose_value=False, callback=_verbosity,
        help="Debug lines too, and the progress bars of third-party libraries (transformers, huggingface_hub).",
    )  # fmt: skip
    return verbose(quiet(command))


def load_registry(plugins_dirs: tuple[Path, ...], strict: bool) -> Registry:
    """Build the registry, warning on stderr about each plugin that was skipped."""
    from mulcot_bench.plugin.registry import build_registry
    from mulcot_bench.redact import redact

    registry = build_registry(list(plugins_dirs), strict=strict)
    for info in registry.loaded.failures:
        click.echo(redact(f"warning: plugin {info.name!r} ({info.source}) skipped: {info.error}"), err=True)
    return registry


def parse_seeds(value: str | None) -> list[int] | None:
    """``--seeds 1,2,3`` as distinct integers in the given order (None when not given); a bad value is one line."""
    if value is None:
        return None
    try:
        seeds = [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        seeds = []
    if not seeds or len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds {value!r} must be distinct integers separated by commas, e.g. --seeds 1,2,3")
    return seeds


def apply_overrides(registry: Registry, items: tuple[str, ...]) -> dict[str, Path]:
    """Put ``-o`` settings on the registry's cards; returns the checkpoints (model -> folder)."""
    from mulcot_bench.plugin.overrides import apply_model_args, parse_model_args

    parsed = parse_model_args(items, registry)
    apply_model_args(registry, parsed)
    return parsed.checkpoints


def close_run(outcome: RunOutcome) -> str:
    """A run's closing text: the exit summary, then the score table (dataset x model: accuracy, macro-F1, BLEU-4,
    BERTScore-F1 with intervals); also appended to the run folder's ``run.log``."""
    from mulcot_bench.console.logs import append_run_log
    from mulcot_bench.report.scoretable import score_table
    from mulcot_bench.runner.summary import exit_summary

    text = "\n\n".join(x for x in (exit_summary(outcome), score_table(outcome.results)) if x)
    append_run_log(outcome.run_dir, text)
    return text


def fmt_params(n: int) -> str:
    """A parameter count as '1.3M params' or '35k params'."""
    return f"{n / 1e6:.1f}M params" if n >= 1e6 else f"{n / 1e3:.0f}k params"


def parse_sizes(value: str | None, option: str = "--synthetic-size") -> tuple[int, int, int] | None:
    """``TRAIN,DEV,TEST`` as three positive integers (None when not given); a bad value is one clear line."""
    if value is None:
        return None
    parts = _integers(value)
    if len(parts) != 3 or min(parts) < 1:
        raise UserError(f"{option} {value!r} must be three positive integers TRAIN,DEV,TEST, e.g. 600,200,200")
    return parts  # type: ignore[return-value]


def _integers(value: str) -> tuple[int, ...]:
    """The comma-separated whole numbers of an option's value; () when one is not a number."""
    try:
        return tuple(int(x) for x in value.split(","))
    except ValueError:
        return ()


def parse_limits(value: str | None, option: str = "--limit") -> Limits | None:
    """``N`` (test samples only: train and dev stay whole, None) or ``TRAIN,DEV,TEST``, all positive integers
    (None when not given); a bad value is one clear line."""
    if value is None:
        return None
    parts = _integers(value)
    if len(parts) not in (1, 3) or min(parts) < 1:
        raise UserError(
            f"{option} {value!r} must be one positive integer N (test samples) or three TRAIN,DEV,TEST, "
            "e.g. --limit 50 or --limit 400,100,200"
        )
    return (None, None, parts[0]) if len(parts) == 1 else parts  # type: ignore[return-value]


def synthetic_options(size: str | None, seed: int) -> dict[str, object]:
    """The embedded synthetic dataset's loader options from ``--synthetic-size`` and ``--synthetic-seed``."""
    options: dict[str, object] = {"seed": seed}
    sizes = parse_sizes(size)
    if sizes:
        options.update(train=sizes[0], dev=sizes[1], test=sizes[2])
    return options


#: ``--bootstrap N``: the resamples of every interval (``run``, ``eval`` and ``score`` take the same option)
bootstrap_option = click.option(
    "--bootstrap",
    "resamples",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Bootstrap resamples for the 95% intervals stored with every score (0: none).",
)
