// What an operation hands back to the dispatcher. A refusal is a value, not an
// exception: operations return `failed(...)` for every expected problem, and
// only unexpected faults (a file-system call failing) travel as exceptions,
// which the dispatcher turns into an "io"/"internal" failure.

import type { ErrorCode, Failure, OpData, OpName } from "../common/protocol.js";

export interface Done<D> {
  ok: true;
  changed: boolean;
  message: string;
  diff?: string;
  data: D;
}
export interface Failed {
  ok: false;
  error: Failure["error"];
}
export type Outcome<D> = Done<D> | Failed;
export type OpOutcome<K extends OpName> = Outcome<OpData<K>>;

export function done<D>(changed: boolean, message: string, data: D, diff?: string): Done<D> {
  return diff === undefined ? { ok: true, changed, message, data } : { ok: true, changed, message, data, diff };
}

export function failed(code: ErrorCode, message: string, hint?: string): Failed {
  return { ok: false, error: hint === undefined ? { code, message } : { code, message, hint } };
}
