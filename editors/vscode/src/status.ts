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

const BUSY_STATES = new Set(["running"]);

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
    if (heartbeatBusy) {
      const pct = typeof beat.progress?.percentage === "number" ? ` ${Math.round(beat.progress.percentage)}%` : "";
      return { text: `Rusta: ${beat.job ?? beat.state}${pct}`, detail: details.join(" · "), busy: true, error: false };
    }
    return { text: "Rusta: idle", detail: details.join(" · "), busy: false, error: false };
  }
}
