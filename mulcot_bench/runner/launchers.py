"""Where the jobs of ``run --launcher`` run: plain subprocesses on this machine (``local``), or through the
``submitit`` package (Slurm; its local executor runs the same jobs as subprocesses on one machine).

A launcher only starts a job's command and says when it has ended; what the job produced is read from its
``results.json`` by the caller (never from a launcher's own return values).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mulcot_bench.errors import UserError

LAUNCHERS = ("local", "submitit")
#: ``--launcher-arg`` keys of the submitit launcher -> their type (``partition`` is Slurm's; any ``slurm_*`` key
#: goes to submitit as text)
SUBMITIT_KEYS: dict[str, Callable[[str], Any]] = {
    "cluster": str,
    "partition": str,
    "timeout_min": int,
    "cpus_per_task": int,
    "gpus_per_node": int,
    "mem_gb": float,
    "nodes": int,
    "tasks_per_node": int,
}
LOCAL_KEYS: dict[str, Callable[[str], Any]] = {"max_parallel": int, "threads": int}
#: the variables that set a job's thread count (torch's intra-op pool, OpenMP, BLAS); a variable the user set wins
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the platform says, else the CPU count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
SUBMITIT_MISSING = "--launcher submitit needs the submitit package: pip install 'mulcot-bench[launcher]'"


@dataclass
class Started:
    """A submitted job: its id, its command and the log file to read when it fails."""

    name: str
    command: list[str]
    job_id: str | None
    log: Path
    handle: Any = None


def parse_launcher_args(name: str, items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` settings of a launcher, typed; a malformed or unknown one is one line naming it."""
    keys = SUBMITIT_KEYS if name == "submitit" else LOCAL_KEYS
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--launcher-arg {item!r} must be KEY=VALUE, e.g. --launcher-arg timeout_min=60")
        if key not in keys and not (name == "submitit" and key.startswith("slurm_")):
            raise UserError(
                f"--launcher-arg {key!r} is not a setting of the {name} launcher; valid: "
                + ", ".join(keys)
                + (", slurm_*" if name == "submitit" else "")  # fmt: skip
            )
        try:
            out[key] = keys.get(key, str)(value.strip())
        except ValueError:
            raise UserError(f"--launcher-arg {item!r}: {key} takes a number") from None
    return out


