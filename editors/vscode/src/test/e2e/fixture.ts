// Shared pieces of the end-to-end test: required tools, the example crate, a capability probe
// of the real server, and cargo as the judge of "the file compiles".
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
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
