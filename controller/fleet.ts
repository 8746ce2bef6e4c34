// A run's view of the hosts of one or more inventories: one SSH connection per
// host, reused for everything the run does, and the agent made ready once per
// host. Built per run and passed down; closed in `finally` by the caller.
import { ensureAgent, runAgent, runAgentIfPresent, expectSuccess, type AgentHandle, type EnsureAgentOptions } from "./agent/client.js";
import { defaultBundlePath } from "./agent/bundle.js";
import { ConnectionPool, type HostResult } from "./connection/pool.js";
import { connectSsh } from "./connection/ssh.js";
import {
  type SshEnvironment, defaultSshEnvironment, readUserSshConfig, resolveSshTarget,
} from "./connection/ssh-config.js";
import type { Connection } from "./connection/types.js";
import type { HostSpec, Inventory } from "./inventory/schema.js";
import type { AgentRequest, OpArgsInput, OpName, OpResult } from "../common/protocol.js";

export interface FleetOptions {
  /** Hosts worked on at once. */
  parallel?: number;
  /** Trust and record unknown host keys (a changed key is refused regardless). */
  acceptNewHostKeys?: boolean;
  connectTimeoutMs?: number;
  env?: SshEnvironment;
  bundlePath?: string;
  /**
   * How a host is reached. Default: SSH as the inventory and ~/.ssh/config say.
   * A LocalConnection here runs everything on this machine instead (tests, a
   * controller on the ZooKeeper host itself).
   */
  connect?: (host: FleetHost) => Promise<Connection>;
}

export interface FleetHost {
  inventory: Inventory;
  spec: HostSpec;
  /** Unique across the fleet: "ensemble/host" when several inventories are open. */
  key: string;
}

export class Fleet {
  readonly hosts: FleetHost[];
  readonly parallel: number;
  private readonly pool: ConnectionPool;
  private readonly agents = new Map<string, Promise<AgentHandle>>();
  private readonly byKey: Map<string, FleetHost>;

  private constructor(hosts: FleetHost[], pool: ConnectionPool, parallel: number, private readonly bundlePath: string) {
    this.hosts = hosts;
    this.pool = pool;
    this.parallel = parallel;
    this.byKey = new Map(hosts.map((h) => [h.key, h]));
  }

  static async open(inventories: Inventory[], opts: FleetOptions = {}): Promise<Fleet> {
    const env = opts.env ?? defaultSshEnvironment();
    const sshConfig = await readUserSshConfig(env);
    const several = inventories.length > 1;
    const hosts = inventories.flatMap((inventory) =>
      inventory.hosts.map((spec) => ({ inventory, spec, key: several ? `${inventory.ensemble}/${spec.name}` : spec.name })));
    const byKey = new Map(hosts.map((h) => [h.key, h]));
    const connect = opts.connect ?? ((h: FleetHost) => {
      const ssh = h.inventory.ssh;
      const target = resolveSshTarget(h.spec.name, {
        address: h.spec.address,
        port: h.spec.ssh_port ?? ssh.port,
        user: ssh.user,
        identityFiles: ssh.identity_file ? [ssh.identity_file] : undefined,
        knownHostsFile: ssh.known_hosts,
        acceptNewHostKeys: opts.acceptNewHostKeys || ssh.accept_new_host_keys,
        become: ssh.become,
        ...(opts.connectTimeoutMs ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
      }, sshConfig, env);
      return connectSsh(target);
    });
    const pool = new ConnectionPool((key) => connect(byKey.get(key)!));
    return new Fleet(hosts, pool, opts.parallel ?? 16, opts.bundlePath ?? defaultBundlePath());
  }

  host(key: string): FleetHost {
    const h = this.byKey.get(key);
    if (!h) throw new Error(`no host ${key} in this fleet`);
    return h;
  }

  connection(key: string): Promise<Connection> {
    return this.pool.get(key);
  }

  /** After a connection was lost with its host: the next use connects again (and the agent is checked again). */
  forget(key: string): void {
    this.pool.forget(key);
    this.agents.delete(key);
  }

  private agentOptions(h: FleetHost): EnsureAgentOptions {
    return { agentDir: h.inventory.agent.dir, nodeBin: h.inventory.agent.node, bundle: { path: this.bundlePath }, become: h.inventory.ssh.become };
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
  async call<K extends OpName>(key: string, op: K, args: OpArgsInput<K>, check = false): Promise<OpResult<K>> {
    const [r] = await this.batch(key, [{ op, args, check } as AgentRequest]);
    return expectSuccess(key, op, r!);
  }

  /** Several operations in one agent process (one round trip). */
  async batch(key: string, requests: AgentRequest[]) {
    const conn = await this.connection(key);
    const h = this.host(key);
    if (!this.agents.has(key)) {
      // The first batch on a host (the observation, for status and apply) is
      // usually read-only and the bundle usually there already: one remote command.
      const ran = await runAgentIfPresent(conn, this.agentOptions(h), requests);
      if (ran) {
        this.agents.set(key, Promise.resolve(ran.agent));
        return ran.responses;
      }
    }
    return runAgent(conn, await this.agent(key), requests, { become: h.inventory.ssh.become });
  }

  forEachHost<T>(keys: readonly string[], fn: (key: string) => Promise<T>): Promise<HostResult<T>[]> {
    return this.pool.forEachHost(keys, this.parallel, (_conn, key) => fn(key));
  }

  close(): Promise<void> {
    return this.pool.closeAll();
  }
}
