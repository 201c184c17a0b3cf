// Pure: a crash budget, so a server that dies on start is not restarted forever.

/** What to do about a server that stopped: start another, give up, or nothing (already handled). */
export type CrashVerdict = "restart" | "give up" | "handled";

export class RestartBudget {
  private crashes: number[] = [];
  private readonly seen = new WeakSet<object>();

  constructor(
    readonly maxRestarts = 3,
    readonly windowMs = 3 * 60 * 1000,
  ) {}

  /** Records a crash at `now`; true when another restart is allowed. */
  allowRestart(now: number): boolean {
    this.crashes = this.crashes.filter((t) => now - t < this.windowMs);
    this.crashes.push(now);
    return this.crashes.length <= this.maxRestarts;
  }

  /**
   * One server's crash, however it shows: a failed initialize and the closed connection of the
   * same server (`server`: any object standing for that one start) count once.
   */
  crashed(server: object, now: number): CrashVerdict {
    if (this.seen.has(server)) {
      return "handled";
    }
    this.seen.add(server);
    return this.allowRestart(now) ? "restart" : "give up";
  }

  /** Whether `server`'s stop was already counted. */
  handled(server: object): boolean {
    return this.seen.has(server);
  }

  /** A manual restart starts with a full budget. */
  reset(): void {
    this.crashes = [];
  }

  get recentCrashes(): number {
    return this.crashes.length;
  }
}
