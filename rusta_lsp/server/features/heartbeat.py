"""The heartbeat in the server: idle-time jobs, `$/progress` while one runs, `rusta/heartbeat`
status notifications, the commands `rusta.drillNow` and `rusta.showReport`, and pre-emption on
every edit. The loop lives in its own thread (rusta_lsp.heartbeat.loop); handlers here only
forward events to it and status from it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ...heartbeat.jobs import WorkspaceJobs
from ...heartbeat.loop import Heartbeat
from ...heartbeat.report import build_report, render_html
from ...memory.store import Memory
from ..documents import Document
from ..app import Feature

log = logging.getLogger(__name__)

NOTIFICATION = "rusta/heartbeat"
DRILL_NOW = "rusta.drillNow"
SHOW_REPORT = "rusta.showReport"


class HeartbeatFeature(Feature):
    name = "heartbeat"

    def __init__(self, server, session):
        super().__init__(server, session)
        self.beat: Heartbeat | None = None
        self.jobs: WorkspaceJobs | None = None
        self._shown_job: str | None = None  # the job whose $/progress is open
        self._job_done: asyncio.Event | None = None
        self._reporter = None
        self._drill_pending = False

    def register(self) -> None:
        self.handle_command(DRILL_NOW, self.drill_now)
        self.handle_command(SHOW_REPORT, self.show_report)

    # --- lifecycle -----------------------------------------------------------------------

    async def on_initialized(self) -> None:
        if self.session is not None:
            self._start()

    def _start(self) -> None:
        session = self.session
        self.jobs = WorkspaceJobs(session.root, session.config, self._memory, session.calibrators, session.slots)
        self.beat = Heartbeat(session.config.heartbeat, self.jobs.jobs, session.state_dir, on_status=self._on_status,
                              group=self.server.heartbeats)
        if self._drill_pending:
            self.beat.run_now("drill")
            self._drill_pending = False
        self.beat.start()

    async def on_config_changed(self, changed: set[str]) -> None:
        """The jobs read the heartbeat's, cargo's and the models' settings: a new beat. A drill
        asked for meanwhile waits for it (`drill_now` finds no beat), not for the old one."""
        beat, jobs = self.beat, self.jobs
        if beat is None:
            return
        self.beat = self.jobs = None
        await self.server.run_behind(beat.stop)
        await self.server.run_behind(jobs.close)  # the drills' and the tests' slots, once their runs stopped
        self._start()

    async def on_document_changed(self, doc: Document) -> None:
        if self.beat is not None:
            self.beat.notify_edit()

    async def on_document_saved(self, doc: Document) -> None:
        if self.beat is not None:
            self.beat.notify_edit()  # a save starts the user's own checks: make room for them

    async def on_shutdown(self) -> None:
        # The beat stops its job (cargo killed); the drills' and the tests' slot locks go with the process,
        # so the exit does not wait for the drill engine to give it back.
        if self.beat is not None:
            await self.server.run_behind(self.beat.stop)

    def _memory(self) -> Memory:
        """The session's memory, waited for (called from the heartbeat thread or an executor)."""
        memory = self.session.wait_memory()
        if memory is None:
            raise RuntimeError("the workspace memory could not be opened")
        if memory.read_only:
            raise RuntimeError("another process writes the workspace memory; the heartbeat waits for it")
        return memory

    # --- status and progress --------------------------------------------------------------

    def _on_status(self, status: dict) -> None:
        """From the heartbeat thread: notify the client, open/close `$/progress` around jobs."""
        self.server.notify(NOTIFICATION, status)
        job = status["job"]
        if job != self._shown_job:
            if self._shown_job is not None:
                self.server.call_soon(self._end_progress)
            if job is not None:
                self.server.call_soon(self._begin_progress, job)
            self._shown_job = job
        elif job is not None and status["progress"]:
            self.server.call_soon(self._report_progress, status["progress"]["message"])

    def _begin_progress(self, job: str) -> None:
        done = self._job_done = asyncio.Event()
        self.server.spawn(self._progress(job, done), f"heartbeat-progress-{job}")

    async def _progress(self, job: str, done: asyncio.Event) -> None:
        async with self.progress(f"Rusta heartbeat: {job}") as reporter:
            self._reporter = reporter
            while not done.is_set():
                try:
                    await asyncio.wait_for(done.wait(), 0.2)
                except asyncio.TimeoutError:
                    if reporter.cancel.is_set() and self.beat is not None:
                        self.beat.cancel_current()  # the user pressed cancel on the progress
            self._reporter = None

    def _report_progress(self, message: str) -> None:
        if self._reporter is not None:
            self._reporter.report(message=message)

    def _end_progress(self) -> None:
        if self._job_done is not None:
            self._job_done.set()

    # --- commands ------------------------------------------------------------------------

    def drill_now(self, params: Any) -> dict:
        if self.session is None:
            return {"state": "unavailable", "reason": "no workspace folder"}
        if self.beat is None or self.beat.config is not self.session.config.heartbeat:
            # Before `initialized`, or while the heartbeat restarts for new settings (the session
            # has them, this beat does not): the next heartbeat drills first, with the new settings.
            self._drill_pending = True
            return {"state": "starting"}
        if "drill" not in self.jobs.jobs:
            return {"state": "unavailable", "reason": "cargo.enable is false: drills run cargo"}
        self.beat.run_now("drill")
        return self.beat.status()

    async def show_report(self, params: Any) -> dict:
        """Render the HTML report under the memory folder; returns {"path": ...} for the client to open."""
        if self.session is None:
            return {"path": None, "reason": "no workspace folder"}
        return await self.server.run_blocking(self._write_report)

    def _write_report(self) -> dict:
        folder = self.session.state_dir
        report = build_report(self._memory(), self.session.root, folder)
        path = folder / "report.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_html(report), encoding="utf-8")
        return {"path": str(path)}
