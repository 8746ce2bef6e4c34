// runAgentIfPresent, the one-command path for a host that already has the
// bundle, over the real LocalConnection and real node processes: it must run
// nothing that changes a host before node is known to be good, and fall back
// (undefined, nothing changed) whenever the agent cannot start.

import { chmod, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectSuccess, runAgentIfPresent, type EnsureAgentOptions } from "../../controller/agent/client.js";
import type { Connection, RunOptions } from "../../controller/connection/types.js";
import { ZkfleetError } from "../../common/errors.js";
import { PROTOCOL_VERSION, type AgentRequest } from "../../common/protocol.js";
import { startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("if-present");
});
afterAll(async () => {
  await h?.cleanup();
});

/** The harness connection, counting the remote commands it runs. */
function counting(conn: Connection): { conn: Connection; commands: string[][] } {
  const commands: string[][] = [];
  const counted = Object.create(conn) as Connection;
  counted.run = (argv: readonly string[], options?: RunOptions) => {
    commands.push([...argv]);
    return conn.run(argv, options);
  };
  return { conn: counted, commands };
}

const options = (over: Partial<EnsureAgentOptions> = {}): EnsureAgentOptions => ({
  agentDir: join(h.dir, "agent"), nodeBin: process.execPath, bundle: { path: h.bundlePath }, ...over,
});
const facts = (): AgentRequest => ({ op: "facts", args: { data_dir: join(h.dir, "data") } });

describe("runAgentIfPresent", () => {
  it("runs a read-only batch in one remote command and reports the agent's node", async () => {
    const c = counting(h.conn);
    const ran = await runAgentIfPresent(c.conn, options(), [facts()]);
    expect(c.commands).toHaveLength(1);
    expect(ran?.agent).toEqual({ remotePath: h.agent.remotePath, node: process.execPath, nodeVersion: process.version, pushed: false });
    expect(expectSuccess("test-if-present", "facts", ran!.responses[0]!).data.node).toBe(process.version);
  });

  it("gives up, changing nothing, when the bundle is not on the host", async () => {
    const dir = join(h.dir, "empty-agent-dir");
    expect(await runAgentIfPresent(h.conn, options({ agentDir: dir }), [facts()])).toBeUndefined();
    await expect(stat(dir)).rejects.toThrow(/ENOENT/);
  });

  it("gives up when there is no node", async () => {
    expect(await runAgentIfPresent(h.conn, options({ nodeBin: "/nonexistent/node" }), [facts()])).toBeUndefined();
  });

  it("runs nothing for a batch that would change the host, but does run it in check mode", async () => {
    const path = join(h.dir, "written", "myid");
    const write = (check: boolean): AgentRequest => ({ op: "write_file", check, args: { path, content: "1\n", state_dir: join(h.dir, "state") } });
    const c = counting(h.conn);
    expect(await runAgentIfPresent(c.conn, options(), [facts(), write(false)])).toBeUndefined();
    expect(c.commands).toEqual([]);
    const checked = await runAgentIfPresent(c.conn, options(), [write(true)]);
    expect(expectSuccess("test-if-present", "write_file", checked!.responses[0]!).changed).toBe(true);
    expect(await readdir(h.dir)).not.toContain("written");
  });

  it("holds the node the agent reports to the same minimum as ensureAgent", async () => {
    // A stand-in for an old node that still manages to print the agent's hello.
    const oldNode = join(h.dir, "old-node");
    const hello = JSON.stringify({ type: "hello", protocol: PROTOCOL_VERSION, agent_version: "0.1.0", node: "v16.20.2", pid: 1 });
    await writeFile(oldNode, `#!/bin/sh\ncat >/dev/null\necho '${hello}'\n`);
    await chmod(oldNode, 0o755);
    const err = await runAgentIfPresent(h.conn, options({ nodeBin: oldNode }), []).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ZkfleetError);
    expect((err as ZkfleetError).message).toMatch(/v16\.20\.2.*test-if-present.*too old/);
  });
});
