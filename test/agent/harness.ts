// Shared by the agent tests: a real bundle built from the sources, pushed with
// ensureAgent over the real LocalConnection into a private temp directory.

import { mkdtemp, rm } from "node:fs/promises";
import { expect } from "vitest";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureAgent, runAgent, type AgentHandle } from "../../controller/agent-client/client.js";
import { LocalConnection } from "../../controller/connection/local.js";
// @ts-expect-error plain .mjs build script without type declarations
import { bundleAgent } from "../../scripts/bundle-agent.mjs";
import type { AgentRequest, AgentResponse } from "../../common/protocol.js";

export interface Harness {
  dir: string;
  conn: LocalConnection;
  agent: AgentHandle;
  bundlePath: string;
  cleanup(): Promise<void>;
}

/** A fresh bundle from the current sources, in `dir` (never the shared dist/). */
export async function buildTestBundle(dir: string): Promise<string> {
  return (await bundleAgent({ outfile: join(dir, "build", "agent.js") })) as string;
}

export async function startHarness(name: string): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), `zkfleet-${name}-`));
  const bundlePath = await buildTestBundle(dir);
  const conn = new LocalConnection({ host: `test-${name}` });
  const agent = await ensureAgent(conn, { agentDir: join(dir, "agent"), nodeBin: process.execPath, bundle: { path: bundlePath } });
  return { dir, conn, agent, bundlePath, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** One request; the raw response (failures are values here). */
export async function call(h: Harness, request: AgentRequest): Promise<AgentResponse["result"]> {
  const responses = await runAgent(h.conn, h.agent, [request]);
  expect(responses).toHaveLength(1);
  return responses[0]!.result;
}
