"""Compare two run folders (and their leaderboards) byte for byte, apart from times and versions.

Usage: python benchmarks/same_run.py RUN_A RUN_B [--reports REPORT_A REPORT_B] [--float-noise 1e-6]

Used to show that a restructuring left results unchanged: run ``mulcot-bench run --all`` with the same
``--run-id`` and an empty cache on both commits, then compare. Normalised before comparing: the run's
start/finish times, package and plugin versions, the git commit and the command (provenance), each
stage's wall time and peak memory, the journal's "at" stamps, the cache folder in checkpoint paths, and in HTML
the same values where they are printed. ``run.log`` (times and progress lines) is not compared, nor how the run
was carried out: a fanned-out run's ``provenance.launcher`` record and its ``jobs/`` and ``launcher/`` folders
(so a ``--jobs 1`` run compares with a ``--jobs 2`` one).
Exit 0 when everything else is identical; otherwise the first differing lines of each file.

``--float-noise REL`` also accepts files whose only differences are numbers within a relative ``REL`` of each
other, and counts them apart: BERTScore runs a float32 network whose last bits vary between two runs of the
same code on a shared machine (two runs of one commit differ in the same way), so it is reported, not hidden.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any

TIME_KEY = re.compile(r"(^at$|_at$|seconds$|_s$|rss_mib$|^wall)")  # times and memory of a stage or a run
VERSION_KEYS = {"packages", "plugins", "git_commit", "mulcot_bench_version", "command", "plugin_version", "version"}
NUMBER = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?")
#: provenance printed in HTML: the git commit and the command (their JSON twins are scrubbed by key)
HTML_PROVENANCE = re.compile(r"(<dt>(?:git commit|command)</dt><dd><code>)[^<]*(</code>)")
#: times in HTML: stage-report entries, JSON inside titles, and the "fit" column ("26.2 s")
HTML_TIMES = (
    (re.compile(r"(<dt>(\w+)</dt><dd[^>]*>)(.*?)(</dd>)"), lambda m: m.group(0) if not TIME_KEY.search(m.group(2))
     else f"{m.group(1)}<t>{m.group(4)}"),
    (re.compile(r"(&#34;\w*(?:seconds|rss_mib)&#34;: )[\d.]+"), lambda m: f"{m.group(1)}<t>"),
    (re.compile(r">\d+(?:\.\d+)? s</td>"), lambda m: "><t> s</td>"),
    (re.compile(r"(<tr><th>(\w+)</th><td><span>)([^<]*)(</span>)"),
     lambda m: m.group(0) if not TIME_KEY.search(m.group(2)) else f"{m.group(1)}<t>{m.group(4)}"),  # stage tables
    (re.compile(r"\bseconds [\d.]+"), lambda m: "seconds <t>"),  # a stage entry's list of records (label members)
    (re.compile(r">[^<]*\u2026</span>"), lambda m: "><cut>\u2026</span>"),  # its shortened text: cut where times differ
)
#: the cache folder inside a trained model's checkpoint path (each run was made with its own empty cache)
CACHE_PREFIX = re.compile(r"^.*?(?=artifacts/)")
#: files that log how a run went (times, progress lines), not what it found: listed, not compared
LOGS = ("run.log",)
#: a fanned-out run's working folders (each job's own run folder, the launcher's logs of the jobs)
HOW_FOLDERS = ("jobs", "launcher")
HOW_KEYS = {"launcher"}  # provenance: the launcher and its jobs (None in one process)


def scrub(value: Any) -> Any:
    """A JSON value with times and versions replaced by placeholders (key order kept)."""
    if isinstance(value, dict):
        return {k: "<t>" if TIME_KEY.search(k) else "<v>" if k in VERSION_KEYS else "<how>" if k in HOW_KEYS
                else _checkpoint(v) if k == "checkpoint" else scrub(v) for k, v in value.items()}  # fmt: skip
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def _checkpoint(value: Any) -> Any:
    """A checkpoint path from its cache's ``artifacts/`` on (the cache folder itself differs between runs)."""
    return CACHE_PREFIX.sub("<cache>/", value) if isinstance(value, str) else value


def normal_text(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".json":
        return json.dumps(scrub(json.loads(text)), indent=1).splitlines()
    if path.suffix == ".jsonl":
        return [json.dumps(scrub(json.loads(line))) for line in text.splitlines() if line.strip()]
    text = HTML_PROVENANCE.sub(r"\1<v>\2", STAMP.sub("<t>", text))
    for pattern, repl in HTML_TIMES:
        text = pattern.sub(repl, text)
    return text.splitlines()


def within_noise(left: list[str], right: list[str], rel: float) -> float | None:
    """The largest relative difference of the numbers in two texts that differ only in numbers, else None."""
    if len(left) != len(right):
        return None
    worst = 0.0
    for x, y in zip(left, right, strict=True):
        if NUMBER.sub("#", x) != NUMBER.sub("#", y):
            return None
        for u, v in zip(NUMBER.findall(x), NUMBER.findall(y), strict=True):
            a, b = float(u), float(v)
            gap = abs(a - b) / max(abs(a), abs(b), 1e-300)
            if gap > rel:
                return None
            worst = max(worst, gap)
    return worst


def compared_files(folder: Path) -> set[Path]:
    """The files of a run or report folder that say what it found (not its logs or a fan-out's working files)."""
    return {
        p.relative_to(folder) for p in folder.rglob("*")
        if p.is_file() and p.name not in LOGS and p.relative_to(folder).parts[0] not in HOW_FOLDERS
    }  # fmt: skip


def compare(a: Path, b: Path, noise: float = 0.0) -> list[str]:
    """Problems found between two folders: files only on one side, files whose normal text differs."""
    files_a, files_b = compared_files(a), compared_files(b)
    problems = [f"only in {a}: {p}" for p in sorted(files_a - files_b)]
    problems += [f"only in {b}: {p}" for p in sorted(files_b - files_a)]
    same, noisy = 0, []
    for rel in sorted(files_a & files_b):
        if (a / rel).read_bytes() == (b / rel).read_bytes():
            same += 1
            continue
        left, right = normal_text(a / rel), normal_text(b / rel)
        if left == right:
            same += 1
            continue
        gap = within_noise(left, right, noise) if noise else None
        if gap is not None:
            changed = sum(x != y for x, y in zip(left, right, strict=True))
            noisy.append(f"  {rel}: {changed} lines differ only in numbers, largest relative gap {gap:.2e}")
            continue
        diff = list(difflib.unified_diff(left, right, str(a / rel), str(b / rel), lineterm="", n=0))
        problems.append("\n".join(diff[:12]))
    print(f"{a} vs {b}: {same} of {len(files_a | files_b)} files identical (times and versions aside)")
    if noisy:
        print(f"{len(noisy)} files equal within float noise (relative {noise:g}):", *noisy, sep="\n")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--reports", nargs=2, type=Path, metavar=("REPORT_A", "REPORT_B"))
    parser.add_argument("--float-noise", type=float, default=0.0, metavar="REL")
    args = parser.parse_args()
    problems = compare(args.run_a, args.run_b, args.float_noise)
    if args.reports:
        problems += compare(*args.reports, noise=args.float_noise)
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
