"""The heartbeat's jobs for one workspace: reflect, test, drill, train. Each takes a JobContext."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from ..cancel import CancelToken
from ..config import RustaConfig
from ..patches.confidence import OUTCOME_EVENT, Calibrator, CalibratorStore
from ..patches.shadow import ShadowSlots
from ..patches.testing import GreenRecorder
from .drills import TABLE as DRILLS, Driller, drill_engine
from .loop import Job, JobContext, job_result
from .reflection import reflect
from .training import TrainConfig, train_calibrator

ROUND_CPU_SECONDS = 60.0  # CPU seconds (ours and cargo's) one background drill round may take
TEST_ROUND_SECONDS = 120.0  # at most this long (wall seconds) per run of the test suite


def labelled_examples(memory) -> tuple[list[list[float]], list[float]]:
    """Feature rows and right/wrong labels: every verified patch of every drill, plus the
    user's feedback on offered patches when it carries the features the model saw, plus the
    training rows teammates shared (a team memory)."""
    rows, labels = [], []
    try:
        drills = memory.rows(DRILLS)
    except Exception:  # noqa: BLE001 — no drills yet
        drills = []
    for drill in drills:
        for patch in drill.get("patches", []):
            rows.append(patch["features"])
            labels.append(float(bool(patch["correct"])))
    for event in memory.events(kind=OUTCOME_EVENT):
        payload = event["payload"]
        if payload.get("features") and not payload.get("drill"):
            rows.append(payload["features"])
            labels.append(float(bool(payload.get("correct"))))
    for shared in memory.team_rows("training"):
        if isinstance(shared.get("features"), list):
            rows.append(shared["features"])
            labels.append(float(bool(shared.get("correct"))))
    return rows, labels


def calibrate(calibrators: CalibratorStore, config: RustaConfig, memory, cancel: CancelToken | None = None,
              train_config: TrainConfig | None = None) -> dict:
    """Retrain the confidence model; save it (and its threshold) to the workspace's one store, which
    every engine reads, only when held-out data says so."""
    current = calibrators.current()
    rows, labels = labelled_examples(memory)
    train_config = train_config or TrainConfig(device=config.device, target_precision=config.abstain.target_precision)
    # Rows labelled before the features changed (an older Rusta's drills) cannot be read.
    usable = [(r, label) for r, label in zip(rows, labels) if len(r) == len(current.names)]
    if not usable:
        return {"trained": False, "reason": f"no labelled example with the model's {len(current.names)} features",
                "examples": len(rows)}
    x = torch.tensor([r for r, _ in usable], dtype=torch.float64)
    y = torch.tensor([label for _, label in usable], dtype=torch.float64)
    kept, result = train_calibrator(x, y, current.net, train_config, cancel)
    if result.trained:
        model = Calibrator(current.names, current.config)
        model.net = kept
        model.trained = True
        model.threshold_override = result.threshold
        calibrators.save(model)
        memory.share("calibrators", [{"id": "model", **model.to_json(), "examples": len(usable)}])
    summary = {**result.to_json(), "examples": len(usable), "positives": int(y.sum())}
    memory.log_event("training", summary)
    return summary


class WorkspaceJobs:
    """The four jobs (`jobs`: reflect, test, drill, train; no test or drill without
    `cargo.enable`), bound to one workspace. `memory()`
    returns the writable memory when a job starts (it may still be opening when the heartbeat
    starts); `calibrators` and `slots` are the workspace session's. `close()` gives the drills' and
    the test suite's shadow slots back."""

    def __init__(self, root: Path, config: RustaConfig, memory: Callable[[], object],
                 calibrators: CalibratorStore, slots: ShadowSlots, driller: Driller | None = None):
        self.root = Path(root)
        self.config = config
        self.memory = memory
        self.calibrators = calibrators
        self.slots = slots
        self.driller = driller
        self.green: GreenRecorder | None = None
        self.jobs: dict[str, Job] = {"reflect": self.reflect, "test": self.test, "drill": self.drill,
                                     "train": self.train}
        if not config.cargo.enable:  # tests and drills build with cargo: none where cargo may not run
            del self.jobs["test"], self.jobs["drill"]

    def _driller(self) -> Driller:
        if self.driller is None:
            memory = self.memory()
            engine = drill_engine(self.root, self.config, memory, slots=self.slots, calibrators=self.calibrators)
            self.driller = Driller(self.root, self.config, memory, engine=engine)
        return self.driller

    def test(self, ctx: JobContext) -> dict:
        """The last green state: when the saved workspace changed and compiles, run its tests (in
        a shadow slot of their own) and record each one's outcome in the memory."""
        ctx.progress("running the tests", None)
        if self.green is None:
            self.green = GreenRecorder(self.root, self.config, self.slots)
        budget = max(0.0, min(ctx.budget_seconds - ctx.spent(), TEST_ROUND_SECONDS))
        return job_result(**self.green.record(self.memory(), ctx.cancel, budget))

    def reflect(self, ctx: JobContext) -> dict:
        ctx.progress("reflecting on the devlog", None)
        summary = reflect(self.memory(), self.root, ctx.cancel)
        summary.pop("stats")
        return job_result(**summary)

    def drill(self, ctx: JobContext) -> dict:
        # One round is short, so reflection and training get their turns between rounds.
        ctx.budget_seconds = min(ctx.budget_seconds, ROUND_CPU_SECONDS)
        return job_result(**self._driller().run_round(ctx))

    def train(self, ctx: JobContext) -> dict:
        ctx.progress("training the confidence model", None)
        return job_result(**calibrate(self.calibrators, self.config, self.memory(), cancel=ctx.cancel))

    def close(self) -> None:
        if self.driller is not None:
            self.driller.engine.close()
        if self.green is not None:
            self.green.close()
