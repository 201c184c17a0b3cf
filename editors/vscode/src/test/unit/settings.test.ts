import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { CLIENT_SETTINGS, SERVER_SETTINGS, redacted, toServerOptions, touches } from "../../settings";

const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, "../../../package.json"), "utf8"));
const properties: Record<string, { default: unknown }> = manifest.contributes.configuration.properties;

function fromDefaults(key: string): unknown {
  return properties[`rusta.${key}`]?.default;
}

test("defaults become the nested camelCase tree the server reads", () => {
  assert.deepEqual(toServerOptions(fromDefaults), {
    memory: { uri: "", storageOptions: {} },
    team: { uri: "", storageOptions: {}, author: "" },
    model: { embedding: "", generator: "" },
    device: "auto",
    abstain: { targetPrecision: 0.95 },
    heartbeat: { enabled: true, idleSeconds: 20, cpuSecondsPerHour: 300 },
    cargo: { checkArgs: ["check", "--workspace", "--all-targets"], targetDir: "", enable: true, shadowMaxGigabytes: 10 },
  });
});

test("an untrusted workspace runs no cargo and no heartbeat, whatever its settings say", () => {
  const user: Record<string, unknown> = { "cargo.enable": true, "heartbeat.enabled": true, "memory.uri": "/m" };
  const options = toServerOptions((key) => user[key], false);
  assert.deepEqual(options, { memory: { uri: "/m" }, heartbeat: { enabled: false }, cargo: { enable: false } });
  assert.deepEqual(toServerOptions((key) => user[key], true), {
    memory: { uri: "/m" },
    heartbeat: { enabled: true },
    cargo: { enable: true },
  });
});

test("package.json restricts the settings that could run code in an untrusted workspace", () => {
  const restricted: string[] = manifest.capabilities.untrustedWorkspaces.restrictedConfigurations;
  assert.equal(manifest.capabilities.untrustedWorkspaces.supported, "limited");
  for (const key of ["rusta.server.path", "rusta.server.pythonPath", "rusta.cargo.enable", "rusta.cargo.checkArgs"]) {
    assert.ok(restricted.includes(key), `${key} is not restricted`);
  }
});

test("user values replace defaults and unset values are left out", () => {
  const user: Record<string, unknown> = { "memory.uri": "s3://team/memory", "abstain.targetPrecision": 0.9, device: "cuda" };
  assert.deepEqual(toServerOptions((key) => user[key]), {
    memory: { uri: "s3://team/memory" },
    device: "cuda",
    abstain: { targetPrecision: 0.9 },
  });
});

test("every setting in package.json is either sent to the server or used by the client", () => {
  const declared = Object.keys(properties).map((key) => key.replace(/^rusta\./, ""));
  const known = new Set<string>([...SERVER_SETTINGS, ...CLIENT_SETTINGS, "trace.server"]);
  assert.deepEqual(declared.filter((key) => !known.has(key)), []);
  for (const key of SERVER_SETTINGS) {
    assert.ok(properties[`rusta.${key}`], `rusta.${key} is not declared in package.json`);
  }
});

test("touches checks the rusta. prefixed section", () => {
  const changed = new Set(["rusta.server.path"]);
  assert.equal(touches((s) => changed.has(s), CLIENT_SETTINGS), true);
  assert.equal(touches((s) => changed.has(s), SERVER_SETTINGS), false);
});

test("storage options are logged by key only", () => {
  const options = toServerOptions((key) =>
    ({ "memory.uri": "s3://team/memory", "memory.storageOptions": { endpoint: "http://s3.local", aws_secret_access_key: "x" } })[key],
  );
  assert.deepEqual(redacted(options), {
    memory: { uri: "s3://team/memory", storageOptions: { endpoint: "***", aws_secret_access_key: "***" } },
  });
  assert.equal((options.memory as { storageOptions: { aws_secret_access_key: string } }).storageOptions.aws_secret_access_key, "x");
});
