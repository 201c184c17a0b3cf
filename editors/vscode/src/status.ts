// Pure: what the language status item shows, folded from $/progress and rusta/heartbeat.

export interface StatusView {
  text: string;
  detail: string;
  busy: boolean;
  error: boolean;
}

/** LSP WorkDoneProgress values (begin/report/end). */
export interface ProgressValue {
  kind: "begin" | "report" | "end";
  title?: string;
  message?: string;
  percentage?: number;
}

/** The `rusta/heartbeat` notification (heartbeat/loop.py status()); extra fields are ignored. */
export interface HeartbeatParams {
  state?: string;
  job?: string | null;
  progress?: { message?: string | null; percentage?: number | null } | null;
  budgetLeftSeconds?: number;
  lastJob?: string | null;
  /** Latest result per job; a failed job's result carries "error". */
  results?: Record<string, { error?: string } | null>;
}

/** The `rusta/status` notification (server/features/fixes.py send_status). */
export interface ServerStatus {
  cargoEnabled?: boolean;
  /** The companion the client reported to the server ("rust-analyzer"), or null. */
  companion?: string | null;
  /** Who checks the workspace now: "rusta", the companion, "cargo" (the user's build lock), or null. */
  checking?: string | null;
  lastCheck?: string | null;
  shadowBytes?: number | null;
}

const BUSY_STATES = new Set(["running"]);

/** 1.2 GB, 340 MB: the shadow's size for people. */
export function humanBytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.round(bytes / 1e6)} MB`;
}

/** The lines the status item adds about rust-analyzer, cargo and the shadow. */
export function coexistDetails(server: ServerStatus, companionFound: boolean | undefined, trusted: boolean): string[] {
  const lines: string[] = [];
  if (companionFound !== undefined) {
    lines.push(companionFound ? "rust-analyzer found beside Rusta" : "rust-analyzer not found");
  }
  const who = server.checking === "rusta" ? "Rusta" : server.checking;
  lines.push(`checking now: ${who ?? "nobody"}`);
  if (!trusted) {
    lines.push("untrusted workspace: limited mode, no cargo, no heartbeat (explanations work)");
  } else if (server.cargoEnabled === false) {
    lines.push("cargo.enable is off: no verified fixes");
  }
  if (typeof server.shadowBytes === "number") {
    lines.push(`shadow workspace ${humanBytes(server.shadowBytes)}`);
  }
  if (server.lastCheck) {
    lines.push(`last check: ${server.lastCheck}`);
  }
  return lines;
}

/** The error of the heartbeat's last job, when it failed and nothing runs now. */
export function heartbeatError(beat: HeartbeatParams): string | undefined {
  if (beat.job || !beat.lastJob) {
    return undefined;
  }
  const error = beat.results?.[beat.lastJob]?.error;
  return error ? `heartbeat job ${beat.lastJob} failed: ${error}` : undefined;
}

interface Job {
  title: string;
  message?: string;
  percentage?: number;
}

export class StatusModel {
  private jobs = new Map<string, Job>();
  private heartbeat: HeartbeatParams = {};
  private failure?: string;
  private server = "starting";
  private serverState: ServerStatus = {};
  private companionFound?: boolean;
  private trusted = true;

  statusChanged(params: ServerStatus): void {
    this.serverState = params ?? {};
  }

  companion(found: boolean): void {
    this.companionFound = found;
  }

  trust(trusted: boolean): void {
    this.trusted = trusted;
  }

  started(source: string): void {
    this.server = `running (${source})`;
    this.failure = undefined;
  }

  failed(reason: string): void {
    this.failure = reason;
    this.jobs.clear();
  }

  progress(token: string | number, value: ProgressValue): void {
    const key = String(token);
    if (value.kind === "end") {
      this.jobs.delete(key);
      return;
    }
    const job = this.jobs.get(key) ?? { title: value.title ?? "working" };
    job.message = value.message ?? job.message;
    job.percentage = value.percentage ?? job.percentage;
    this.jobs.set(key, job);
  }

  heartbeatChanged(params: HeartbeatParams): void {
    this.heartbeat = params ?? {};
  }

  view(): StatusView {
    if (this.failure) {
      return { text: "Rusta: error", detail: this.failure, busy: false, error: true };
    }
    const beat = this.heartbeat;
    const heartbeatBusy = BUSY_STATES.has(beat.state ?? "") || Boolean(beat.job);
    const details = [`server ${this.server}`];
    if (beat.state) {
      const budget = beat.budgetLeftSeconds === undefined ? "" : `, budget left ${Math.round(beat.budgetLeftSeconds)} s`;
      details.push(`heartbeat ${beat.state}${beat.job ? `: ${beat.job}` : ""}${budget}`);
    }
    details.push(...coexistDetails(this.serverState, this.companionFound, this.trusted));
    const failure = heartbeatError(beat);
    if (failure) {
      return { text: "Rusta: heartbeat error", detail: failure, busy: false, error: true };
    }
    const [first] = this.jobs.values();
    if (first) {
      // 0% is what a job without a measure of its progress reports: say nothing then.
      const pct = first.percentage ? ` ${Math.round(first.percentage)}%` : "";
      const more = this.jobs.size > 1 ? ` (+${this.jobs.size - 1})` : "";
      const title = /^Rusta\b/.test(first.title) ? first.title : `Rusta: ${first.title}`;
      details.unshift([first.title, first.message].filter(Boolean).join(": "));
      return { text: `${title}${pct}${more}`, detail: details.join(" · "), busy: true, error: false };
    }
    const other = this.serverState.checking;
    if (other && other !== "rusta") {
      // Rusta's check waits for rust-analyzer's (or the user's cargo) to finish.
      return { text: `Rusta: waiting for ${other}`, detail: details.join(" · "), busy: true, error: false };
    }
    if (heartbeatBusy) {
      const pct = typeof beat.progress?.percentage === "number" ? ` ${Math.round(beat.progress.percentage)}%` : "";
      return { text: `Rusta: ${beat.job ?? beat.state}${pct}`, detail: details.join(" · "), busy: true, error: false };
    }
    return { text: "Rusta: idle", detail: details.join(" · "), busy: false, error: false };
  }
}
