"""The heartbeat loop: idle detection, pre-emption by an edit, the CPU budget, persistence."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from rusta_lsp.config import HeartbeatConfig
from rusta_lsp.heartbeat.loop import Heartbeat, JobContext


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
