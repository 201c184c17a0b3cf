// Pure: where is the Rusta server? Explicit settings win, then the Python extension's interpreter
// (when it has rusta installed), then `rusta` on PATH. Never fails silently: a miss says how to install.
import * as fs from "fs";
import * as path from "path";

export interface ServerCommand {
  command: string;
  args: string[];
  /** Where the command came from, shown in logs and in the status item. */
  source: string;
}

export type Discovery =
  | { ok: true; server: ServerCommand }
  | { ok: false; message: string; installCommand: string };

export interface DiscoveryInput {
  serverPath?: string;
  pythonPath?: string;
  /** The active interpreter of the Python extension, when that extension is installed. */
  interpreter?: string;
  /** The PATH variable to search. */
  searchPath?: string;
  platform?: NodeJS.Platform;
  isExecutable?: (file: string) => boolean;
}

export const SERVE_ARGS = ["serve"];
export const PYTHON_SERVE_ARGS = ["-m", "rusta_lsp", "serve"];

export function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function scriptName(platform: NodeJS.Platform): string {
  return platform === "win32" ? "rusta.exe" : "rusta";
}

export function installCommand(python?: string): string {
  const interpreter = python ? quote(python) : "python3";
  return `${interpreter} -m pip install rusta-lsp`;
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `"${arg.replace(/"/g, '\\"')}"`;
}

export function findServer(input: DiscoveryInput): Discovery {
  const platform = input.platform ?? process.platform;
  const isExecutable = input.isExecutable ?? isExecutableFile;
  const serverPath = input.serverPath?.trim();
  const pythonPath = input.pythonPath?.trim();

  if (serverPath) {
    if (isExecutable(serverPath)) {
      return { ok: true, server: { command: serverPath, args: SERVE_ARGS, source: "rusta.server.path" } };
    }
    return {
      ok: false,
      message: `rusta.server.path is set to "${serverPath}", which is not an executable file.`,
      installCommand: installCommand(pythonPath || input.interpreter),
    };
  }
  if (pythonPath) {
    if (isExecutable(pythonPath)) {
      return {
        ok: true,
        server: { command: pythonPath, args: PYTHON_SERVE_ARGS, source: "rusta.server.pythonPath" },
      };
    }
    return {
      ok: false,
      message: `rusta.server.pythonPath is set to "${pythonPath}", which is not an executable file.`,
      installCommand: installCommand(),
    };
  }
  // The interpreter counts only when rusta is installed in its environment: its script sits beside it.
  if (input.interpreter) {
    const script = path.join(path.dirname(input.interpreter), scriptName(platform));
    if (isExecutable(script)) {
      return { ok: true, server: { command: script, args: SERVE_ARGS, source: "Python extension interpreter" } };
    }
  }
  const separator = platform === "win32" ? ";" : ":";
  for (const dir of (input.searchPath ?? "").split(separator)) {
    if (!dir) {
      continue;
    }
    const candidate = path.join(dir, scriptName(platform));
    if (isExecutable(candidate)) {
      return { ok: true, server: { command: candidate, args: SERVE_ARGS, source: "PATH" } };
    }
  }
  const where = input.interpreter
    ? `in the Python extension's interpreter (${input.interpreter}) nor on PATH`
    : "on PATH";
  return {
    ok: false,
    message: `The Rusta language server was not found ${where}.`,
    installCommand: installCommand(input.interpreter),
  };
}
