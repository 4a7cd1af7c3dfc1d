"""``run --launcher``: a run fanned out as (dataset, model group) jobs, merged into the single-process result.

The runs use the fake models of ``tests/fake_plugins/counting.py`` on two datasets: the embedded ``synthetic``
set and ``second`` (the same generator with another seed, registered by a plugin file), so a run takes seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fakerun import env, plugins_dir

from mulcot_bench.errors import UserError
from mulcot_bench.plugin.registry import build_registry
from mulcot_bench.results import Entry, RunResults
from mulcot_bench.runner import launchers
from mulcot_bench.runner.jobs import by_critical_path, model_groups, plan_jobs
from mulcot_bench.runner.launchers import LocalLauncher, SubmititLauncher, parse_launcher_args
from mulcot_bench.runner.merge import merge_entries

SECOND = """
from dataclasses import replace

from mulcot_bench.data.synthetic import generate
from mulcot_bench.plugin.hookspecs import hookimpl
from mulcot_bench.plugin.specs import DatasetSpec


def load(root, name, **options):
    return replace(generate(seed=7, train=40, dev=10, test=30), name=name)


@hookimpl
def register_datasets(register):
    register(DatasetSpec("second", "Second synthetic set", "aspect", load))
"""

#: a baseline whose process dies while predicting: its job ends without results
CRASH = """
import os

from mulcot_bench.plugin.hookspecs import hookimpl
from mulcot_bench.plugin.specs import ModelSpec
from mulcot_bench.types import ModelCard


class Crash:
    def __init__(self, card):
        self.card = card

    def predict(self, samples):
        os._exit(3)


@hookimpl
def register_models(register):
    register(ModelSpec(ModelCard("crash", "baseline", "dies", rationale=False, default=False), Crash))
"""

MODELS = ("count-assistant", "count-student", "count-rule")


def mulcot(tmp: Path, where: str, *more: str, models: tuple[str, ...] = MODELS) -> subprocess.CompletedProcess[str]:
    """``mulcot-bench run`` on both datasets, its run folder ``tmp/where/runs/same`` and its own cache."""
    folder = plugins_dir(tmp, {"second.py": SECOND, "crash.py": CRASH})
    cmd = [sys.executable, "-m", "mulcot_bench.cli", "run", "-d", "synthetic", "-d", "second"]
    cmd += ["--teacher", "count-teacher", *[x for m in models for x in ("-m", m)], "--plugins-dir", str(folder)]
    cmd += ["--synthetic-size", "60,20,40", "--bootstrap", "100", "--run-id", "same", "--cache-dir", str(tmp / where)]
    cmd += ["--runs-dir", str(tmp / where / "runs"), "--reports-dir", str(tmp / where / "reports"), *more]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp, env=env(tmp))


def results(tmp: Path, where: str) -> dict[str, Any]:
    return json.loads((tmp / where / "runs" / "same" / "results.json").read_text())


def comparable(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry without what depends on the process and cache, not on the result: wall times, cache hits, the
    cache folder its trained weights went to, its measured costs (timings and memory of this machine's run)."""
    return {k: v for k, v in entry.items() if k not in ("stage", "cached", "checkpoint", "efficiency")}


def export(tmp: Path, where: str) -> dict[str, str]:
    """The leaderboard tables (``report --format csv,md``) of a run, by file name."""
    out = tmp / where / "tables"
    cmd = [sys.executable, "-m", "mulcot_bench.cli", "report", str(tmp / where / "runs" / "same"), "--out", str(out)]
    done = subprocess.run([*cmd, "--format", "csv,md"], capture_output=True, text=True, timeout=120, env=env(tmp))
    assert done.returncode == 0, done.stderr
    return {p.name: without_costs(p) for p in sorted(out.iterdir()) if p.is_file()}


#: the exports' measured costs: timings and memory of the process that ran the model, never equal across runs
COSTS = {"fit_seconds", "fit_peak_bytes", "predict_seconds", "throughput_per_second", "chain_words_per_second",
         "ms_per_sample", "latency_p95_ms", "predict_peak_bytes", "ms/sample", "peak mem"}  # fmt: skip


