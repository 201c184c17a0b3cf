import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { findServer, PYTHON_SERVE_ARGS, SERVE_ARGS } from "../../discovery";

function fakeFs(executables: string[]) {
  const set = new Set(executables);
  return (file: string) => set.has(file);
}

test("rusta.server.path wins over everything", () => {
  const found = findServer({
    serverPath: "/opt/rusta/bin/rusta",
    pythonPath: "/usr/bin/python3",
    interpreter: "/venv/bin/python",
    searchPath: "/usr/bin",
    platform: "linux",
    isExecutable: fakeFs(["/opt/rusta/bin/rusta", "/usr/bin/python3", "/venv/bin/rusta", "/usr/bin/rusta"]),
  });
  assert.deepEqual(found, { ok: true, server: { command: "/opt/rusta/bin/rusta", args: SERVE_ARGS, source: "rusta.server.path" } });
});

test("rusta.server.pythonPath runs the module", () => {
  const found = findServer({ pythonPath: "/usr/bin/python3", platform: "linux", isExecutable: fakeFs(["/usr/bin/python3"]) });
  assert.ok(found.ok);
  assert.deepEqual(found.server.args, PYTHON_SERVE_ARGS);
});

test("a broken explicit setting is reported, not skipped", () => {
  const found = findServer({ serverPath: "/nope/rusta", searchPath: "/usr/bin", platform: "linux", isExecutable: fakeFs(["/usr/bin/rusta"]) });
  assert.equal(found.ok, false);
  assert.match(!found.ok ? found.message : "", /rusta\.server\.path.*\/nope\/rusta/);
});

test("the Python extension's interpreter counts only when rusta is installed beside it", () => {
  const withRusta = findServer({
    interpreter: "/venv/bin/python",
    searchPath: "/usr/bin",
    platform: "linux",
    isExecutable: fakeFs(["/venv/bin/rusta", "/usr/bin/rusta"]),
  });
  assert.ok(withRusta.ok);
  assert.equal(withRusta.server.command, "/venv/bin/rusta");

  const without = findServer({
    interpreter: "/venv/bin/python",
    searchPath: "/a:/usr/bin",
    platform: "linux",
    isExecutable: fakeFs(["/usr/bin/rusta"]),
  });
  assert.ok(without.ok);
  assert.deepEqual(without.server, { command: "/usr/bin/rusta", args: SERVE_ARGS, source: "PATH" });
});

test("nothing found gives the install command for the interpreter in use", () => {
  const found = findServer({ interpreter: "/my venv/bin/python", searchPath: "/usr/bin", platform: "linux", isExecutable: fakeFs([]) });
  assert.equal(found.ok, false);
  if (!found.ok) {
    assert.match(found.message, /not found/);
    assert.equal(found.installCommand, '"/my venv/bin/python" -m pip install rusta-lsp');
  }
});

test("Windows looks for rusta.exe with ; separators", () => {
  const found = findServer({ searchPath: "C:\\x;C:\\py\\Scripts", platform: "win32", isExecutable: fakeFs([path.join("C:\\py\\Scripts", "rusta.exe")]) });
  assert.ok(found.ok);
});

test("the default check uses the real file system", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rusta-discovery-"));
  const script = path.join(dir, "rusta");
  fs.writeFileSync(script, "#!/bin/sh\n");
  assert.equal(findServer({ searchPath: dir, platform: "linux" }).ok, false, "not executable yet");
  fs.chmodSync(script, 0o755);
  const found = findServer({ searchPath: dir, platform: "linux" });
  assert.ok(found.ok);
  assert.equal(found.server.command, script);
  fs.rmSync(dir, { recursive: true });
});
