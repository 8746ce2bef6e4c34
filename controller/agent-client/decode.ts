// Reads what an agent process printed. Every line is checked against the
// schemas the agent itself uses; anything else (a crash, a stray print, a
// different protocol version) becomes a ZkfleetError naming the host.

import { Hello, PROTOCOL_VERSION, Response, type AgentResponse, type OpName } from "../../common/protocol.js";
import { ZkfleetError } from "../../common/errors.js";
import type { RunResult } from "../connection/types.js";

function tail(text: string, max = 1500): string {
  const t = text.trim();
  return t.length <= max ? t : `...${t.slice(t.length - max)}`;
}

function clip(text: string): string {
  return text.length <= 200 ? text : `${text.slice(0, 200)}...`;
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

export const AGENT_BUG_HINT = "This is a bug or a broken agent file: rerun with a fresh bundle (`npm run build`) and report it.";

/** Builds the errors about one agent process, saying how it ended when it has. */
export type AgentFailure = (what: string, hint: string) => ZkfleetError;

export function agentFailure(host: string, ended: Pick<RunResult, "code" | "signal" | "stderr"> | undefined): AgentFailure {
  const exit = ended === undefined ? "" : ended.signal ? `was killed by ${ended.signal}` : `exited with ${ended.code}`;
  const stderr = ended === undefined ? "" : tail(ended.stderr);
  const how = [exit && `it ${exit}`, stderr && `stderr: ${stderr}`].filter(Boolean).join("; ");
  return (what, hint) => new ZkfleetError("agent", `agent on ${host}: ${what}${how ? ` (${how})` : ""}`, { where: host, hint });
}

/** The first line an agent prints: a hello in this controller's protocol. */
export function readHello(host: string, line: string | undefined, fail: AgentFailure): Hello {
  if (line === undefined) throw fail("no output", `Check that node runs on ${host} and that the agent file is intact.`);
  const hello = Hello.safeParse(parseJson(line));
  if (!hello.success) throw fail(`output does not start with a hello: ${clip(line)}`, AGENT_BUG_HINT);
  if (hello.data.protocol !== PROTOCOL_VERSION) {
    throw fail(
      `speaks protocol ${hello.data.protocol}, this controller speaks ${PROTOCOL_VERSION}`,
      "Controller and agent bundle come from different zkfleet versions: rebuild (`npm run build`) so the matching agent is pushed.",
    );
  }
  return hello.data;
}

/**
 * A response line, which must answer the request the agent read as number
 * `index` (counted from its first line), operation `op`.
 */
export function readResponse(line: string, index: number, op: OpName, fail: AgentFailure): AgentResponse {
  const parsed = Response.safeParse(parseJson(line));
  if (!parsed.success) throw fail(`response ${index} is not a valid message: ${clip(line)}`, AGENT_BUG_HINT);
  if (parsed.data.index !== index || (parsed.data.op !== null && parsed.data.op !== op)) {
    throw fail(`response ${index} answers request ${parsed.data.index} (${parsed.data.op}), expected ${op}`, AGENT_BUG_HINT);
  }
  return parsed.data;
}

/**
 * Hello, then exactly one response per request, in order.
 * `ops[i]` is the operation of request i, to catch an agent answering out of order.
 */
export function decodeAgentOutput(
  host: string,
  result: RunResult,
  ops: readonly OpName[],
): { hello: Hello; responses: AgentResponse[] } {
  const fail = agentFailure(host, result);
  const lines = result.stdout.split("\n").filter((l) => l.trim() !== "");
  const [first, ...rest] = lines;
  const hello = readHello(host, first, fail);
  if (rest.length > ops.length) throw fail(`sent ${rest.length} responses for ${ops.length} requests`, AGENT_BUG_HINT);
  const responses = rest.map((line, i) => readResponse(line, i, ops[i]!, fail));
  if (responses.length < ops.length) {
    throw fail(`stopped after ${responses.length} of ${ops.length} responses`, AGENT_BUG_HINT);
  }
  if (result.code !== 0) throw fail("answered every request but failed on exit", AGENT_BUG_HINT);
  return { hello, responses };
}
