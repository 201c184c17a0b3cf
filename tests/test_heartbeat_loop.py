"""The heartbeat loop: idle detection, pre-emption by an edit, the CPU budget, persistence, and
the heartbeats of several workspaces in one process sharing one budget."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from rusta_lsp.config import HeartbeatConfig
from rusta_lsp.heartbeat.loop import Heartbeat, HeartbeatGroup, JobContext


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def recording_jobs(calls: list[str]) -> dict:
    def make(name):
        def job(ctx: JobContext) -> dict:
            calls.append(name)
            return {"job": name}
        return job
    return {name: make(name) for name in ("reflect", "drill", "train")}


def test_runs_only_after_idle_seconds(tmp_path: Path):
    clock, calls = FakeClock(), []
    beat = Heartbeat(HeartbeatConfig(idle_seconds=20), recording_jobs(calls), tmp_path, clock=clock)
    clock.now += 5
    assert beat.step() is None and beat.status()["state"] == "waiting"
    clock.now += 20
    assert beat.step() == {"job": "reflect", "finished": clock.now}
    beat.notify_edit()
    clock.now += 10
    assert beat.step() is None
    clock.now += 15
    beat.step()
    assert calls == ["reflect", "drill"]


def test_disabled_heartbeat_does_nothing(tmp_path: Path):
    clock, calls = FakeClock(), []
    beat = Heartbeat(HeartbeatConfig(enabled=False, idle_seconds=0), recording_jobs(calls), tmp_path, clock=clock)
    clock.now += 100
    assert beat.step() is None and calls == [] and beat.status()["state"] == "disabled"
    beat.run_now("drill")  # an explicit request (rusta.drillNow) still runs
    beat.step()
    assert calls == ["drill"]


def test_edit_cancels_the_running_job_quickly(tmp_path: Path):
    started, stopped = threading.Event(), threading.Event()

    def endless(ctx: JobContext) -> dict:
        started.set()
        try:
            while True:
                ctx.cancel.check()
                time.sleep(0.01)
        finally:
            stopped.set()

    statuses = []
    beat = Heartbeat(HeartbeatConfig(idle_seconds=0), {"drill": endless}, tmp_path, tick=0.05,
                     on_status=statuses.append)
    beat.start()
    try:
        assert started.wait(10)
        assert beat.status()["state"] == "running" and beat.status()["job"] == "drill"
        beat.notify_edit()
        assert stopped.wait(1.0), "the job outlived the edit by more than a second"
    finally:
        beat.config.enabled = False
        beat.stop()
    assert beat.state.cancelled >= 1
    assert "drill" not in beat.state.last_results
    assert any(s["state"] == "running" for s in statuses)


def test_budget_stops_work_until_the_hour_rolls_over(tmp_path: Path):
    clock = FakeClock()

    def burn(ctx: JobContext) -> dict:
        end = time.thread_time() + 0.3
        while time.thread_time() < end:
            pass
        return {"burned": True}

    beat = Heartbeat(HeartbeatConfig(idle_seconds=0, cpu_seconds_per_hour=0.2), {"drill": burn}, tmp_path, clock=clock)
    assert beat.step() == {"burned": True, "finished": clock.now}
    assert beat.budget_left() == 0.0
    assert beat.step() is None and beat.status()["state"] == "over-budget"
    beat.run_now("drill")
    assert beat.step() is None  # drillNow does not override the budget
    clock.now += 3601
    assert beat.budget_left() == 0.2
    assert beat.step() is not None


def test_job_sees_its_budget(tmp_path: Path):
    seen = []
    beat = Heartbeat(HeartbeatConfig(idle_seconds=0, cpu_seconds_per_hour=50), {"drill": lambda ctx: seen.append(ctx.budget_seconds) or {}}, tmp_path)
    beat.step()
    assert seen == [50]


def test_state_survives_a_restart(tmp_path: Path):
    clock, calls = FakeClock(), []
    config = HeartbeatConfig(idle_seconds=0, cpu_seconds_per_hour=100)
    first = Heartbeat(config, recording_jobs(calls), tmp_path, clock=clock)
    first.step()
    first.step()
    spent = 100 - first.budget_left()
    second = Heartbeat(config, recording_jobs(calls), tmp_path, clock=clock)
    assert second.state.runs == 2
    assert second.status()["results"]["drill"] == {"job": "drill", "finished": clock.now}
    assert abs((100 - second.budget_left()) - spent) < 1e-6
    second.step()
    assert calls == ["reflect", "drill", "train"]


def test_corrupt_state_file_starts_fresh(tmp_path: Path):
    (tmp_path / "heartbeat_state.json").write_text("{not json")
    beat = Heartbeat(HeartbeatConfig(idle_seconds=0), recording_jobs([]), tmp_path)
    assert beat.state.runs == 0
    beat.step()
    assert beat.state.runs == 1


def test_heartbeat_thread_and_its_processes_run_at_lower_priority(tmp_path: Path):
    import os
    import subprocess
    import sys

    if not sys.platform.startswith("linux"):
        return
    seen = {}
    done = threading.Event()

    def job(ctx: JobContext) -> dict:
        seen["thread"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        seen["child"] = int(subprocess.run(["nice"], capture_output=True, text=True).stdout)  # like cargo
        done.set()
        return {}

    beat = Heartbeat(HeartbeatConfig(idle_seconds=0), {"drill": job}, tmp_path, tick=0.05)
    beat.start()
    try:
        assert done.wait(10)
    finally:
        beat.stop()
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert seen["thread"] > base or seen["thread"] == 19
    assert seen["child"] == seen["thread"]


def burn(seconds: float):
    def job(ctx: JobContext) -> dict:
        end = time.thread_time() + seconds
        while time.thread_time() < end:
            pass
        return {"burned": seconds}
    return job


def test_workspaces_of_one_process_share_one_budget(tmp_path: Path):
    clock, group = FakeClock(), HeartbeatGroup()
    config = HeartbeatConfig(idle_seconds=0, cpu_seconds_per_hour=0.2)
    first = Heartbeat(config, {"drill": burn(0.3)}, tmp_path / "a", clock=clock, group=group)
    second = Heartbeat(config, {"drill": burn(0.3)}, tmp_path / "b", clock=clock, group=group)
    assert first.step() is not None
    # The first workspace spent the hour's budget: the second has none left either.
    assert second.budget_left() == 0.0 and second.step() is None
    assert second.status()["state"] == "over-budget"
    # A beat that stops (a settings change, a folder removed) leaves the group; its spending is in
    # its state file, for the beat that replaces it.
    first.stop()
    assert second.budget_left() == 0.2
    assert Heartbeat(config, {}, tmp_path / "a", clock=clock, group=group).budget_left() == 0.0
    clock.now += 3601
    assert second.step() is not None


def test_one_job_at_a_time_and_an_edit_anywhere_preempts(tmp_path: Path):
    group, started, calls = HeartbeatGroup(), threading.Event(), []

    def endless(ctx: JobContext) -> dict:
        started.set()
        while True:
            ctx.cancel.check()
            time.sleep(0.01)

    config = HeartbeatConfig(idle_seconds=0)
    busy = Heartbeat(config, {"drill": endless}, tmp_path / "a", tick=0.05, group=group)
    other = Heartbeat(config, recording_jobs(calls), tmp_path / "b", group=group)
    busy.start()
    try:
        assert started.wait(10)
        assert other.step() is None and calls == []  # the first workspace's drill runs
        other.notify_edit()  # the user types in the other workspace: the drill stops
        deadline = time.monotonic() + 2
        while busy.state.cancelled == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert busy.state.cancelled >= 1, "an edit in one workspace did not stop another's job"
    finally:
        busy.config = HeartbeatConfig(enabled=False)
        busy.stop()
    assert other.step() is not None and calls == ["reflect"]  # its turn, once the drill stopped
