"""Where a run writes: the leaderboard never lands on top of the run folder."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from mulcot_bench.cli import cli


def test_same_runs_and_reports_dir_renders_inside_the_run_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", "-d", "synthetic", "--synthetic-size", "30,10,10", "-m", "majority", "--bootstrap", "0"]
    result = CliRunner().invoke(cli, [*args, "--runs-dir", str(out), "--reports-dir", str(out), "--run-id", "r"])
    assert result.exit_code == 0, result.output
    assert (out / "r" / "results.json").is_file()
    assert (out / "r" / "report" / "index.html").is_file()
