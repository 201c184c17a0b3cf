// Shared pieces of the end-to-end test: required tools, the example crate, a capability probe
// of the real server, and cargo as the judge of "the file compiles".
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { BrowserContext, chromium, Page } from "playwright-core";
import {
  createProtocolConnection,
  ErrorCodes,
  InitializeRequest,
  ResponseError,
  ServerCapabilities,
  StreamMessageReader,
  StreamMessageWriter,
} from "vscode-languageserver-protocol/node";

export const REPO = path.resolve(__dirname, "../../../../..");

/** An environment variable the run script must set; a missing tool fails the test, never skips it. */
export function required(name: string, what: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: ${what}. Run editors/run-tests.sh, which installs and exports it.`);
  }
  if (name !== "RUSTA_E2E_OUT" && !fs.existsSync(value)) {
    throw new Error(`${name}=${value} does not exist: ${what}.`);
  }
  return value;
}

/** RUSTA_E2E_STRICT=1: a feature the server does not advertise fails instead of skipping. */
export const STRICT = process.env.RUSTA_E2E_STRICT === "1";

export interface Fixture {
  tmp: string;
  workspace: string;
  memory: string;
  /** Settings the test sends; a low target precision so a verified fix is offered, not abstained. */
  settings: Record<string, unknown>;
}

/** A private copy of examples/ledger, so edits and cargo runs never touch the repository. */
export function makeFixture(): Fixture {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rusta-e2e-"));
  const workspace = path.join(tmp, "ledger");
  fs.cpSync(path.join(REPO, "examples", "ledger"), workspace, {
    recursive: true,
    filter: (src) => path.basename(src) !== "target",
  });
  const memory = path.join(tmp, "memory");
  return {
    tmp,
    workspace,
    memory,
    settings: {
      memory: { uri: memory },
      abstain: { targetPrecision: 0.5 },
      heartbeat: { enabled: false },
    },
  };
}

/** 1-based line and column of `needle` in a file, optionally at an offset inside the needle. */
export function locate(file: string, needle: string, offset = 0): { line: number; column: number } {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  const index = lines.findIndex((l) => l.includes(needle));
  if (index < 0) {
    throw new Error(`"${needle}" not found in ${file}: the fixture changed; update the e2e test`);
  }
  return { line: index + 1, column: lines[index].indexOf(needle) + offset + 1 };
}

export interface Probe {
  capabilities: ServerCapabilities;
  /** Whether the server answers the custom `rusta/explain` request (not MethodNotFound). */
  explains: boolean;
}

/** Starts the real server once over stdio to read what it advertises. */
export async function probeServer(server: string, fixture: Fixture): Promise<Probe> {
  const child = spawn(server, ["serve"], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const connection = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  connection.listen();
  const timeout = setTimeout(() => child.kill(), 60_000);
  try {
    const rootUri = pathToFileURL(fixture.workspace).toString();
    const result = await connection.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri,
      workspaceFolders: [{ uri: rootUri, name: "ledger" }],
      capabilities: {},
      // Its own memory: a probe cut short must not leave a half-built index for the editor.
      initializationOptions: { ...fixture.settings, memory: { uri: path.join(fixture.tmp, "probe-memory") } },
    });
    await connection.sendNotification("initialized", {});
    const file = pathToFileURL(path.join(fixture.workspace, "src", "lib.rs")).toString();
    let explains = true;
    try {
      await connection.sendRequest("rusta/explain", { textDocument: { uri: file }, position: { line: 0, character: 0 } });
    } catch (err) {
      explains = !(err instanceof ResponseError && err.code === ErrorCodes.MethodNotFound);
    }
    await connection.sendRequest("shutdown");
    await connection.sendNotification("exit");
    return { capabilities: result.capabilities, explains };
  } catch (err) {
    throw new Error(`the server (${server} serve) did not initialize: ${String(err)}\n${stderr.slice(-2000)}`);
  } finally {
    clearTimeout(timeout);
    connection.dispose();
    child.kill();
  }
}

/** `cargo check` in the fixture with a private target dir; returns rustc's output on failure. */
export function cargoCheck(workspace: string, targetDir: string): { ok: boolean; output: string } {
  const run = spawnSync("cargo", ["check", "--offline", "--quiet"], {
    cwd: workspace,
    env: { ...process.env, CARGO_TARGET_DIR: targetDir },
    encoding: "utf8",
    timeout: 300_000,
  });
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A stand-in for the rust-analyzer extension (the marketplace is out of reach of the tests): it
 * has the real extension's id, `rust-lang.rust-analyzer`, and does what it does for this test —
 * starts the rust-analyzer binary as a language client for Rust files, its flycheck on save into
 * the workspace's `target/`. Packaged with vsce into `<tmp>/rust-analyzer.vsix`; returns its path.
 */
export function makeRustAnalyzerExtension(tmp: string, rustAnalyzer: string, rustSrc: string): string {
  const folder = path.join(tmp, "rust-analyzer-extension");
  fs.mkdirSync(folder, { recursive: true });
  const manifest = {
    name: "rust-analyzer",
    publisher: "rust-lang",
    displayName: "rust-analyzer (test stand-in)",
    description: "Starts rust-analyzer beside Rusta in the end-to-end test",
    version: "0.0.1",
    license: "MIT",
    engines: { vscode: "^1.82.0" },
    main: "./extension.js",
    activationEvents: ["onLanguage:rust", "workspaceContains:**/Cargo.toml"],
  };
  fs.writeFileSync(path.join(folder, "package.json"), JSON.stringify(manifest, null, 2));
  fs.writeFileSync(path.join(folder, "README.md"), "rust-analyzer, started for Rusta's end-to-end test.\n");
  // The language client Rusta's extension ships with, loaded from its node_modules.
  const languageClient = path.join(REPO, "editors", "vscode", "node_modules", "vscode-languageclient", "node");
  fs.writeFileSync(
    path.join(folder, "extension.js"),
    `const { LanguageClient } = require(${JSON.stringify(languageClient)});
let client;
exports.activate = async () => {
  client = new LanguageClient("rust-analyzer", "rust-analyzer",
    { command: ${JSON.stringify(rustAnalyzer)}, options: { env: { ...process.env, RUST_SRC_PATH: ${JSON.stringify(rustSrc)} } } },
    { documentSelector: [{ scheme: "file", language: "rust" }] });
  await client.start();
};
exports.deactivate = () => client && client.stop();
`,
  );
  const vsix = path.join(tmp, "rust-analyzer.vsix");
  const vsce = path.join(REPO, "editors", "vscode", "node_modules", ".bin", "vsce");
  const run = spawnSync(vsce, ["package", "--allow-missing-repository", "--skip-license", "--out", vsix], {
    cwd: folder,
    encoding: "utf8",
    timeout: 120_000,
  });
  if (run.status !== 0) {
    throw new Error(`vsce could not package the rust-analyzer stand-in:\n${run.stdout}${run.stderr}`);
  }
  return vsix;
}

/** SIGTERM to the child's process group, SIGKILL after 10 s. */
async function stopGroup(child: ChildProcess | undefined): Promise<void> {
  if (!child?.pid || child.exitCode !== null) {
    return;
  }
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // the group is gone
    }
  };
  const exited = new Promise((resolve) => child.once("exit", resolve));
  signal("SIGTERM");
  const timer = setTimeout(() => signal("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

async function waitForHttp(url: string, ms: number, log: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) {
        return;
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`code-server did not answer ${url} within ${ms} ms:\n${log().slice(-3000)}`);
}

export interface Editor {
  codeServer: ChildProcess;
  browser: BrowserContext;
  page: Page;
  /** code-server's output so far. */
  log: () => string;
  /** The processes code-server's extension host started (same process group) whose command line holds `command`. */
  processes: (command: string) => number[];
  /** Closes the browser and stops code-server with everything it started (the servers). */
  stop: () => Promise<void>;
}

export interface EditorOptions {
  codeServer: string;
  chromium: string;
  tmp: string;
  folder: string;
  /** .vsix files to install. */
  extensions: string[];
  settings: Record<string, unknown>;
  machineSettings: Record<string, unknown>;
  /** Workspace Trust as users have it: on, and `folder` not trusted (restricted mode) until the
   * test trusts it. Off by default: every folder is trusted. */
  untrusted?: boolean;
}

/** code-server with `extensions` installed, showing `folder` in a headless chromium. */
export async function openEditor(options: EditorOptions): Promise<Editor> {
  const { tmp } = options;
  const userDir = path.join(tmp, "user-data");
  const extensionsDir = path.join(tmp, "extensions");
  const config = path.join(tmp, "code-server.yaml");
  const port = await freePort();
  fs.writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const trust = options.untrusted
    ? { "security.workspace.trust.enabled": true, "security.workspace.trust.startupPrompt": "never" }
    : { "security.workspace.trust.enabled": false };
  for (const [folder, settings] of [["User", { ...options.settings, ...trust }], ["Machine", options.machineSettings]] as const) {
    fs.mkdirSync(path.join(userDir, folder), { recursive: true });
    fs.writeFileSync(path.join(userDir, folder, "settings.json"), JSON.stringify(settings, null, 2));
  }
  const common = ["--config", config, "--user-data-dir", userDir, "--extensions-dir", extensionsDir];
  for (const vsix of options.extensions) {
    const install = spawnSync(process.execPath, [options.codeServer, ...common, "--install-extension", vsix], {
      encoding: "utf8",
      timeout: 120_000,
    });
    if (install.status !== 0) {
      throw new Error(`code-server --install-extension ${vsix} failed:\n${install.stdout}${install.stderr}`);
    }
  }
  let log = "";
  const codeServer = spawn(
    process.execPath,
    [
      options.codeServer,
      ...common,
      "--auth", "none",
      "--bind-addr", `127.0.0.1:${port}`,
      "--disable-telemetry",
      "--disable-update-check",
      ...(options.untrusted ? [] : ["--disable-workspace-trust"]),
      options.folder,
    ],
    // Its own process group: the end of the test stops code-server with the servers it started.
    { stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  codeServer.stdout?.on("data", (chunk) => (log += chunk));
  codeServer.stderr?.on("data", (chunk) => (log += chunk));
  await waitForHttp(`http://127.0.0.1:${port}/healthz`, 60_000, () => log);

  const browser = await chromium.launchPersistentContext(path.join(tmp, "chromium"), {
    executablePath: options.chromium,
    headless: true,
    viewport: { width: 1200, height: 720 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(options.folder)}`);
  await page.locator(".monaco-workbench").waitFor({ timeout: 120_000 });
  return {
    codeServer,
    browser,
    page,
    log: () => log,
    processes: (command: string) =>
      spawnSync("ps", ["-eo", "pid=,pgid=,args="], { encoding: "utf8" })
        .stdout.split("\n")
        .map((line) => line.trim().split(/\s+/))
        .filter(([, pgid, ...args]) => Number(pgid) === codeServer.pid && args.join(" ").includes(command))
        .map(([pid]) => Number(pid)),
    stop: async () => {
      await browser.close().catch(() => undefined);
      await stopGroup(codeServer);
    },
  };
}
