// One connection per host for a whole run, opened on first use, plus bounded
// fan-out over hosts. A host that cannot be reached becomes that host's result,
// so one dead machine never aborts the work on the others.

import type { Connection } from "./types.js";

/** Counting semaphore: at most `limit` holders at a time, FIFO. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore limit must be >= 1, got ${limit}`);
  }

  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      // Hand the slot straight to the next waiter so the count never dips and lets a newcomer jump the queue.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

export type HostResult<T> =
  | { host: string; ok: true; value: T }
  | { host: string; ok: false; error: unknown };

export type OpenConnection = (host: string) => Promise<Connection>;

export class ConnectionPool {
  private readonly connections = new Map<string, Promise<Connection>>();

  constructor(private readonly open: OpenConnection) {}

  /** The host's connection; concurrent callers share one pending connect. */
  get(host: string): Promise<Connection> {
    let pending = this.connections.get(host);
    if (!pending) {
      pending = this.open(host);
      this.connections.set(host, pending);
      // A failed connect is not cached: the next get() tries again.
      pending.catch(() => {
        if (this.connections.get(host) === pending) this.connections.delete(host);
      });
    }
    return pending;
  }

  /** Drops a host's connection (lost with its host) so that the next get() connects afresh. */
  forget(host: string): void {
    const pending = this.connections.get(host);
    this.connections.delete(host);
    pending?.then((c) => c.close()).catch(() => {});
  }

  /**
   * Runs fn for every host, at most `limit` hosts at once. Results come back in
   * the order of `hosts`; failures (connect or fn) are results, never thrown.
   */
  async forEachHost<T>(
    hosts: readonly string[],
    limit: number,
    fn: (connection: Connection, host: string) => Promise<T>,
  ): Promise<HostResult<T>[]> {
    const gate = new Semaphore(limit);
    return Promise.all(
      hosts.map((host) =>
        gate.use(async (): Promise<HostResult<T>> => {
          try {
            return { host, ok: true, value: await fn(await this.get(host), host) };
          } catch (error) {
            return { host, ok: false, error };
          }
        }),
      ),
    );
  }

  /** Closes every connection, including ones still connecting. */
  async closeAll(): Promise<void> {
    const pending = [...this.connections.values()];
    this.connections.clear();
    await Promise.allSettled(pending.map(async (p) => (await p).close()));
  }
}
