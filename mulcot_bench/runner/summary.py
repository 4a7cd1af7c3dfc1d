"""The lines ``run`` prints when it ends: counts, where the results and leaderboard are, datasets not run, each
failure."""

from __future__ import annotations

from mulcot_bench.redact import redact
from mulcot_bench.runner.options import RunOutcome


def exit_summary(outcome: RunOutcome) -> str:
    """The run's closing lines (secrets redacted)."""
    res = outcome.results
    done = len(res.entries)
    lines = [f"run {res.run_id}: {done} results, {len(res.failures)} failures -> {outcome.run_dir / 'results.json'}"]
    if outcome.report:
        lines.append(f"leaderboard: {outcome.report}")
    skipped = [f"{d.name} ({d.status})" for d in res.datasets if d.status not in ("present", "embedded")]
    if skipped:
        lines.append(f"datasets not run: {', '.join(skipped)}")
    for f in res.failures:
        where = " ".join(x for x in (f.model, f"on {f.dataset}" if f.dataset else None) if x)
        lines.append(f"FAILED {f.what} {where}: {f.reason}".replace("  ", " "))
    return redact("\n".join(lines))
