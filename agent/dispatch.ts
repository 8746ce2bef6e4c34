// Turns one request line into one response line. Every way a line can go
// wrong (bad JSON, unknown op, bad args, an exception inside an operation,
// a payload that breaks its own schema) ends as a typed failure, so the
// controller always gets exactly one answer per request.

import { z } from "zod";
import { backupSourceOp, readChunkOp } from "./ops/backup.js";
import { cleanDataOp } from "./ops/clean-data.js";
import { discoverOp } from "./ops/discover.js";
import { factsOp } from "./ops/facts.js";
import { installDistOp } from "./ops/install-dist.js";
import { fenceRefusal, keepLease, lockOp } from "./ops/lock.js";
import { reconfigOp } from "./ops/reconfig.js";
import { restoreDataOp } from "./ops/restore-data.js";
import { startOp } from "./ops/start.js";
import { statusOp } from "./ops/status.js";
import { stopOp } from "./ops/stop.js";
import { writeFileOp } from "./ops/write-file.js";
import { failed, type Failed, type OpOutcome } from "./outcome.js";
import { Ops, OpName, Request, Response, type AgentResponse, type OpArgs } from "../common/protocol.js";

type Handler<K extends OpName> = (args: OpArgs<K>) => Promise<OpOutcome<K>>;

const handlers: { [K in OpName]: Handler<K> } = {
  facts: factsOp,
  write_file: writeFileOp,
  install_dist: installDistOp,
  start: startOp,
  stop: stopOp,
  clean_data: cleanDataOp,
  status: statusOp,
  lock: lockOp,
  discover: discoverOp,
  reconfig: reconfigOp,
  backup_source: backupSourceOp,
  read_chunk: readChunkOp,
  restore_data: restoreDataOp,
};

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

async function runOp<K extends OpName>(op: K, args: OpArgs<K>): Promise<AgentResponse["result"]> {
  let outcome: OpOutcome<K> | Failed;
  try {
    outcome = await handlers[op](args);
  } catch (err) {
    const io = err instanceof Error && typeof (err as NodeJS.ErrnoException).code === "string";
    outcome = failed(io ? "io" : "internal", `${op} failed: ${errorText(err)}`);
  }
  if (!outcome.ok) return { error: outcome.error };
  // The agent checks its own payload too: a bug here must not reach the controller as data.
  const data = Ops[op].data.safeParse(outcome.data);
  if (!data.success) return { error: { code: "internal", message: `${op} produced an invalid result: ${z.prettifyError(data.error)}` } };
  const { ok: _ok, ...result } = outcome;
  return { ...result, data: data.data };
}

/** The answer to a request that follows a failed one in the same batch. */
export function skippedResponse(line: string, index: number, failedIndex: number): AgentResponse {
  let op: OpName | null = null;
  try {
    const named = OpName.safeParse((JSON.parse(line) as { op?: unknown } | null)?.op);
    if (named.success) op = named.data;
  } catch {
    // Still answered, with no operation named.
  }
  return respond(index, op, failed("skipped", `request ${index} was not run: request ${failedIndex} of the batch failed`));
}

export async function handleLine(line: string, index: number): Promise<AgentResponse> {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (err) {
    return respond(index, null, failed("invalid_request", `request ${index} is not JSON: ${errorText(err)}`));
  }
  const named = OpName.safeParse((json as { op?: unknown } | null)?.op);
  const op = named.success ? named.data : null;
  const request = Request.safeParse(json);
  if (!request.success) {
    return respond(index, op, failed("invalid_request", `request ${index} is invalid: ${z.prettifyError(request.error)}`));
  }
  const { op: name, args, fence } = request.data;
  if (fence === undefined) return Response.parse({ type: "response", index, op: name, result: await runOp(name, args as OpArgs<typeof name>) });
  // Checked here, before the operation, whatever it is: one rule for every request that carries a fence.
  const refused = await fenceRefusal(fence);
  if (refused) return respond(index, name, refused);
  const stop = keepLease(fence);
  try {
    return Response.parse({ type: "response", index, op: name, result: await runOp(name, args as OpArgs<typeof name>) });
  } finally {
    stop();
  }
}

function respond(index: number, op: OpName | null, failure: Failed): AgentResponse {
  return { type: "response", index, op, result: { error: failure.error } };
}
