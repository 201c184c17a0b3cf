// Workspace Trust end to end: in a folder VS Code does not trust, Rusta runs no cargo, which would
// run the crate's build.rs (the test plants one that writes a marker file); once the user trusts
// the folder, cargo runs. A separate code-server: the main e2e runs with Workspace Trust off.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { Editor, Fixture, makeFixture, openEditor, required } from "./fixture";

const CODE_SERVER = required("CODE_SERVER", "code-server's entry script (editors/scripts/install-tools.sh installs it)");
const CHROMIUM = required("CHROMIUM", "the real chromium binary, e.g. /usr/lib/chromium/chromium");
const RUSTA_SERVER = required("RUSTA_SERVER", "the rusta executable, e.g. .venv/bin/rusta");
const VSIX = required("RUSTA_VSIX", "the packaged extension (npm run package)");
const OUT = required("RUSTA_E2E_OUT", "a folder for screenshots and logs");

let fixture: Fixture;
let editor: Editor;
let marker: string;

/** A build script that writes `marker` whenever cargo builds the crate. */
function plantBuildScript(workspace: string, file: string): void {
  const manifest = path.join(workspace, "Cargo.toml");
  const text = fs.readFileSync(manifest, "utf8");
  assert.ok(text.includes("[package]\n"), "examples/ledger's manifest changed: update the trust e2e");
  fs.writeFileSync(manifest, text.replace("[package]\n", '[package]\nbuild = "build.rs"\n'));
  fs.writeFileSync(
    path.join(workspace, "build.rs"),
    `fn main() {\n    std::fs::write(${JSON.stringify(file)}, "build.rs ran").unwrap();\n}\n`,
  );
}

async function waitFor(ms: number, done: () => boolean): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
  }
  return done();
}

describe("VS Code Workspace Trust with the Rusta extension", { timeout: 600_000 }, () => {
  before(async () => {
    fs.mkdirSync(OUT, { recursive: true });
    fixture = makeFixture();
    marker = path.join(fixture.tmp, "build-rs-ran");
    plantBuildScript(fixture.workspace, marker);
    editor = await openEditor({
      codeServer: CODE_SERVER, chromium: CHROMIUM, tmp: fixture.tmp, folder: fixture.workspace, untrusted: true,
      extensions: [VSIX],
      // Trusted, these settings run cargo at once: the check that warms the shadow up, and drills
      // as soon as the heartbeat may work.
      settings: {
        "rusta.heartbeat.enabled": true,
        "rusta.heartbeat.idleSeconds": 0,
        "telemetry.telemetryLevel": "off",
        "update.mode": "none",
        "extensions.autoCheckUpdates": false,
        "workbench.startupEditor": "none",
      },
      // Machine settings: a remote window (code-server is one) reads them from the machine.
      machineSettings: { "rusta.server.path": RUSTA_SERVER, "rusta.memory.uri": fixture.memory },
    });
  });

  after(async () => {
    await editor?.page.screenshot({ path: path.join(OUT, "vscode-trust-last.png") }).catch(() => undefined);
    await editor?.stop();
    fs.writeFileSync(path.join(OUT, "code-server-trust.log"), editor?.log() ?? "");
    if (fixture) {
      fs.rmSync(fixture.tmp, { recursive: true, force: true });
    }
  });

  it("in a folder not trusted, the server runs and cargo never does", async () => {
    const restricted = editor.page.locator(".statusbar-item", { hasText: "Restricted Mode" });
    await restricted.waitFor({ timeout: 60_000 });
    const started = await waitFor(120_000, () => editor.processes(`${RUSTA_SERVER} serve`).length > 0);
    assert.ok(started, "the Rusta server did not start in restricted mode");
    // Time enough for the first check and a drill, had cargo been allowed.
    await new Promise((r) => setTimeout(r, 30_000));
    assert.equal(fs.existsSync(marker), false, "cargo ran the crate's build.rs in a folder not trusted");
  });

  it("once the user trusts the folder, cargo runs", async () => {
    // The Restricted Mode item opens the Workspace Trust editor; its Trust button trusts the folder.
    await editor.page.locator(".statusbar-item", { hasText: "Restricted Mode" }).click();
    await editor.page.getByRole("button", { name: "Trust", exact: true }).first().click();
    const ran = await waitFor(180_000, () => fs.existsSync(marker));
    assert.ok(ran, "cargo never ran after the folder was trusted");
  });
});
