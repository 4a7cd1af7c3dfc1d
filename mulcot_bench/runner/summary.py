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
    if res.skipped:
        lines.append("skipped: " + ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in sorted(res.skipped.items())))
    said: dict[str, str] = {}  # each cause is printed once; a later failure with the same cause points back
    for f in res.failures:
        where = " ".join(x for x in (f.model, f"on {f.dataset}" if f.dataset else None) if x)
        reason = f"same cause as {said[f.reason]}" if f.reason in said else f.reason
        said.setdefault(f.reason, f"{f.what} {where}".strip())
        lines.append(f"FAILED {f.what} {where}: {reason}".replace("  ", " "))
    return redact("\n".join(lines))
