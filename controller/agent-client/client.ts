// The controller's side of the agent: make sure the bundle is on a host,
// run a batch of requests through one `node` process, and hand back results
// validated by the same schemas the agent used to produce them.

import { randomBytes } from "node:crypto";
import { posix } from "node:path";
import { z } from "zod";
import {
  isFailure,
  Ops,
  Request,
  type AgentRequest,
  type ParsedRequest,
  type AgentResponse,
  type OpArgsInput,
  type OpName,
  type OpResult,
} from "../../common/protocol.js";
import { ZkfleetError } from "../../common/errors.js";
import type { Connection } from "../connection/types.js";
import { loadBundle, type LoadedBundle } from "./bundle.js";
import { decodeAgentOutput } from "./decode.js";
import { type ControllerRuntime, type RuntimePush, type RuntimeUse, DEFAULT_NODE, chooseNode, runtimeDir } from "./runtime.js";

/** The bundle targets node18; older Node lacks APIs it uses. */
export const MIN_NODE_MAJOR = 18;

export interface EnsureAgentOptions {
  /** Directory on the host that holds agent-<hash>.js files. */
  agentDir: string;
  /** The node binary on the host (inventory `agent.node`). */
  nodeBin: string;
  bundle: { path: string };
  become?: boolean;
  /**
   * The runtime zkfleet brings when agent.node is the default `node` and the
   * host has none recent enough (runtime.ts); without it such a host is refused.
   */
  runtime?: ControllerRuntime;
  /** Told of each runtime push, for the run's report. */
  onRuntimePushed?: (push: RuntimePush) => void;
}

export interface AgentHandle {
  remotePath: string;
  /** The node binary to run the agent with. */
  node: string;
  /** What `node --version` said, e.g. v20.11.1. */
  nodeVersion: string;
  /** Whether this call copied the bundle (false when the host already had it). */
  pushed: boolean;
  /** Set when the agent runs with zkfleet's runtime instead of the host's node. */
  runtime?: RuntimeUse;
}

export interface RunAgentOptions {
  become?: boolean;
  /** For the whole batch; stop and start wait for processes. Default 10 minutes. */
  timeoutMs?: number;
}

const DEFAULT_BATCH_TIMEOUT_MS = 600_000;

function nodeHint(host: string): string {
  return `Install Node.js >= ${MIN_NODE_MAJOR} on ${host}, or set agent.node in the inventory to its path.`;
}

/** 20 for "v20.11.1"; undefined when it is not a node version. */
function nodeMajor(version: string): number | undefined {
  const major = /^v(\d+)\./.exec(version)?.[1];
  return major === undefined ? undefined : Number(major);
}

/** A node version too old for the bundle, as an error naming the host; undefined when it will do. */
export function tooOldNode(host: string, nodeBin: string, version: string): ZkfleetError | undefined {
  if ((nodeMajor(version) ?? 0) >= MIN_NODE_MAJOR) return undefined;
  return new ZkfleetError("agent", `node ${version} at ${nodeBin} on ${host} is too old (need >= ${MIN_NODE_MAJOR})`, {
    where: host,
    hint: nodeHint(host),
  });
}

async function checkNode(conn: Connection, nodeBin: string, become: boolean | undefined): Promise<string> {
  const hint = nodeHint(conn.host);
  let result;
  try {
    result = await conn.run([nodeBin, "--version"], { become, timeoutMs: 30_000 });
  } catch (cause) {
    throw new ZkfleetError("agent", `cannot run ${nodeBin} --version on ${conn.host}`, { where: conn.host, hint, cause });
  }
  const version = result.stdout.trim();
  if (result.code !== 0 || nodeMajor(version) === undefined) {
    const said = `${result.stdout}${result.stderr}`.trim().slice(0, 200);
    throw new ZkfleetError("agent", `no usable node at ${nodeBin} on ${conn.host}${said ? ` (${said})` : ""}`, {
      where: conn.host,
      hint,
    });
  }
  const tooOld = tooOldNode(conn.host, nodeBin, version);
  if (tooOld) throw tooOld;
  return version;
}

export function remoteAgentPath(agentDir: string, bundle: LoadedBundle): string {
  return posix.join(agentDir, bundle.fileName);
}

