import assert from "node:assert/strict";
import { test } from "node:test";
import { RestartBudget } from "../../restarts";
import { StatusModel } from "../../status";

test("progress makes the item busy until every job ends", () => {
  const model = new StatusModel();
  model.started("PATH");
  assert.equal(model.view().text, "Rusta: idle");
  model.progress("ingest", { kind: "begin", title: "Indexing", percentage: 0 });
  model.progress("ingest", { kind: "report", message: "12/40 files", percentage: 30 });
  model.progress(7, { kind: "begin", title: "Drill" });
  let view = model.view();
  assert.equal(view.busy, true);
  assert.equal(view.text, "Rusta: Indexing 30% (+1)");
  assert.match(view.detail, /12\/40 files/);
  model.progress("ingest", { kind: "end" });
  model.progress(7, { kind: "end" });
  model.progress("beat", { kind: "begin", title: "Rusta heartbeat: drill", percentage: 0 });
  assert.equal(model.view().text, "Rusta heartbeat: drill", "no Rusta: Rusta, no 0%");
  model.progress("beat", { kind: "end" });
  view = model.view();
  assert.equal(view.busy, false);
  assert.equal(view.text, "Rusta: idle");
});

test("heartbeat states map to busy, idle and error", () => {
  const model = new StatusModel();
  model.started("PATH");
  model.heartbeatChanged({ state: "running", job: "drill", progress: { message: "E0308", percentage: 40 }, budgetLeftSeconds: 120.4 });
  assert.deepEqual(
    { ...model.view(), detail: undefined },
    { text: "Rusta: drill 40%", busy: true, error: false, detail: undefined },
  );
  assert.match(model.view().detail, /budget left 120 s/);
  for (const state of ["idle", "waiting", "over-budget", "disabled"]) {
    model.heartbeatChanged({ state, job: null, progress: null });
    assert.equal(model.view().busy, false, state);
    assert.equal(model.view().text, "Rusta: idle", state);
    assert.match(model.view().detail, new RegExp(`heartbeat ${state}`));
  }
  model.heartbeatChanged({ state: "idle", job: null, lastJob: "drill", results: { drill: { error: "OSError: cargo not found" } } });
  assert.deepEqual(model.view(), {
    text: "Rusta: heartbeat error",
    detail: "heartbeat job drill failed: OSError: cargo not found",
    busy: false,
    error: true,
  });
  model.heartbeatChanged({ state: "running", job: "reflect", lastJob: "drill", results: { drill: { error: "x" } } });
  assert.equal(model.view().error, false, "a new job runs: the old failure is history");
});

test("a failure wins until the server starts again", () => {
  const model = new StatusModel();
  model.progress("t", { kind: "begin", title: "Indexing" });
  model.failed("server crashed");
  assert.equal(model.view().error, true);
  assert.equal(model.view().busy, false);
  model.started("PATH");
  assert.equal(model.view().error, false);
});

test("restarts are bounded within the window and reset by hand", () => {
  const budget = new RestartBudget(3, 60_000);
  assert.deepEqual([0, 1000, 2000, 3000].map((t) => budget.allowRestart(t)), [true, true, true, false]);
  assert.equal(budget.allowRestart(70_000), true, "old crashes leave the window");
  budget.reset();
  assert.equal(budget.recentCrashes, 0);
});