def without_costs(path: Path) -> str:
    """An exported table's text with its measured-cost columns blanked (CSV columns, Markdown table columns)."""
    import csv
    import io

    if path.suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(path.read_text())))
        return json.dumps([{k: v for k, v in row.items() if k not in COSTS} for row in rows])
    lines, drop = [], set()
    for line in path.read_text().splitlines():
        cells = line.split("|")
        if line.startswith("| rank "):
            drop = {i for i, cell in enumerate(cells) if cell.strip() in COSTS}
        elif not line.startswith("|"):
            drop = set()
        lines.append("|".join(c for i, c in enumerate(cells) if i not in drop))
    return "\n".join(lines)


def assert_same_run(tmp: Path, where: str, single: Any, fanned: Any) -> None:
    """The fanned-out run at ``tmp/where`` holds what the single-process run at ``tmp/single`` holds: entries,
    records, predictions files, exported tables, the closing score tables on stdout; and it has a leaderboard."""
    one, merged = results(tmp, "single"), results(tmp, where)
    assert [comparable(e) for e in merged["entries"]] == [comparable(e) for e in one["entries"]]
    for fanned_entry, entry in zip(merged["entries"], one["entries"], strict=True):  # stage 2b counted on its row
        assert fanned_entry["stage"].get("augmentation") == entry["stage"].get("augmentation"), entry["model"]
    assert [e["model"] for e in merged["entries"] if e["dataset"] == "second"] == [
        "count-teacher", "count-assistant", "count-student", "count-rule",
    ]  # fmt: skip
    for key in ("datasets", "metrics", "failures", "reported", "bootstrap", "skipped"):
        assert merged[key] == one[key], key
    for entry in merged["entries"]:  # the predictions files came into the merged run folder, equal
        rel = entry["predictions_file"]
        fan_file = tmp / where / "runs" / "same" / rel
        assert fan_file.read_text() == (tmp / "single" / "runs" / "same" / rel).read_text()
    assert export(tmp, where) == export(tmp, "single")
    assert (tmp / where / "reports" / "same" / "index.html").is_file()
    assert fanned.stdout.split("\n", 2)[2] == single.stdout.split("\n", 2)[2]  # the score tables


@pytest.mark.slow
def test_submitit_local_fanout_equals_the_single_process_run(tmp_path: Path) -> None:
    pytest.importorskip("submitit")
    single = mulcot(tmp_path, "single")
    assert single.returncode == 0, single.stderr
    fanned = mulcot(tmp_path, "fanned", "--launcher", "submitit", "--launcher-arg", "cluster=local")
    assert fanned.returncode == 0, fanned.stderr
    one, merged = results(tmp_path, "single"), results(tmp_path, "fanned")

    launcher = merged["provenance"]["launcher"]
    jobs = launcher["jobs"]
    assert launcher["name"] == "submitit" and launcher["settings"] == {"cluster": "local"}
    assert [j["name"] for j in jobs] == [
        "synthetic.count-assistant", "synthetic.baselines", "second.count-assistant", "second.baselines",
    ]  # fmt: skip
    assert {j["dataset"] for j in jobs} == {"synthetic", "second"} and {j["status"] for j in jobs} == {"done"}
    assert len({j["job_id"] for j in jobs}) == len(jobs)  # the local executor's job ids: the jobs' process ids
    for job in jobs:  # each ran the ordinary run for its slice, with the parent's options and the shared cache
        cmd = job["command"]
        assert cmd[cmd.index("-d") + 1] == job["dataset"] and "--no-report" in cmd
        assert cmd[cmd.index("--cache-dir") + 1] == str(tmp_path / "fanned")
        assert cmd[cmd.index("--bootstrap") + 1] == "100" and cmd[cmd.index("--teacher") + 1] == "count-teacher"
        assert Path(job["log"]).is_file()
        assert (tmp_path / "fanned" / "runs" / "same" / "jobs" / job["name"] / "results.json").is_file()
    assert "launcher: job second.baselines done" in fanned.stderr and "4/4 jobs ended, 0 failed" in fanned.stderr

    assert_same_run(tmp_path, "fanned", single, fanned)

    again = mulcot(tmp_path, "fanned", "--launcher", "submitit", "--launcher-arg", "cluster=local")  # same run id
    assert again.returncode == 0, again.stderr
    rerun = results(tmp_path, "fanned")  # every job ran again on the shared cache, nothing trained or predicted
    assert {j["job_id"] for j in rerun["provenance"]["launcher"]["jobs"]}.isdisjoint(j["job_id"] for j in jobs)
    assert all(e["cached"] for e in rerun["entries"])
    assert [comparable(e) for e in rerun["entries"]] == [comparable(e) for e in one["entries"]]


