// Judging an ensemble from what its hosts report. Pure: the gathering lives
// in observe.ts, so the rules here are unit-tested without hosts.
import { hasQuorum, quorumSize } from "../model/quorum.js";
import type { EnsembleTarget } from "../model/target.js";

/** A status row: one member as the inventory names it, with what its host and server said (observe.ts toHostReport). */
export interface HostReport {
  host: string;
  address: string;
  myid: number;
  role: "participant" | "observer";
  reachable: boolean;
  /** Why the host could not be observed (SSH, agent). */
  error?: string;
  running?: boolean;
  /** False when something listens on the client port but no word got an answer (frozen, overloaded). */
  answering?: boolean;
  mode?: string;
  version?: string;
  zxid?: string;
  /** The myid file on the host, to compare with the inventory. */
  myidOnHost?: string | null;
  connections?: number;
  outstanding?: number;
  latency?: { min: number; avg: number; max: number };
  /** Only on the leader. */
  syncedFollowers?: number;
  /** Milliseconds the observation of this host took (SSH + agent). */
  observedInMs?: number;
}

export type Verdict = "healthy" | "degraded" | "no-quorum" | "split-brain";

export interface EnsembleReport {
  ensemble: string;
  inventory: string;
  version: string;
  hosts: HostReport[];
  leader?: string;
  voters: number;
  votersUp: number;
  quorum: number;
  syncedFollowers?: number;
  verdict: Verdict;
  /** Every reason the verdict is not "healthy", phrased for a person. */
  problems: string[];
}

const VOTING_MODES = new Set(["leader", "follower"]);
const SERVING_MODES = new Set(["leader", "follower", "observer", "standalone"]);

/** Whether a member's server answers in a mode that serves clients (not down, frozen, or electing). */
export function serves(h: HostReport): boolean {
  return h.reachable && h.running !== false && h.answering !== false && h.mode !== undefined && SERVING_MODES.has(h.mode);
}

/** The zxid ZooKeeper prints, ordered numerically (hex strings of different lengths). */
export function compareZxid(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * `versions`: what a server may run and still count as healthy; by default
 * the inventory's version, during an upgrade the old one as well.
 */
export function judgeEnsemble(
  target: Pick<EnsembleTarget, "name" | "inventory" | "version">,
  hosts: HostReport[],
  opts: { versions?: readonly string[]; learners?: readonly string[] } = {},
): EnsembleReport {
  const accepted = opts.versions ?? [target.version];
  const problems: string[] = [];
  // A joiner started but not yet added by reconfig serves without a vote.
  const learners = new Set(opts.learners ?? []);
  const voters = hosts.filter((h) => h.role === "participant" && !learners.has(h.host));
  const quorum = quorumSize(voters.length);
  // A lone server with a static server list runs standalone: it is its own leader (and its conf says serverId=0).
  const standalone = (h: HostReport) => h.mode === "standalone" && voters.length === 1 && voters[0] === h;
  const votersUp = voters.filter((h) => (h.mode !== undefined && VOTING_MODES.has(h.mode)) || standalone(h));
  const leaders = hosts.filter((h) => h.mode === "leader" || standalone(h));
  const leader = leaders.length === 1 ? leaders[0] : undefined;

  for (const h of hosts) {
    if (!h.reachable) {
      problems.push(`${h.host}: unreachable (${h.error ?? "no answer"})`);
      continue;
    }
    if (h.running === false) {
      problems.push(`${h.host}: ZooKeeper is not running`);
      continue;
    }
    if (h.answering === false) {
      problems.push(`${h.host}: ZooKeeper accepts connections on its client port but answers nothing (frozen or overloaded?)`);
      continue;
    }
    const expected = learners.has(h.host) ? ["follower", "observer"] : h.role === "observer" ? ["observer"]
      : voters.length === 1 ? ["leader", "standalone"] : ["leader", "follower"];
    if (h.mode === undefined) problems.push(`${h.host}: ZooKeeper answers but is not serving (electing or not in a quorum)`);
    else if (!expected.includes(h.mode)) problems.push(`${h.host}: mode ${h.mode}, expected ${expected.join(" or ")}`);
    if (h.version !== undefined && !accepted.some((v) => h.version!.startsWith(v))) {
      problems.push(`${h.host}: runs ZooKeeper ${h.version}, the inventory says ${target.version}`);
    }
    const reported = h.myidOnHost?.trim();
    if (reported !== undefined && reported !== String(h.myid) && !(standalone(h) && reported === "0")) {
      problems.push(`${h.host}: myid file says ${reported}, the inventory says ${h.myid}`);
    }
  }

  let syncedFollowers: number | undefined;
  if (leader) {
    syncedFollowers = leader.syncedFollowers;
    const expectedSynced = votersUp.length - 1;
    if (syncedFollowers !== undefined && syncedFollowers < expectedSynced) {
      problems.push(`${leader.host} (leader): ${syncedFollowers} synced followers, ${expectedSynced} voters follow it`);
    }
  }

  let verdict: Verdict;
  if (leaders.length > 1) {
    verdict = "split-brain";
    problems.unshift(`${leaders.length} servers claim to lead: ${leaders.map((h) => h.host).join(", ")}`);
  } else if (!hasQuorum(votersUp.length, voters.length) || !leader) {
    verdict = "no-quorum";
    // Followers of a leader that no longer answers (frozen, cut off) still say "follower" until they give up on it.
    problems.unshift(hasQuorum(votersUp.length, voters.length)
      ? `no voter answers as leader: ${votersUp.map((h) => h.host).join(", ")} say they follow one (a quorum needs ${quorum} voters and a leader)`
      : `${votersUp.length} of ${voters.length} voters serve; a quorum needs ${quorum}`);
  } else {
    verdict = problems.length === 0 ? "healthy" : "degraded";
  }

  return {
    ensemble: target.name,
    inventory: target.inventory,
    version: target.version,
    hosts,
    leader: leader?.host,
    voters: voters.length,
    votersUp: votersUp.length,
    quorum,
    syncedFollowers,
    verdict,
    problems,
  };
}
