"""The heartbeat: a background thread that works between edits, within a CPU budget.

Every `tick` seconds it asks: has the user been idle for `heartbeat.idleSeconds`, and is there
CPU budget left this hour? If so it runs the next job (reflect, test, drill, train, in turn) with a
cancel token that `notify_edit()` sets, so an edit stops the job within about a second: jobs
check the token between steps, and cargo runs are killed by the oracle's watcher.

The thread lowers its own scheduling priority (Linux applies `setpriority` per thread, and
processes it starts, cargo and rustc, inherit it). State (budget spent, job turn, latest results)
is a JSON file under the memory folder, so a restart continues where the last run stopped.
The heartbeats of one process (a window with several Cargo workspaces) form a `HeartbeatGroup`
that shares the budget and runs one job at a time.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..cancel import Cancelled, CancelToken
from ..config import HeartbeatConfig

log = logging.getLogger(__name__)
HOUR = 3600.0
JOB_ORDER = ("reflect", "test", "drill", "train")
STATE_FILE = "heartbeat_state.json"


@dataclass
class JobContext:
    """What a job gets: its cancel token and the seconds it may still spend."""

    cancel: CancelToken  # set by an edit, the client's cancel or the shutdown
    budget_seconds: float
    progress: Callable[[str, int | None], None]  # (message, percent) for $/progress
    meter: Callable[[], float] = field(default=lambda: cpu_seconds())  # CPU in the loop, wall time in the CLI
    started: float = -1.0

    def __post_init__(self) -> None:
        if self.started < 0:
            self.started = self.meter()

    def spent(self) -> float:
        return self.meter() - self.started

    def over_budget(self) -> bool:
        return self.spent() >= self.budget_seconds


Job = Callable[[JobContext], dict]


@dataclass
class HeartbeatState:
    """Persisted between runs: the spending window, whose turn it is, and what happened last."""

    spent: list[tuple[float, float]] = field(default_factory=list)  # (wall time, CPU seconds) per job
    next_job: int = 0  # index into the job order
    runs: int = 0
    cancelled: int = 0
    last_job: str | None = None
    last_results: dict[str, dict] = field(default_factory=dict)  # job name -> its latest result

    @classmethod
    def load(cls, path: Path) -> "HeartbeatState":
        try:
            data = json.loads(path.read_text())
            state = cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
            state.spent = [(float(t), float(s)) for t, s in state.spent]
            return state
        except (OSError, ValueError, TypeError):
            return cls()

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__, indent=1, default=str))
        tmp.replace(path)  # atomic: a crash never leaves half a state file

    def spent_in_last_hour(self, now: float) -> float:
        self.spent = [(t, s) for t, s in self.spent if now - t < HOUR]
        return sum(s for _, s in self.spent)


def cpu_seconds() -> float:
    """CPU time of this thread plus finished child processes (cargo, rustc) it waited for.

    Children are counted process-wide: a cargo run the server makes at the same time is
    charged to the heartbeat too, which errs on the side of working less.
    """
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.thread_time() + children.ru_utime + children.ru_stime


def lower_priority(increment: int = 10) -> None:
    """Raise this thread's niceness by `increment` (capped at 19), from wherever it starts. Linux
    keeps a nice value per thread; elsewhere a thread id is no process id: nothing changes."""
    if not sys.platform.startswith("linux"):
        return
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + increment))
    except (AttributeError, OSError):
        pass  # not Linux, or not permitted: run at normal priority


class HeartbeatGroup:
    """The heartbeats of one process. A window with several Cargo workspaces runs one heartbeat
    per workspace; together they get one CPU budget, run one job at a time, and an edit in any
    of them pre-empts them all: the machine does not get a budget per workspace."""

    def __init__(self) -> None:
        self._members: weakref.WeakSet[Heartbeat] = weakref.WeakSet()
        self.turn = threading.Lock()  # held while a member's job runs

    def join(self, beat: "Heartbeat") -> None:
        self._members.add(beat)

    def leave(self, beat: "Heartbeat") -> None:
        self._members.discard(beat)

    def members(self) -> list["Heartbeat"]:
        return list(self._members)


class Heartbeat:
    def __init__(
        self,
        config: HeartbeatConfig,
        jobs: dict[str, Job],
        state_dir: Path,
        *,
        tick: float = 2.0,
        on_status: Callable[[dict], None] | None = None,
        clock: Callable[[], float] = time.time,
        group: HeartbeatGroup | None = None,
    ):
        self.config = config
        self.jobs = jobs
        self.order = [name for name in JOB_ORDER if name in jobs] + [n for n in jobs if n not in JOB_ORDER]
        self.state_path = Path(state_dir) / STATE_FILE
        self.state = HeartbeatState.load(self.state_path)
        self.tick = tick
        self.on_status = on_status or (lambda status: None)
        self.clock = clock
        self.last_edit = clock()
        self.current: str | None = None
        self.progress: tuple[str, int | None] | None = None
        self._stop = CancelToken()
        self._cancel = self._stop.linked()  # the running job's: a new one per job
        self._wake = threading.Event()
        self._forced: str | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.group = group or HeartbeatGroup()
        self.group.join(self)

    # --- control -------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="rusta-heartbeat", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        # Its spending stays in the state file: the beat that replaces it reads it from there.
        self.group.leave(self)
        self._stop.cancel()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def notify_edit(self) -> None:
        """The user typed (in any workspace of the group): restart the idle clocks and cancel
        whatever runs."""
        for beat in self.group.members():
            beat.last_edit = beat.clock()
            beat._cancel.cancel()

    def cancel_current(self) -> None:
        """Stop the running job (the client cancelled its progress) without resetting idleness."""
        self._cancel.cancel()

    def run_now(self, job: str = "drill") -> None:
        """Run `job` at the next tick, idle or not (the `rusta.drillNow` command); budget still applies."""
        self._forced = job
        self._wake.set()

    # --- status --------------------------------------------------------------------------

    def budget_left(self) -> float:
        """This hour's budget less what every heartbeat of the group spent in it."""
        spent = sum(beat._spent_in_last_hour() for beat in self.group.members())
        return max(0.0, self.config.cpu_seconds_per_hour - spent)

    def _spent_in_last_hour(self) -> float:
        with self._lock:
            return self.state.spent_in_last_hour(self.clock())

    def idle_for(self) -> float:
        return self.clock() - self.last_edit

    def status(self) -> dict:
        """The `rusta/heartbeat` payload: state, current job, budget left, latest results."""
        if not self.config.enabled:
            state = "disabled"
        elif self.current is not None:
            state = "running"
        elif self.budget_left() <= 0:
            state = "over-budget"
        elif self.idle_for() < self.config.idle_seconds:
            state = "waiting"
        else:
            state = "idle"
        return {
            "state": state,
            "job": self.current,
            "progress": {"message": self.progress[0], "percentage": self.progress[1]} if self.progress else None,
            "budgetLeftSeconds": round(self.budget_left(), 2),
            "budgetPerHourSeconds": self.config.cpu_seconds_per_hour,
            "runs": self.state.runs,
            "cancelled": self.state.cancelled,
            "lastJob": self.state.last_job,
            "results": self.state.last_results,
        }

    # --- the loop ------------------------------------------------------------------------

    def _run(self) -> None:
        lower_priority()
        while not self._stop.is_set():
            self._wake.wait(self.tick)
            self._wake.clear()
            if self._stop.is_set():
                break
            self.step()

    def due(self) -> str | None:
        """The job to run now, or None (disabled, not idle, out of budget, nothing to do)."""
        if not self.order or self.budget_left() <= 0:
            return None
        if self._forced is not None:  # asked for explicitly: runs even when the loop is disabled
            return self._forced if self._forced in self.jobs else None
        if not self.config.enabled or self.idle_for() < self.config.idle_seconds:
            return None
        return self.order[self.state.next_job % len(self.order)]

    def step(self) -> dict | None:
        """One tick's worth of work; returns the job's result, or None when nothing ran."""
        self._cancel = self._stop.linked()  # before the idle check: an edit from here on cancels this job
        name = self.due()
        if name is None:
            self._forced = None
            return None
        if not self.group.turn.acquire(blocking=False):
            return None  # another workspace's job runs: this one waits for a later tick
        try:
            return self._run_job(name)
        finally:
            self.group.turn.release()

    def _run_job(self, name: str) -> dict | None:
        forced = self._forced is not None
        self._forced = None
        self.current = name
        self.progress = None
        self.on_status(self.status())
        context = JobContext(self._cancel, self.budget_left(), self._report_progress)
        started_cpu, started = cpu_seconds(), self.clock()
        result: dict | None
        try:
            result = self.jobs[name](context)
            result = {**result, "finished": started}
        except Cancelled:
            result = None
        except Exception as err:  # a failing job must not kill the heartbeat: record it, go on
            log.exception("heartbeat job %s failed", name)
            result = {"error": f"{type(err).__name__}: {err}", "finished": started}
        finally:
            spent = max(0.0, cpu_seconds() - started_cpu)
            self.current = None
            self.progress = None
        with self._lock:
            self.state.spent.append((started, spent))
            self.state.runs += 1
            self.state.last_job = name
            if result is None:
                self.state.cancelled += 1
            else:
                self.state.last_results[name] = result
                if not forced:
                    self.state.next_job += 1
            self.state.save(self.state_path)
        self.on_status(self.status())
        return result

    def _report_progress(self, message: str, percentage: int | None = None) -> None:
        self.progress = (message, percentage)
        self.on_status(self.status())


def context_for_cli(budget_seconds: float, progress: Callable[[str, int | None], None] | None = None) -> JobContext:
    """A job context for one-shot runs (`rusta drill`): never cancelled, a wall-clock budget."""
    return JobContext(CancelToken(), budget_seconds, progress or (lambda message, pct=None: None), time.monotonic)


def job_result(**values: Any) -> dict:
    """Results are JSON (they go into the state file and the `rusta/heartbeat` notification)."""
    return json.loads(json.dumps(values, default=str))
