// A run's view of the hosts of one or more inventories: one SSH connection per
// host, reused for everything the run does, and one agent process per host
// that every agent operation of the run goes through. Built per run and passed
// down; closed in `finally` by the caller.
import { ensureAgent, expectSuccess, remoteAgentPath, validRequests, type AgentHandle, type EnsureAgentOptions } from "../agent-client/client.js";
import { defaultBundlePath, loadBundle, type LoadedBundle } from "../agent-client/bundle.js";
import { AgentSession, SpentSession } from "../agent-client/session.js";
import { ConnectionPool, type HostResult } from "../connection/pool.js";
import { sshConnector } from "./host-connector.js";
import type { Connection, RunOptions, RunResult } from "../connection/types.js";
import type { Inventory } from "../inventory/schema.js";
import type { FleetHost, FleetOptions } from "./types.js";
import { ControllerRuntime } from "../agent-client/runtime.js";
import { ACTING_OPS, type AgentRequest, type Fence, type OpArgsInput, type OpName, type OpResult, isFailure } from "../../common/protocol.js";

export type { FleetHost, FleetOptions };

export class Fleet {
  readonly hosts: FleetHost[];
  readonly parallel: number;
  private readonly pool: ConnectionPool;
  private readonly agents = new Map<string, Promise<AgentHandle>>();
  private readonly sessions = new Map<string, Promise<AgentSession>>();
  /** Agents started by warm() that no request has taken yet (undefined: none was on the host). */
  private readonly warming = new Map<string, Promise<AgentSession | undefined>>();
  private bundle?: Promise<LoadedBundle>;
  private readonly byKey: Map<string, FleetHost>;
  /** The controller's node, read and compressed only if a host of this run needs it, then once for all. */
  private readonly runtime = new ControllerRuntime();
  /** While the run holds its ensemble's lock (execute/lock.ts): the fence its acting requests carry. */
  private guard?: { fence: Fence; refused: (key: string, message: string) => Promise<Error> };

  private constructor(
    hosts: FleetHost[], pool: ConnectionPool, parallel: number, private readonly bundlePath: string,
    private readonly onRuntimePushed?: FleetOptions["onRuntimePushed"],
  ) {
    this.hosts = hosts;
    this.pool = pool;
    this.parallel = parallel;
    this.byKey = new Map(hosts.map((h) => [h.key, h]));
  }

  static async open(inventories: Inventory[], opts: FleetOptions = {}): Promise<Fleet> {
    const several = inventories.length > 1;
    const hosts = inventories.flatMap((inventory) =>
      inventory.hosts.map((spec) => ({ inventory, spec, key: several ? `${inventory.ensemble}/${spec.name}` : spec.name })));
    const byKey = new Map(hosts.map((h) => [h.key, h]));
    const connect = opts.connect ?? await sshConnector(opts);
    const pool = new ConnectionPool((key) => connect(byKey.get(key)!));
    return new Fleet(hosts, pool, opts.parallel ?? 16, opts.bundlePath ?? defaultBundlePath(), opts.onRuntimePushed);
  }

  host(key: string): FleetHost {
    const h = this.byKey.get(key);
    if (!h) throw new Error(`no host ${key} in this fleet`);
    return h;
  }

  connection(key: string): Promise<Connection> {
    return this.pool.get(key);
  }

  /** A command on a host, privileged (sudo) where its inventory says so: callers need not know how the host is reached. */
  async run(key: string, argv: readonly string[], options: Omit<RunOptions, "become"> = {}): Promise<RunResult> {
    const conn = await this.connection(key);
    return conn.run(argv, { ...options, become: this.host(key).inventory.ssh.become });
  }

  /** After a connection was lost with its host: the next use connects again (and the agent is checked again). */
  forget(key: string): void {
    this.warming.get(key)?.then((s) => s?.end(), () => undefined);
    this.warming.delete(key);
    this.dropSession(key);
    this.pool.forget(key);
    this.agents.delete(key);
  }

  private agentOptions(h: FleetHost): EnsureAgentOptions {
    return {
      agentDir: h.inventory.agent.dir, nodeBin: h.inventory.agent.node, bundle: { path: this.bundlePath }, become: h.inventory.ssh.become,
      runtime: this.runtime, onRuntimePushed: (push) => this.onRuntimePushed?.(h.key, push),
    };
  }

