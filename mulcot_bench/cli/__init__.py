"""The ``mulcot-bench`` command: one module per subcommand; the work lives in runner, plugin, scoring and report."""

from __future__ import annotations

import sys

import click

from mulcot_bench import __version__
from mulcot_bench.cli.compare import compare_cmd
from mulcot_bench.cli.datasets import datasets_group
from mulcot_bench.cli.distill import distill_cmd
from mulcot_bench.cli.export import export_group
from mulcot_bench.cli.plugins import plugins_group
from mulcot_bench.cli.report import report_cmd
from mulcot_bench.cli.run import eval_cmd, run_cmd
from mulcot_bench.cli.score import score_cmd
from mulcot_bench.errors import UserError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mulcot-bench")
def cli() -> None:
    """Distil and evaluate joint multimodal sentiment reasoning and classification (MulCoT-RD)."""


cli.add_command(run_cmd, "run")
cli.add_command(eval_cmd, "eval")
cli.add_command(score_cmd, "score")
cli.add_command(plugins_group)
cli.add_command(datasets_group, "datasets")
cli.add_command(compare_cmd, "compare")
cli.add_command(distill_cmd, "distill")
cli.add_command(report_cmd, "report")
cli.add_command(export_group, "export")


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2."""
    try:
        cli.main(standalone_mode=False)
    except UserError as exc:
        from mulcot_bench.redact import redact

        click.echo(redact(f"error: {exc}"), err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
