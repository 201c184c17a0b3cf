// Pure: VS Code settings -> the server's initializationOptions (docs/contracts.md "Settings").
// No `vscode` import, so unit tests run under plain node.

/** Settings the server reads, as dotted keys below `rusta.`; the wire tree nests them. */
export const SERVER_SETTINGS = [
  "memory.uri",
  "memory.storageOptions",
  "team.uri",
  "team.storageOptions",
  "team.author",
  "model.embedding",
  "model.generator",
  "device",
  "abstain.targetPrecision",
  "heartbeat.enabled",
  "heartbeat.idleSeconds",
  "heartbeat.cpuSecondsPerHour",
  "cargo.checkArgs",
  "cargo.targetDir",
  "cargo.enable",
  "cargo.shadowMaxGigabytes",
] as const;

/** Settings that change how the client starts the server: a change restarts it. */
export const CLIENT_SETTINGS = ["server.path", "server.pythonPath"] as const;

export type Options = { [key: string]: unknown };

/** What an untrusted workspace may not do, whatever its settings say (VS Code's limited mode). */
export const UNTRUSTED_OVERRIDES: Partial<Record<(typeof SERVER_SETTINGS)[number], unknown>> = {
  "cargo.enable": false,
  "heartbeat.enabled": false,
};

/**
 * Builds the nested camelCase tree, e.g. {"memory": {"uri": ...}, "abstain": {"targetPrecision": 0.95}}.
 * `read` returns the value of `rusta.<key>`; undefined values are left out so the server keeps its defaults.
 * In a workspace that is not trusted, cargo (build.rs, proc macros) and the heartbeat are off.
 */
export function toServerOptions(read: (key: string) => unknown, trusted = true): Options {
  const options: Options = {};
  for (const key of SERVER_SETTINGS) {
    const value = !trusted && key in UNTRUSTED_OVERRIDES ? UNTRUSTED_OVERRIDES[key] : read(key);
    if (value === undefined || value === null) {
      continue;
    }
    const parts = key.split(".");
    let node = options;
    for (const part of parts.slice(0, -1)) {
      node = (node[part] ??= {}) as Options;
    }
    node[parts[parts.length - 1]] = value;
  }
  return options;
}

/** Whether a configuration change touches one of the given `rusta.` keys. */
export function touches(affects: (section: string) => boolean, keys: readonly string[]): boolean {
  return keys.some((key) => affects(`rusta.${key}`));
}

/** The options as they may be logged: storage options may hold credentials, so only their keys show. */
export function redacted(options: Options): Options {
  const copy: Options = {};
  for (const [key, value] of Object.entries(options)) {
    if (key === "storageOptions" && value && typeof value === "object") {
      copy[key] = Object.fromEntries(Object.keys(value as object).map((name) => [name, "***"]));
    } else if (value && typeof value === "object" && !Array.isArray(value)) {
      copy[key] = redacted(value as Options);
    } else {
      copy[key] = value;
    }
  }
  return copy;
}
