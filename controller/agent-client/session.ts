// One agent process per host for a whole run. Starting the agent costs a
// session, a shell and a node start on the host (60-100 ms on a lab host, more
// on a loaded one), and a rolling restart used to pay it for every step: the
// lock, the observation, each file written, each stop and start, the release.
// Here the process is started once and fed one batch at a time, each written
// only when the caller asks for it, so the executor still journals a step
// before anything of it reaches the host.
//
// The agent answers a batch after a failed request with "skipped" for the rest
// of its stdin, so a session that answered a failure is spent: later batches
// go to a fresh process. The agent numbers the requests it reads from its
// first line on, so response indexes count across the whole session.

import { PassThrough } from "node:stream";
import { type AgentResponse, type Hello, type ParsedRequest, isFailure } from "../../common/protocol.js";
import type { Connection, RunResult } from "../connection/types.js";
import { timeoutError } from "../connection/quote.js";
import { AGENT_BUG_HINT, type AgentFailure, agentFailure, readHello, readResponse } from "./decode.js";
import { tooOldNode, type AgentHandle } from "./client.js";

/** Thrown by a batch that reached a spent session before anything of it was sent: the caller may take a fresh one. */
export class SpentSession extends Error {}

const DEFAULT_BATCH_TIMEOUT_MS = 600_000;

export class AgentSession {
  private readonly stdin = new PassThrough();
  private readonly lines: string[] = [];
  private partial = "";
  private wake?: () => void;
  /** How the process ended: its result, or why the connection gave it up. */
  private ended?: { result: RunResult } | { error: unknown };
  private turn: Promise<unknown> = Promise.resolve();
  private sent = 0;
  private spentBy?: string;
  hello?: Hello;

  private constructor(
    private readonly conn: Connection,
    readonly agent: Pick<AgentHandle, "remotePath" | "node">,
    private readonly become: boolean | undefined,
  ) {
    this.stdin.on("error", () => undefined);
    conn.run([agent.node, agent.remotePath], { stdin: this.stdin, become, onStdout: (chunk) => this.take(chunk) }).then(
      (result) => this.finish({ result }),
      (error: unknown) => this.finish({ error }),
    );
  }

  /**
   * Starts the agent and waits for its hello, so nothing is sent to an agent
   * whose protocol or node is wrong. With `mustStart` false, undefined (nothing
   * sent, nothing changed) when it printed nothing at all: no bundle there yet,
   * or no node, which ensureAgent then says precisely.
   */
  static async open(
    conn: Connection,
    agent: Pick<AgentHandle, "remotePath" | "node">,
    opts: { become?: boolean; mustStart: boolean },
  ): Promise<AgentSession | undefined> {
    const session = new AgentSession(conn, agent, opts.become);
    const first = await session.nextLine(Date.now() + DEFAULT_BATCH_TIMEOUT_MS).catch((err: unknown) => {
      session.end();
      throw err instanceof BatchTimeout ? timeoutError(conn.host, [agent.node], DEFAULT_BATCH_TIMEOUT_MS) : err;
    });
    if (first === undefined && "error" in (session.ended ?? {})) throw (session.ended as { error: unknown }).error;
    if (first === undefined && !opts.mustStart) return undefined;
    try {
      const hello = readHello(conn.host, first, session.failure());
      const tooOld = tooOldNode(conn.host, agent.node, hello.node);
      if (tooOld) throw tooOld;
      session.hello = hello;
      return session;
    } catch (err) {
      session.end();
      throw err;
    }
  }

  /** Why later batches must go to another process, once one cannot be sent here. */
  get spent(): string | undefined {
    return this.spentBy ?? (this.ended ? "the agent process ended" : undefined);
  }

  /** One batch, answered in request order, failures included; batches run one after another. */
  request(requests: readonly ParsedRequest[], timeoutMs = DEFAULT_BATCH_TIMEOUT_MS): Promise<AgentResponse[]> {
    const mine = this.turn.then(() => this.exchange(requests, timeoutMs));
    this.turn = mine.catch(() => undefined);
    return mine;
  }

  /** Closes the agent's stdin: it finishes what it was asked and exits. */
  end(): void {
    this.spentBy ??= "closed";
    this.stdin.end();
  }

  private async exchange(requests: readonly ParsedRequest[], timeoutMs: number): Promise<AgentResponse[]> {
    if (this.spent) throw new SpentSession(this.spent);
    const base = this.sent;
    this.sent += requests.length;
    this.stdin.write(requests.map((r) => `${JSON.stringify(r)}\n`).join(""));
    const deadline = Date.now() + timeoutMs;
    const responses: AgentResponse[] = [];
    try {
      for (const [i, request] of requests.entries()) {
        const line = await this.nextLine(deadline);
        if (line === undefined) {
          if (this.ended && "error" in this.ended) throw this.ended.error;
          throw this.failure()(`stopped after ${responses.length} of ${requests.length} responses`, AGENT_BUG_HINT);
        }
        responses.push(readResponse(line, base + i, request.op, this.failure()));
      }
    } catch (err) {
      this.spentBy ??= "a batch went wrong";
      if (err instanceof BatchTimeout) {
        await this.kill();
        throw timeoutError(this.conn.host, [this.agent.node], timeoutMs);
      }
      this.end();
      throw err;
    }
    // What follows a failure in the agent's stdin is skipped unread: this process has done its work.
    if (responses.some((r) => isFailure(r.result))) this.end();
    return responses.map((r) => ({ ...r, index: r.index - base }));
  }

  /** The next complete line; undefined once the process has ended and every line it printed was read. */
  private async nextLine(deadline: number): Promise<string | undefined> {
    for (;;) {
      const line = this.lines.shift();
      if (line !== undefined) return line;
      if (this.ended) return undefined;
      const woken = new Promise<void>((resolve) => (this.wake = resolve));
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), Math.max(0, deadline - Date.now()))));
      const why = await Promise.race([woken, late]).finally(() => clearTimeout(timer));
      if (why === "late") throw new BatchTimeout();
    }
  }

  private take(chunk: Buffer): void {
    const parts = (this.partial + chunk.toString("utf8")).split("\n");
    this.partial = parts.pop() ?? "";
    this.lines.push(...parts.filter((l) => l.trim() !== ""));
    this.wake?.();
  }

  private finish(ended: NonNullable<AgentSession["ended"]>): void {
    if (this.partial.trim() !== "") this.lines.push(this.partial);
    this.partial = "";
    this.ended = ended;
    this.stdin.end();
    this.wake?.();
  }

  private failure(): AgentFailure {
    return agentFailure(this.conn.host, this.ended && "result" in this.ended ? this.ended.result : undefined);
  }

  /**
   * A batch that overran its time: the agent is killed as the `timeout`
   * wrapper of a one-batch process would be, by the pid its hello gave, and
   * only while that pid still runs this agent file (it may have exited since).
   */
  private async kill(): Promise<void> {
    this.end();
    const pid = this.hello?.pid;
    if (pid === undefined || this.ended) return;
    const script = 'grep -qF -- "$2" "/proc/$1/cmdline" 2>/dev/null && kill -KILL "$1"';
    await this.conn.run(["sh", "-c", script, "sh", String(pid), this.agent.remotePath], { become: this.become, timeoutMs: 10_000 })
      .catch(() => undefined);
  }
}

class BatchTimeout extends Error {}

