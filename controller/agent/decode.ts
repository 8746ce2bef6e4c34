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

/**
 * Hello, then exactly one response per request, in order.
 * `ops[i]` is the operation of request i, to catch an agent answering out of order.
 */
export function decodeAgentOutput(
  host: string,
  result: RunResult,
  ops: readonly OpName[],
): { hello: Hello; responses: AgentResponse[] } {
  const exit = result.signal ? `was killed by ${result.signal}` : `exited with ${result.code}`;
  const stderr = tail(result.stderr);
  const fail = (what: string, hint: string) =>
    new ZkfleetError("agent", `agent on ${host}: ${what} (it ${exit}${stderr ? `; stderr: ${stderr}` : ""})`, {
      where: host,
      hint,
    });
  const bugHint = "This is a bug or a broken agent file: rerun with a fresh bundle (`npm run build`) and report it.";

  const lines = result.stdout.split("\n").filter((l) => l.trim() !== "");
  const [first, ...rest] = lines;
  if (first === undefined) {
    throw fail("no output", `Check that node runs on ${host} and that the agent file is intact.`);
  }
  const hello = Hello.safeParse(parseJson(first));
  if (!hello.success) throw fail(`output does not start with a hello: ${clip(first)}`, bugHint);
  if (hello.data.protocol !== PROTOCOL_VERSION) {
    throw fail(
      `speaks protocol ${hello.data.protocol}, this controller speaks ${PROTOCOL_VERSION}`,
      "Controller and agent bundle come from different zkfleet versions: rebuild (`npm run build`) so the matching agent is pushed.",
    );
  }

  const responses: AgentResponse[] = [];
  for (const [i, line] of rest.entries()) {
    const parsed = Response.safeParse(parseJson(line));
    if (!parsed.success) throw fail(`response ${i} is not a valid message: ${clip(line)}`, bugHint);
    if (i >= ops.length) throw fail(`sent ${rest.length} responses for ${ops.length} requests`, bugHint);
    if (parsed.data.index !== i || (parsed.data.op !== null && parsed.data.op !== ops[i])) {
      throw fail(`response ${i} answers request ${parsed.data.index} (${parsed.data.op}), expected ${ops[i]}`, bugHint);
    }
    responses.push(parsed.data);
  }
  if (responses.length < ops.length) {
    throw fail(`stopped after ${responses.length} of ${ops.length} responses`, bugHint);
  }
  if (result.code !== 0) throw fail("answered every request but failed on exit", bugHint);
  return { hello: hello.data, responses };
}