@pytest.mark.slow
def test_jobs_above_one_fan_out_locally_taking_chains_apart_with_the_single_process_result(tmp_path: Path) -> None:
    single = mulcot(tmp_path, "single")
    assert single.returncode == 0, single.stderr
    assert "launcher" not in single.stderr and results(tmp_path, "single")["provenance"]["launcher"] is None
    two = mulcot(tmp_path, "two", "--jobs", "2")
    assert two.returncode == 0, two.stderr
    launcher = results(tmp_path, "two")["provenance"]["launcher"]
    assert launcher["name"] == "local" and launcher["settings"] == {"max_parallel": "2"}
    # the longest line of work first: each assistant's job, then the students that wait for it, then baselines
    assert [j["name"] for j in launcher["jobs"]] == [
        "synthetic.count-assistant", "second.count-assistant", "synthetic.count-student", "second.count-student",
        "synthetic.baselines", "second.baselines",
    ]  # fmt: skip
    for job in launcher["jobs"]:
        assert job["command"][job["command"].index("--jobs") + 1] == "1"  # a job runs in one process
    commands = {j["name"]: j["command"] for j in launcher["jobs"]}
    assert "--no-teacher-row" not in commands["synthetic.count-assistant"]  # the teacher's row: one job's
    assert all("--no-teacher-row" in commands[j] for j in ("synthetic.count-student", "second.baselines"))
    student = json.loads((tmp_path / "two" / "runs" / "same" / "jobs" / "synthetic.count-student" / "results.json")
                         .read_text())  # fmt: skip
    assert [e["model"] for e in student["entries"]] == ["count-student"]  # its teacher served, unscored
    lines = two.stderr.splitlines()
    at = {m: next(i for i, line in enumerate(lines) if m in line) for m in (
        "job synthetic.count-assistant started", "job synthetic.count-student started")}  # fmt: skip
    assert at["job synthetic.count-assistant started"] < at["job synthetic.count-student started"]
    spans = [line for line in lines if "from its first job's start to its last one's end" in line]
    assert [line.split("[")[1].split("]")[0] for line in spans] == ["synthetic", "second"]  # each dataset's wall time
    assert "synthetic.count-assistant " in spans[0] and "synthetic.baselines " in spans[0]
    assert_same_run(tmp_path, "two", single, two)

    again = mulcot(tmp_path, "two", "--jobs", "2", "--run-id", "again")  # every job has its receipt: one process
    assert again.returncode == 0, again.stderr
    assert "every one of its 6 jobs ran to the end before on this cache: one process" in again.stderr
    rerun = json.loads((tmp_path / "two" / "runs" / "again" / "results.json").read_text())
    assert rerun["provenance"]["launcher"] is None and all(e["cached"] for e in rerun["entries"])
    assert [comparable(e) for e in rerun["entries"]] == [comparable(e) for e in results(tmp_path, "single")["entries"]]


