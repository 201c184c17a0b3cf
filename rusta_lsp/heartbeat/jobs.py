"""The heartbeat's jobs for one workspace: reflect, drill, train. Each takes a JobContext."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from ..config import RustaConfig
from ..patches.confidence import OUTCOME_EVENT, Calibrator, calibrator_path, load_calibrator
from ..patches.shadow import state_dir
from .drills import TABLE as DRILLS, Driller
from .loop import Job, JobContext, job_result
from .reflection import reflect
from .training import TrainConfig, train_calibrator

ROUND_CPU_SECONDS = 60.0  # CPU seconds (ours and cargo's) one background drill round may take


def labelled_examples(memory) -> tuple[list[list[float]], list[float]]:
    """Feature rows and right/wrong labels: every verified patch of every drill, plus the
    user's feedback on offered patches when it carries the features the model saw."""
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
    return rows, labels


def calibrate(root: Path, config: RustaConfig, memory, cancel: Callable[[], bool] | None = None,
              train_config: TrainConfig | None = None) -> dict:
    """Retrain the confidence model; save it (and its threshold) only when held-out data says so."""
    folder = state_dir(Path(root), config)
    current = load_calibrator(folder)
    rows, labels = labelled_examples(memory)
    train_config = train_config or TrainConfig(device=config.device, target_precision=config.abstain.target_precision)
    if rows and len(rows[0]) != len(current.names):
        return {"trained": False, "reason": "drill features do not match the model's", "examples": len(rows)}
    x = torch.tensor(rows, dtype=torch.float64).reshape(len(rows), len(current.names))
    y = torch.tensor(labels, dtype=torch.float64)
    kept, result = train_calibrator(x, y, current.linear, train_config, cancel)
    if result.trained:
        model = Calibrator(current.names)
        model.linear = kept
        model.trained = True
        model.threshold_override = result.threshold
        model.save(calibrator_path(folder))
    summary = {**result.to_json(), "examples": len(rows), "positives": int(sum(labels))}
    memory.log_event("training", summary)
    return summary


def make_jobs(root: Path, config: RustaConfig, memory: Callable[[], object], driller: Driller | None = None,
              on_model_change: Callable[[], None] = lambda: None) -> dict[str, Job]:
    """The three jobs, bound to a workspace. `memory()` returns the writable memory when a job
    starts (the server's memory feature may open it late); `on_model_change` lets the server
    reload its patch engine's calibrator after a swap."""
    root = Path(root)
    state: dict[str, Driller | None] = {"driller": driller}

    def get_driller() -> Driller:
        if state["driller"] is None:
            state["driller"] = Driller(root, config, memory())
        return state["driller"]

    def reflect_job(ctx: JobContext) -> dict:
        ctx.progress("reflecting on the devlog", None)
        summary = reflect(memory(), root, ctx.check)
        summary.pop("stats")
        return job_result(**summary)

    def drill_job(ctx: JobContext) -> dict:
        # One round is short, so reflection and training get their turns between rounds.
        ctx.budget_seconds = min(ctx.budget_seconds, ROUND_CPU_SECONDS)
        return job_result(**get_driller().run_round(ctx))

    def train_job(ctx: JobContext) -> dict:
        ctx.progress("training the confidence model", None)
        try:
            summary = calibrate(root, config, memory(), cancel=ctx.cancel.is_set)
        except InterruptedError:
            ctx.check()
            raise
        if summary.get("trained"):
            driller_now = state["driller"]
            if driller_now is not None:
                driller_now.engine.calibrator = load_calibrator(state_dir(root, config))
            on_model_change()
        return job_result(**summary)

    return {"reflect": reflect_job, "drill": drill_job, "train": train_job}
