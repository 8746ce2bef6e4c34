// Agent entry point: `node agent-<hash>.js`, requests on stdin (NDJSON, then
// EOF), hello + one response per request on stdout. Requests run one after
// another, in order, because later ones often depend on earlier ones
// (write zoo.cfg, then start); for the same reason, once one fails the rest
// are answered "skipped" instead of being run.

import "../common/zod-jitless.js";
import { createInterface } from "node:readline";
import { handleLine, skippedResponse } from "./dispatch.js";
import { Hello, PROTOCOL_VERSION } from "../common/protocol.js";
import { AGENT_VERSION } from "./version.js";

function writeLine(value: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(`${JSON.stringify(value)}\n`, (err) => (err ? reject(err) : resolve()));
  });
}

async function main(): Promise<void> {
  await writeLine(
    Hello.parse({ type: "hello", protocol: PROTOCOL_VERSION, agent_version: AGENT_VERSION, node: process.version, pid: process.pid }),
  );
  let index = 0;
  let failedAt: number | undefined;
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line.trim() === "") continue;
    const response = failedAt === undefined ? await handleLine(line, index) : skippedResponse(line, index, failedAt);
    if (failedAt === undefined && "error" in response.result) failedAt = index;
    await writeLine(response);
    index += 1;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`zkfleet agent: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