def test_a_local_job_starts_after_those_it_waits_for_with_the_cores_shared_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")  # set by the user: kept
    monkeypatch.setattr(launchers, "usable_cores", lambda: 4)
    launcher = LocalLauncher(tmp_path / "logs", {"max_parallel": 2})
    assert (launcher.max_parallel, launcher.threads) == (2, 2)
    assert launcher.environment()["OMP_NUM_THREADS"] == "2" and launcher.environment()["MKL_NUM_THREADS"] == "3"
    py = [sys.executable, "-c"]
    first = launcher.submit("first", [*py, "import time; time.sleep(1); open('first.done', 'w')"], tmp_path)
    then = launcher.submit("then", [*py, "import os; print(os.path.exists('first.done'))"], tmp_path, ("first",))
    other = launcher.submit("other", [*py, "print('no wait')"], tmp_path)
    assert launcher.started(first) and launcher.started(other) and not launcher.started(then)
    while not all(launcher.finished(j) for j in (first, then, other)):
        time.sleep(0.05)
    assert then.log.read_text().strip() == "True"

    # a job may start before those it comes after have ended, once the file it waits for exists
    ready = tmp_path / "assistant.answered"
    slow = launcher.submit("slow", [*py, "import time; open('assistant.answered', 'w'); time.sleep(2); "
                                          "open('slow.done', 'w')"], tmp_path)  # fmt: skip
    early = launcher.submit("early", [*py, "import os; print(os.path.exists('slow.done'))"], tmp_path, ("slow",), ready)
    while not all(launcher.finished(j) for j in (slow, early)):
        time.sleep(0.05)
    assert early.log.read_text().strip() == "False"


def test_a_job_past_its_yield_file_holds_no_slot(tmp_path: Path) -> None:
    """With one slot, an assistant's job that has written the file its learner waits for lets the learner start
    (and a job queued after it) while it goes on; a job that has not yielded keeps its slot."""
    launcher = LocalLauncher(tmp_path / "logs", {"max_parallel": 1})
    py = [sys.executable, "-c"]
    ready = tmp_path / "augmented.json"
    head = launcher.submit("head", [*py, "import time; open('augmented.json', 'w'); time.sleep(3); "
                                          "open('head.done', 'w')"], tmp_path, yields=ready)  # fmt: skip
    learner = launcher.submit("learner", [*py, "import os, time; print(os.path.exists('head.done')); time.sleep(1)"],
                              tmp_path, ("head",), ready)  # fmt: skip
    other = launcher.submit("other", [*py, "import os; print(os.path.exists('head.done'))"], tmp_path)
    while not launcher.started(learner):
        assert not launcher.finished(head), "the learner waited for the whole head job"
        time.sleep(0.05)
    assert not launcher.started(other)  # the learner holds the one slot now
    while not all(launcher.finished(j) for j in (head, learner, other)):
        time.sleep(0.05)
    assert learner.log.read_text().strip() == "False"
    assert other.log.read_text().strip() == "False"  # started when the learner ended, before the head did


