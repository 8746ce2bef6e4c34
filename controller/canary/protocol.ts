// What a canary worker is told and what it reports: the types both the
// controller and the worker process use.

export interface CanaryConfig {
  /** A name for this client: "all" for the full connect string, or the server it is pinned to. */
  label: string;
  connect: string;
  /** The final check reads through a new session on this one (every server), whichever server `connect` pinned. */
  verifyConnect: string;
  /** Where its znodes go: <prefix>/<label>/w-<seq>. */
  prefix: string;
  intervalMs: number;
  sessionTimeoutMs: number;
  connectTimeoutMs: number;
  /** It stops by itself after this long even if never told to. */
  maxRunMs: number;
  /**
   * Set for one client of a run: remove the canary znodes that earlier runs
   * left beside this run's (a run killed outright, whose clients never got to
   * clean up), except those of the runs named here and any still written to.
   */
  sweep?: { keep: string[] };
}

/** Canary znodes of an earlier run, removed (sweep). */
export interface SweptRun {
  run: string;
  znodes: number;
}

export interface CanaryOp {
  /** ms since the worker started. */
  t: number;
  ms: number;
  kind: "write" | "read";
  ok: boolean;
  /** The plan step running when it was issued (-1: before the first). */
  step: number;
  error?: string;
}

export interface CanaryFinal {
  type: "final";
  label: string;
  connect: string;
  /** Epoch ms of the worker's start, which its ops' t count from: what lines them up with the journal's records. */
  startedAt: number;
  ops: CanaryOp[];
  events: { t: number; kind: "connected" | "disconnected" | "expired"; detail?: string }[];
  acked: number;
  /** Acknowledged writes not found at the end: must be empty. */
  lost: number[];
  expired: number;
  /** The final check could not read the canary's znodes. */
  verifyError?: string;
  /** What the sweep removed, and why it left a run's znodes (one line each). */
  swept?: SweptRun[];
  sweepNotes?: string[];
}
