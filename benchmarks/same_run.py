"""Compare two run folders (and their leaderboards) byte for byte, apart from times and versions.

Usage: python benchmarks/same_run.py RUN_A RUN_B [--reports REPORT_A REPORT_B]

Used to show that a restructuring left results unchanged: run ``mulcot-bench run --all`` with the same
``--run-id`` and an empty cache on both commits, then compare. Normalised before comparing: the run's
start/finish times, package and plugin versions, the git commit and the command (provenance), each
stage's wall time, the journal's "at" stamps, and in HTML the same values where they are printed.
Exit 0 when everything else is identical; otherwise the first differing lines of each file.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any

TIME_KEYS = {"started_at", "finished_at", "at", "seconds", "wall_seconds", "fit_seconds", "wall_s"}
VERSION_KEYS = {"packages", "plugins", "git_commit", "mulcot_bench_version", "command", "plugin_version", "version"}
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?")


def scrub(value: Any) -> Any:
    """A JSON value with times and versions replaced by placeholders (key order kept)."""
    if isinstance(value, dict):
        return {k: "<t>" if k in TIME_KEYS else "<v>" if k in VERSION_KEYS else scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def normal_text(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".json":
        return json.dumps(scrub(json.loads(text)), indent=1).splitlines()
    if path.suffix == ".jsonl":
        return [json.dumps(scrub(json.loads(line))) for line in text.splitlines() if line.strip()]
    return STAMP.sub("<t>", text).splitlines()


def compare(a: Path, b: Path) -> list[str]:
    """Problems found between two folders: files only on one side, files whose normal text differs."""
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    problems = [f"only in {a}: {p}" for p in sorted(files_a - files_b)]
    problems += [f"only in {b}: {p}" for p in sorted(files_b - files_a)]
    same = 0
    for rel in sorted(files_a & files_b):
        if (a / rel).read_bytes() == (b / rel).read_bytes():
            same += 1
            continue
        left, right = normal_text(a / rel), normal_text(b / rel)
        if left == right:
            same += 1
            continue
        diff = list(difflib.unified_diff(left, right, str(a / rel), str(b / rel), lineterm="", n=0))
        problems.append("\n".join(diff[:12]))
    print(f"{a} vs {b}: {same} of {len(files_a | files_b)} files identical (times and versions aside)")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--reports", nargs=2, type=Path, metavar=("REPORT_A", "REPORT_B"))
    args = parser.parse_args()
    problems = compare(args.run_a, args.run_b)
    if args.reports:
        problems += compare(*args.reports)
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