def test_the_assistant_job_yields_at_its_learners_ready_file(tmp_path: Path) -> None:
    from mulcot_bench.runner.fanout import ready_file, yield_file
    from mulcot_bench.runner.jobs import Job

    head = Job("twitter2015", "enc-assistant", ("enc-assistant",), augment_for=("enc-student",))
    learner = Job("twitter2015", "enc-student", ("enc-student",), after=(head.name,), needs="enc-assistant")
    plan = [head, learner]
    assert yield_file(head, plan, tmp_path) == ready_file(learner, plan, tmp_path)
    assert yield_file(head, plan, tmp_path) == tmp_path / head.name / "augmented" / "enc-assistant.json"
    assert yield_file(learner, plan, tmp_path) is None


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_jobs_value_is_one_line(tmp_path: Path, value: str) -> None:
    cmd = [sys.executable, "-m", "mulcot_bench.cli", "run", "-d", "synthetic", "--jobs", value]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith(f"--jobs {value!r} must be auto or a whole number of at "
                                                         "least 1 (also MULCOT_BENCH_JOBS)")  # fmt: skip
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_a_job_that_dies_is_a_failure_naming_it_and_its_log(tmp_path: Path) -> None:
    done = mulcot(
        tmp_path, "local", "--launcher", "local", "--launcher-arg", "max_parallel=2",
        models=("count-assistant", "count-student", "crash"),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    merged = results(tmp_path, "local")
    status = {j["name"]: j["status"] for j in merged["provenance"]["launcher"]["jobs"]}
    assert status == {  # the local launcher takes each chain apart: the student's job after its assistant's
        "synthetic.count-assistant": "done", "synthetic.count-student": "done", "synthetic.baselines": "failed",
        "second.count-assistant": "done", "second.count-student": "done", "second.baselines": "failed",
    }  # fmt: skip
    failed = [f for f in merged["failures"] if f["what"] == "job"]
    assert [(f["dataset"], f["model"]) for f in failed] == [("synthetic", "crash"), ("second", "crash")]
    log = tmp_path / "local" / "runs" / "same" / "launcher" / "synthetic.baselines.log"
    assert "job synthetic.baselines" in failed[0]["reason"] and str(log) in failed[0]["reason"]
    assert "exit code 3" in failed[0]["reason"] and log.is_file()
    assert {(e["dataset"], e["model"]) for e in merged["entries"]} == {
        (d, m) for d in ("synthetic", "second") for m in ("count-teacher", "count-assistant", "count-student")
    }
    assert "FAILED (no results; see" in done.stderr and "2 failed" in done.stderr


@pytest.mark.slow
def test_a_run_whose_every_job_dies_still_writes_its_results_and_leaderboard(tmp_path: Path) -> None:
    done = mulcot(tmp_path, "dead", "--launcher", "local", models=("crash",))
    assert done.returncode == 1, done.stderr
    merged = results(tmp_path, "dead")
    assert merged["entries"] == [] and [f["what"] for f in merged["failures"]] == ["job", "job"]
    assert {m["id"] for m in merged["metrics"]} >= {"accuracy", "macro_f1"} and merged["bootstrap"]["resamples"] == 100
    assert [d["name"] for d in merged["datasets"]] == ["synthetic", "second"]
    assert (tmp_path / "dead" / "reports" / "same" / "index.html").is_file()


def test_model_groups_keep_each_chain_together() -> None:
    registry = build_registry([])
    models = ["synthetic-teacher", "tiny-vlm-assistant", "tiny-vlm-student", "tiny-vlm-student-nokd", "majority"]
    assert model_groups(registry, models) == {
        "tiny-vlm-assistant": models[:4],  # the no-KD student learns from the assistant's augmented chains
        "baselines": ["majority"],
    }
    assert model_groups(registry, ["tiny-vlm-student"]) == {"tiny-vlm-assistant": ["tiny-vlm-student"]}
    assert model_groups(registry, ["majority", "synthetic-teacher"]) == {
        "teacher": ["synthetic-teacher"],
        "baselines": ["majority"],
    }
    jobs = plan_jobs(registry, ["synthetic", "twitter2015"], ["majority", "tiny-vlm-student"])
    assert [(j.name, j.models) for j in jobs] == [
        ("synthetic.tiny-vlm-assistant", ("tiny-vlm-student",)), ("synthetic.baselines", ("majority",)),
        ("twitter2015.tiny-vlm-assistant", ("tiny-vlm-student",)), ("twitter2015.baselines", ("majority",)),
    ]  # fmt: skip
    chain = ["synthetic-teacher", "tiny-vlm-assistant", "tiny-vlm-student", "tiny-vlm-student-nokd", "majority"]
    split = plan_jobs(registry, ["synthetic"], chain, split=True)  # the teacher's row, teacher and assistant, learners
    assert split[1].augment_for == ("tiny-vlm-student",)  # stage 2b in the assistant's job, counted on its row
    assert [j.teacher_row for j in split] == [True, False, False, False, False]  # the row is the teacher job's
    assert [(j.name, j.models, j.after) for j in split] == [
        ("synthetic.teacher", ("synthetic-teacher",), ()),
        ("synthetic.tiny-vlm-assistant", ("synthetic-teacher", "tiny-vlm-assistant"), ()),
        ("synthetic.tiny-vlm-student", ("tiny-vlm-student",), ("synthetic.tiny-vlm-assistant",)),
        ("synthetic.tiny-vlm-student-nokd", ("tiny-vlm-student-nokd",), ("synthetic.tiny-vlm-assistant",)),
        ("synthetic.baselines", ("majority",), ()),
    ]  # fmt: skip
    alone = plan_jobs(registry, ["synthetic"], ["tiny-vlm-student", "tiny-vlm-student-nokd"], split=True)
    assert [j.models for j in alone] == [("tiny-vlm-student", "tiny-vlm-student-nokd")]  # no assistant: kept whole
    big = plan_jobs(registry, ["big"], ["majority"])
    ordered = by_critical_path(registry, split + big, {"synthetic": 10, "big": 500})
    names = [j.name for j in ordered]
    assert names[:2] == ["big.baselines", "synthetic.tiny-vlm-assistant"]
    assert names.index("synthetic.teacher") < names.index("synthetic.baselines")  # the references embedded early


def test_launcher_args_are_typed_and_bad_ones_named() -> None:
    assert parse_launcher_args("submitit", ["cluster=local", "timeout_min=30", "mem_gb=1.5", "slurm_qos=low"]) == {
        "cluster": "local", "timeout_min": 30, "mem_gb": 1.5, "slurm_qos": "low",
    }  # fmt: skip
    with pytest.raises(UserError, match=r"'max_parallel' is not a setting of the submitit launcher; valid: cluster"):
        parse_launcher_args("submitit", ["max_parallel=2"])
    with pytest.raises(UserError, match="'partition' is not a setting of the local launcher"):
        parse_launcher_args("local", ["partition=gpu"])
    with pytest.raises(UserError, match="timeout_min takes a number"):
        parse_launcher_args("submitit", ["timeout_min=soon"])
    with pytest.raises(UserError, match="must be KEY=VALUE"):
        parse_launcher_args("local", ["max_parallel"])


def test_submitit_missing_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "submitit", None)  # as if not installed
    with pytest.raises(UserError, match=r"needs the submitit package: pip install 'mulcot-bench\[launcher\]'"):
        SubmititLauncher(tmp_path, {"cluster": "local"})