/** Check node on the host and push the bundle there unless this exact content is already present. */
export async function ensureAgent(conn: Connection, opts: EnsureAgentOptions): Promise<AgentHandle> {
  // Only the default may fall back to zkfleet's runtime: an explicit agent.node is the operator's choice.
  const chosen = opts.runtime && opts.nodeBin === DEFAULT_NODE
    ? await chooseNode(conn, { agentDir: opts.agentDir, become: opts.become, runtime: opts.runtime, minNodeMajor: MIN_NODE_MAJOR })
    : { node: opts.nodeBin, nodeVersion: await checkNode(conn, opts.nodeBin, opts.become) };
  if (chosen.runtime?.pushed) opts.onRuntimePushed?.(chosen.runtime.pushed);
  const bundle = await loadBundle(opts.bundle.path);
  // With zkfleet's runtime the bundle goes beside it, out of reach of the shortcut that runs `node
  // agent.dir/agent-<hash>.js` first (fleet.ts): a host whose own node is missing or too old then always
  // comes here, where the runtime is chosen, instead of failing on that node.
  const bundleDir = chosen.runtime ? runtimeDir(opts.agentDir) : opts.agentDir;
  const remotePath = remoteAgentPath(bundleDir, bundle);
  const handle = { remotePath, ...chosen };
  const become = opts.become;
  if ((await conn.run(["test", "-f", remotePath], { become })).code === 0) return { ...handle, pushed: false };

  const step = async (argv: string[]) => {
    const r = await conn.run(argv, { become, timeoutMs: 60_000 });
    if (r.code !== 0) {
      throw new ZkfleetError("agent", `${argv.join(" ")} failed on ${conn.host}: ${r.stderr.trim() || `exit ${r.code}`}`, {
        where: `${conn.host}:${opts.agentDir}`,
        hint: `Make ${opts.agentDir} writable for the SSH user on ${conn.host}, or enable become.`,
      });
    }
  };
  await step(["mkdir", "-p", bundleDir]);
  // It holds the lock, the state and backups of config files: its user's alone (an older zkfleet made it 0755).
  await step(["chmod", "700", opts.agentDir]);
  // Content-addressed: a reader must never see a half-written file under the final name.
  const temp = posix.join(bundleDir, `.${bundle.fileName}.${randomBytes(6).toString("hex")}`);
  await conn.put(temp, bundle.content, 0o644);
  await step(["mv", "-f", temp, remotePath]);
  return { ...handle, pushed: true };
}

export function validRequests(host: string, requests: readonly AgentRequest[]) {
  return requests.map((request, i) => {
    const r = Request.safeParse(request);
    if (r.success) return r.data;
    throw new ZkfleetError("agent", `request ${i} for ${host} is invalid: ${z.prettifyError(r.error)}`, {
      where: host,
      hint: "This is a bug in the caller: the request does not match agent/protocol.ts.",
    });
  });
}

function execAgent(conn: Connection, agent: Pick<AgentHandle, "remotePath" | "node">, requests: readonly ParsedRequest[], options: RunAgentOptions) {
  return conn.run([agent.node, agent.remotePath], {
    stdin: requests.map((r) => `${JSON.stringify(r)}\n`).join(""),
    become: options.become,
    timeoutMs: options.timeoutMs ?? DEFAULT_BATCH_TIMEOUT_MS,
  });
}

/** Run a batch in one agent process; responses come back in request order, failures included. */
export async function runAgent(
  conn: Connection,
  agent: Pick<AgentHandle, "remotePath" | "node">,
  requests: readonly AgentRequest[],
  options: RunAgentOptions = {},
): Promise<AgentResponse[]> {
  const parsed = validRequests(conn.host, requests);
  const result = await execAgent(conn, agent, parsed, options);
  return decodeAgentOutput(
    conn.host,
    result,
    parsed.map((r) => r.op),
  ).responses;
}

/** A response as a typed result, or a ZkfleetError carrying the agent's message and hint. */
export function expectSuccess<K extends OpName>(host: string, op: K, response: AgentResponse): OpResult<K> {
  const { result } = response;
  if (isFailure(result)) {
    throw new ZkfleetError("agent", `${op} on ${host} failed [${result.error.code}]: ${result.error.message}`, {
      where: host,
      hint: result.error.hint,
    });
  }
  const data = Ops[op].data.safeParse(result.data);
  if (!data.success) {
    throw new ZkfleetError("agent", `${op} on ${host} returned an invalid payload: ${z.prettifyError(data.error)}`, {
      where: host,
      hint: "Agent and controller disagree on the protocol: rebuild with `npm run build`.",
    });
  }
  return { ...result, data: data.data as OpResult<K>["data"] };
}

/** One operation, typed end to end: `agentCall(conn, agent, "facts", {...})` gives OpResult<"facts">. */
export async function agentCall<K extends OpName>(
  conn: Connection,
  agent: Pick<AgentHandle, "remotePath" | "node">,
  op: K,
  args: OpArgsInput<K>,
  options: RunAgentOptions = {},
): Promise<OpResult<K>> {
  const request = { op, args } as AgentRequest;
  const [response] = await runAgent(conn, agent, [request], options);
  if (response === undefined) throw new ZkfleetError("agent", `agent on ${conn.host} returned no response for ${op}`);
  return expectSuccess(conn.host, op, response);
}