  /** The agent on a host: node checked and bundle pushed at most once per run. */
  agent(key: string): Promise<AgentHandle> {
    let pending = this.agents.get(key);
    if (!pending) {
      const options = this.agentOptions(this.host(key));
      pending = this.connection(key).then((conn) => ensureAgent(conn, options));
      this.agents.set(key, pending);
      pending.catch(() => this.agents.delete(key));
    }
    return pending;
  }

  /** One agent operation on one host, typed end to end. */
  async call<K extends OpName>(key: string, op: K, args: OpArgsInput<K>): Promise<OpResult<K>> {
    const [r] = await this.batch(key, [{ op, args } as AgentRequest]);
    return expectSuccess(key, op, r!);
  }

  /**
   * From the ensemble's lock, while it is held: every acting request carries the fence, and one an agent refused
   * for it (the lock was taken over) fails the batch with the error `refused` gives.
   */
  fenceWith(guard: Fleet["guard"]): void {
    this.guard = guard;
  }

  /** Several operations, one after another, in the host's agent process; sent now, not before. */
  async batch(key: string, requests: AgentRequest[]) {
    const guard = this.guard;
    const parsed = validRequests(key, guard ? requests.map((r) => (ACTING_OPS.has(r.op) ? { ...r, fence: guard.fence } : r)) : requests);
    for (;;) {
      const pending = this.session(key);
      const session = await pending;
      try {
        const responses = await session.request(parsed);
        const fenced = responses.find((r) => isFailure(r.result) && r.result.error.code === "fenced");
        if (guard && fenced && isFailure(fenced.result)) throw await guard.refused(key, fenced.result.error.message);
        return responses;
      } catch (err) {
        // Nothing of this batch was sent: a fresh process takes it.
        if (!(err instanceof SpentSession)) throw err;
      } finally {
        if (session.spent && this.sessions.get(key) === pending) this.dropSession(key);
      }
    }
  }

  private session(key: string): Promise<AgentSession> {
    let pending = this.sessions.get(key);
    if (!pending) {
      const warming = this.warming.get(key);
      this.warming.delete(key);
      // A warm start that found no agent leaves it to this request, which may push one.
      pending = warming ? warming.then((started) => started ?? this.openSession(key)) : this.openSession(key);
      this.sessions.set(key, pending);
      const mine = pending;
      pending.catch(() => this.sessions.get(key) === mine && this.sessions.delete(key));
    }
    return pending;
  }

  /**
   * Connects to these hosts and starts their agents now, ahead of their first request, so that the handshakes
   * and the agents' start run while the caller is still busy. Only an agent already on the host is started:
   * nothing is pushed before a request asks for it. A failure is the first request's to meet, as if it had
   * connected itself (one attempt, not two).
   */
  warm(keys: readonly string[]): void {
    for (const key of keys) {
      if (this.sessions.has(key) || this.warming.has(key)) continue;
      const started = this.openSession(key, false);
      started.catch(() => undefined);
      this.warming.set(key, started);
    }
  }

  private async openSession(key: string): Promise<AgentSession>;
  private async openSession(key: string, mayPush: false): Promise<AgentSession | undefined>;
  private async openSession(key: string, mayPush = true): Promise<AgentSession | undefined> {
    const conn = await this.connection(key);
    const options = this.agentOptions(this.host(key));
    const become = options.become;
    if (!this.agents.has(key)) {
      // The bundle is usually there already: its hello proves it and names the node that runs it, at no extra round trip.
      this.bundle ??= loadBundle(options.bundle.path);
      const remotePath = remoteAgentPath(options.agentDir, await this.bundle);
      const started = await AgentSession.open(conn, { remotePath, node: options.nodeBin }, { become, mustStart: false });
      if (started || !mayPush) return started;
    }
    return (await AgentSession.open(conn, await this.agent(key), { become, mustStart: true }))!;
  }

  private dropSession(key: string): void {
    const pending = this.sessions.get(key);
    this.sessions.delete(key);
    pending?.then((s) => s.end(), () => undefined);
  }

  forEachHost<T>(keys: readonly string[], fn: (key: string) => Promise<T>): Promise<HostResult<T>[]> {
    return this.pool.forEachHost(keys, this.parallel, (_conn, key) => fn(key));
  }

  async close(): Promise<void> {
    const sessions = [...this.sessions.values(), ...this.warming.values()];
    this.sessions.clear();
    this.warming.clear();
    // Their stdin closed first, the agents exit on their own rather than with the connection.
    await Promise.allSettled(sessions.map(async (s) => (await s)?.end()));
    await this.pool.closeAll();
  }
}