def test_launcher_arg_without_launcher_is_refused(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "mulcot_bench.cli", "run", "-d", "synthetic", "--launcher-arg", "cluster=local"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith("--launcher-arg needs --launcher local or --launcher submitit")
    assert not (tmp_path / "runs").exists()


def _entry(dataset: str, model: str, role: str, variant: str | None = None) -> Entry:
    return Entry(model=model, role=role, plugin="p", dataset=dataset, split="test", n=1, invalid=0, scores={},
                 predictions_file=f"predictions/{dataset}/{model}.jsonl", identity=model, variant=variant)  # fmt: skip


def test_merged_entries_come_in_single_process_order() -> None:
    """Two chain jobs and a baseline job of two datasets: ranks interleave across jobs as one pipeline orders them,
    and the teacher row both chain jobs wrote is kept once."""
    chain_a = [_entry("d1", "t", "teacher"), _entry("d1", "a1", "assistant"), _entry("d1", "s1", "student"),
               _entry("d1", "s1", "student", "text-only"), _entry("d1", "nokd1", "baseline")]  # fmt: skip
    chain_b = [_entry("d1", "t", "teacher"), _entry("d1", "a2", "assistant"), _entry("d1", "s2", "student")]
    base = [_entry("d1", "rule", "baseline", "text-only"), _entry("d1", "rule", "baseline")]
    other = [_entry("d0", "rule", "baseline")]
    parts = [
        RunResults.model_construct(entries=chain_a), RunResults.model_construct(entries=chain_b),
        RunResults.model_construct(entries=base), RunResults.model_construct(entries=other),
    ]  # fmt: skip
    merged = merge_entries(parts, ["d0", "d1"], ["a1", "s1", "nokd1", "a2", "s2", "rule"], ["text-only"])
    assert [(e.dataset, e.model, e.variant) for e in merged] == [
        ("d0", "rule", None), ("d1", "t", None), ("d1", "a1", None), ("d1", "a2", None), ("d1", "s1", None),
        ("d1", "s1", "text-only"), ("d1", "s2", None), ("d1", "nokd1", None), ("d1", "rule", None),
        ("d1", "rule", "text-only"),
    ]  # fmt: skip
