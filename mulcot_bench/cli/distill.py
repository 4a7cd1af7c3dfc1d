"""``mulcot-bench distill``: one distillation from a config profile (the work lives in mulcot_bench.distill)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from mulcot_bench.cli.options import (
    allow_partial_option,
    close_run,
    limit_option,
    load_registry,
    model_arg_option,
    parse_limits,
    plugins_dir_option,
    protocol_option,
    strict_option,
    synthetic_options,
    synthetic_seed_option,
    synthetic_size_option,
    verbosity_options,
)
from mulcot_bench.errors import UserError


@click.command("distill")
@click.option("--profile", help="A shipped profile: cpu-tiny, cpu-smol or paper.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    help='A TOML config file (may start from a profile with extends = "NAME"); overrides --profile.',
)
@click.option("-d", "--dataset", help="The dataset to distil on (e.g. synthetic, twitter2015).")
@click.option("--print-config", is_flag=True, help="Print the resolved settings field by field and exit.")
@click.option("--data-root", type=click.Path(path_type=Path), help="Folder holding the real datasets.")
@click.option("--cache-dir", type=click.Path(path_type=Path), help="Cache folder (default ~/.cache/mulcot-bench).")
@click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"), show_default=True)
@click.option("--reports-dir", type=click.Path(path_type=Path), default=Path("reports"), show_default=True)
@click.option("--run-id", help="Name of the run folder (default: distill-<UTC timestamp>).")
@click.option("--seed", type=int, help="Overrides the config's seed.")
@click.option(
    "--prompts",
    "prompts_dir",
    type=click.Path(path_type=Path),
    help="The prompt templates from this folder: a copy of the MulCoT-RD release (templates/MASC|MSC/*.py, read as "
    "they are: peft_* for the assistant and student, inference_* for the teacher) or <kind>.j2 files of your own "
    "(same as -o MODEL.prompts=DIR and -o TEACHER.prompt_set=DIR).",
)
@model_arg_option
@synthetic_size_option
@synthetic_seed_option
@protocol_option("reference")
@limit_option
@allow_partial_option
@plugins_dir_option
@strict_option
@verbosity_options
def distill_cmd(
    profile: str | None,
    config_file: Path | None,
    dataset: str | None,
    print_config: bool,
    data_root: Path | None,
    cache_dir: Path | None,
    runs_dir: Path,
    reports_dir: Path,
    run_id: str | None,
    seed: int | None,
    prompts_dir: Path | None,
    model_args: tuple[str, ...],
    synthetic_size: str | None,
    synthetic_seed: int,
    protocol: str,
    limit: str | None,
    allow_partial: bool,
    plugins_dirs: tuple[Path, ...],
    strict: bool,
) -> None:
    """Run teacher -> assistant -> augmentation -> student on one dataset, from a distillation config.

    Under torchrun or accelerate launch, every process runs this same command and the training and
    prediction are split across them.
    """
    from mulcot_bench.distill.config import config_text, load_config

    loaded = load_config(profile, config_file)
    registry = load_registry(plugins_dirs, strict)
    if prompts_dir is not None:
        model_args = prompt_args(loaded, registry, prompts_dir) + model_args
    if print_config:
        click.echo(config_text(loaded, registry, protocol))
        return
    if not dataset:
        raise UserError("say which dataset to distil on: --dataset NAME (e.g. synthetic)")
    from mulcot_bench.distill.run import distill

    synthetic = synthetic_options(synthetic_size, synthetic_seed)
    outcome = distill(
        registry,
        loaded,
        dataset,
        model_args=model_args,
        data_root=data_root,
        cache_dir=cache_dir,
        runs_dir=runs_dir,
        reports_dir=reports_dir,
        run_id=run_id,
        seed=seed,
        dataset_options={"synthetic": synthetic},
        protocol=protocol,
        limits=parse_limits(limit),
        allow_partial=allow_partial,
        command=" ".join(["mulcot-bench", *sys.argv[1:]]),
    )
    if os.environ.get("RANK", "0") == "0":  # under torchrun, only rank 0 reports
        click.echo(close_run(outcome))
        click.echo(f"distillation summary: {outcome.run_dir / 'distill.json'}")
    if outcome.results.failures:
        sys.exit(1)


def prompt_args(loaded: object, registry: object, folder: Path) -> tuple[str, ...]:
    """``--prompts DIR`` as ``-o MODEL.prompts=DIR`` for the config's assistant and student (both must take it), and
    ``-o TEACHER.prompt_set=DIR`` for its teacher where the teacher has that setting (the ``openai`` teacher)."""
    from mulcot_bench.prompts import template_hash

    if not folder.is_dir():
        raise UserError(f"--prompts {folder}: not a folder; pass a copy of the MulCoT-RD release or a folder of .j2")
    out = []
    for role in ("assistant", "student"):
        name = getattr(loaded.config, role).model  # type: ignore[attr-defined]
        if "prompts" not in registry.model(name).card.settings:  # type: ignore[attr-defined]
            raise UserError(f"--prompts: model {name!r} has no 'prompts' setting; its prompts cannot be replaced")
        out.append(f"{name}.prompts={folder.resolve()}")
    kinds = ["reasoning", "label"]
    teacher = loaded.config.teacher.model  # type: ignore[attr-defined]
    if teacher and "prompt_set" in registry.model(teacher).card.settings:  # type: ignore[attr-defined]
        out.append(f"{teacher}.prompt_set={folder.resolve()}")  # the release's inference_cot / inference_label
        kinds += ["teacher_predict", "teacher_explain"]
    for kind in kinds:  # one clear line now if the folder lacks a template the models need
        for level in ("post", "aspect"):
            template_hash(kind, level, prompt_set=str(folder.resolve()))
    return tuple(out)
