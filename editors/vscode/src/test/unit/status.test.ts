import assert from "node:assert/strict";
import { test } from "node:test";
import { RestartBudget } from "../../restarts";
import { StatusModel, coexistDetails, humanBytes } from "../../status";

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

test("the item says whether rust-analyzer was found and who checks now", () => {
  const model = new StatusModel();
  model.started("PATH");
  model.companion(true);
  model.statusChanged({ cargoEnabled: true, companion: "rust-analyzer", checking: "rust-analyzer", shadowBytes: 1_234_000_000 });
  let view = model.view();
  assert.equal(view.text, "Rusta: waiting for rust-analyzer");
  assert.equal(view.busy, true);
  assert.match(view.detail, /rust-analyzer found beside Rusta/);
  assert.match(view.detail, /checking now: rust-analyzer/);
  assert.match(view.detail, /shadow workspace 1\.2 GB/);
  model.statusChanged({ cargoEnabled: true, checking: "rusta", lastCheck: "1 error(s), 1 fixed" });
  assert.match(model.view().detail, /checking now: Rusta/);
  model.statusChanged({ cargoEnabled: true, checking: null, lastCheck: "skipped: rust-analyzer checked this save and found no error" });
  view = model.view();
  assert.equal(view.text, "Rusta: idle");
  assert.match(view.detail, /checking now: nobody/);
  assert.match(view.detail, /last check: skipped/);
});

test("limited mode and a missing rust-analyzer are said", () => {
  assert.deepEqual(coexistDetails({ cargoEnabled: false, shadowBytes: 0 }, false, false), [
    "rust-analyzer not found",
    "checking now: nobody",
    "untrusted workspace: limited mode, no cargo, no heartbeat (explanations work)",
    "shadow workspace 0 MB",
  ]);
  assert.equal(humanBytes(340_000_000), "340 MB");
});

test("a server that fails to initialise and closes counts as one crash", () => {
  const budget = new RestartBudget(1, 60_000);
  const first = {};
  assert.equal(budget.crashed(first, 0), "restart");
  assert.equal(budget.crashed(first, 10), "handled", "its closed connection after the failed initialize");
  assert.equal(budget.handled(first), true);
  const second = {};
  assert.equal(budget.handled(second), false);
  assert.equal(budget.crashed(second, 20), "give up");
  assert.equal(budget.recentCrashes, 2);
});