class LocalLauncher:
    """Each job a subprocess of this one, at most ``max_parallel`` at a time (default: the usable cores), each
    with ``threads`` threads (default: the cores shared out, at least one), so together they fill the cores
    without oversubscribing them. A job waits in submission order until the jobs it comes ``after`` have ended.

    A job that others wait for (an assistant's) gives its slot up once it has written its ``yields`` file: what
    it has left (scoring) then runs at the lowest CPU priority (the job lowers its own), on what the jobs in the
    slots leave over, so the learners that waited for it start at once and the longest line of work is not held
    up by work nothing waits for."""

    name = "local"
    honours_after = True

    def __init__(self, folder: Path, settings: dict[str, Any]) -> None:
        self.folder = folder
        self.max_parallel = max(1, int(settings.get("max_parallel") or usable_cores()))
        self.threads = max(1, int(settings.get("threads") or usable_cores() // self.max_parallel))
        self.waiting: list[Started] = []
        self.running: list[Started] = []
        self.ended: set[str] = set()
        self.yields: dict[str, Path] = {}  # job name -> the file after which it holds no slot

    def submit(
        self,
        name: str,
        command: list[str],
        cwd: Path,
        after: tuple[str, ...] = (),
        ready: Path | None = None,
        yields: Path | None = None,
    ) -> Started:
        """Queue a job; it starts when a slot is free and every job it comes ``after`` has ended, or earlier once
        the file ``ready`` exists (what it needs of those jobs is done: an assistant trained and stored). Once
        the job has written ``yields`` it no longer holds a slot."""
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = {"cwd": cwd, "after": after, "ready": ready}
        if yields is not None:
            self.yields[name] = yields
        job = Started(name, command, None, self.folder / f"{name}.log", handle=handle)
        self.waiting.append(job)
        self._start()
        return job

    def environment(self) -> dict[str, str]:
        """A job's environment: this one's, with the thread variables set where the user has not set them."""
        return {**{v: str(self.threads) for v in THREAD_VARIABLES}, **os.environ}

    def _start(self) -> None:
        for job in self.running:
            if job.handle.poll() is not None:
                self.ended.add(job.name)
        self.running = [j for j in self.running if j.name not in self.ended]
        while sum(not self._yielded(j) for j in self.running) < self.max_parallel:
            startable = [j for j in self.waiting if self._may_start(j)]
            if not startable:
                return
            job = startable[0]
            self.waiting.remove(job)
            with job.log.open("wb") as out:  # the child keeps its own copy of the descriptor
                job.handle = subprocess.Popen(
                    job.command, cwd=job.handle["cwd"], stdout=out, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, env=self.environment(),
                )  # fmt: skip
            job.job_id = f"pid {job.handle.pid}"
            self.running.append(job)

    def _yielded(self, job: Started) -> bool:
        """Whether a running job has given its slot up (it wrote its ``yields`` file)."""
        yields = self.yields.get(job.name)
        return yields is not None and yields.is_file()

    def _may_start(self, job: Started) -> bool:
        ready = job.handle["ready"]
        return self.ended.issuperset(job.handle["after"]) or (ready is not None and ready.is_file())

    def started(self, job: Started) -> bool:
        return job.job_id is not None

    def finished(self, job: Started) -> bool:
        self._start()
        return job.job_id is not None and job.handle.poll() is not None

    def outcome(self, job: Started) -> str:
        return f"exit code {job.handle.returncode}"

    def cancel(self, job: Started) -> None:
        if job in self.waiting:
            self.waiting.remove(job)
        elif job.job_id is not None and job.handle.poll() is None:
            job.handle.terminate()


class SubmititLauncher:
    """Each job a ``submitit`` job running the command (``CommandFunction``); logs under ``folder``."""

    name = "submitit"

    def __init__(self, folder: Path, settings: dict[str, Any]) -> None:
        try:
            import submitit
        except ImportError:
            raise UserError(SUBMITIT_MISSING) from None
        self.submitit = submitit
        params = {("slurm_partition" if k == "partition" else k): v for k, v in settings.items() if k != "cluster"}
        try:
            self.executor = submitit.AutoExecutor(folder=folder, cluster=settings.get("cluster"))
            self.executor.update_parameters(**params)
        except (ValueError, NameError, AssertionError, RuntimeError) as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise UserError(f"--launcher-arg: submitit refused the settings: {first}") from None

    honours_after = False  # its jobs start as the cluster schedules them: chains stay whole (see runner.jobs)

    def submit(
        self,
        name: str,
        command: list[str],
        cwd: Path,
        after: tuple[str, ...] = (),
        ready: Path | None = None,
        yields: Path | None = None,
    ) -> Started:
        self.executor.update_parameters(name=name)
        handle = self.executor.submit(self.submitit.helpers.CommandFunction(command, cwd=cwd, verbose=True))
        return Started(name, command, str(handle.job_id), Path(handle.paths.stderr), handle)

    def started(self, job: Started) -> bool:
        return True  # submitted to the cluster: when it starts is the scheduler's

    def finished(self, job: Started) -> bool:
        try:
            return bool(job.handle.done())
        except Exception:  # noqa: BLE001 - the debug executor runs the job inside done() and raises its error
            return True

    def outcome(self, job: Started) -> str:
        return f"state {job.handle.state}"

    def cancel(self, job: Started) -> None:
        job.handle.cancel(check=False)


def open_launcher(name: str, folder: Path, settings: dict[str, Any]) -> LocalLauncher | SubmititLauncher:
    """The launcher called ``name``, its job logs under ``folder``."""
    if name == "submitit":
        return SubmititLauncher(folder, settings)
    return LocalLauncher(folder, settings)
