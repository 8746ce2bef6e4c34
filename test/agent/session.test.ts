// AgentSession, one agent process per host for a whole run, over the real
// LocalConnection and real node processes: nothing is sent before the hello
// shows a good node and protocol, each batch is sent only when asked for,
// and a process that failed, died or overran is never used again.

import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectSuccess, validRequests } from "../../controller/agent-client/client.js";
import { AgentSession, SpentSession } from "../../controller/agent-client/session.js";
import type { Connection, RunOptions } from "../../controller/connection/types.js";
import { ZkfleetError } from "../../common/errors.js";
import { PROTOCOL_VERSION, type AgentRequest } from "../../common/protocol.js";
import { startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("session");
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

const agent = () => ({ remotePath: h.agent.remotePath, node: process.execPath });
const parsed = (...requests: AgentRequest[]) => validRequests(h.conn.host, requests);
const facts = (dir = join(h.dir, "data")): AgentRequest => ({ op: "facts", args: { data_dir: dir } });
const rejection = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

/** A script run with node as the agent would be: `body` after a hello naming `node`. */
async function fakeAgent(name: string, body: string, node = process.version): Promise<string> {
  await mkdir(join(h.dir, "fake"), { recursive: true });
  const path = join(h.dir, "fake", `${name}.js`);
  const hello = JSON.stringify({ type: "hello", protocol: PROTOCOL_VERSION, agent_version: "9", node, pid: 1 });
  await writeFile(path, `console.log(JSON.stringify({ ...${hello}, pid: process.pid }));\n${body}\n`);
  return path;
}

describe("AgentSession", () => {
  it("runs batch after batch in one agent process, each one sent when asked", async () => {
    const c = counting(h.conn);
    const session = (await AgentSession.open(c.conn, agent(), { mustStart: false }))!;
    try {
      expect(session.hello?.node).toBe(process.version);
      const dir = join(h.dir, "batches");
      const first = await session.request(parsed(facts(dir)));
      expect(expectSuccess(h.conn.host, "facts", first[0]!).data.myid).toBeNull();
      // Written between two batches: the second sees it, so it was read only once asked for.
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, "myid"), "4\n");
      const second = await session.request(parsed(facts(dir), facts(dir)));
      expect(second.map((r) => r.index)).toEqual([0, 1]);
      expect(expectSuccess(h.conn.host, "facts", second[1]!).data.myid).toBe("4");
      expect(c.commands).toHaveLength(1);
    } finally {
      session.end();
    }
  });

  it("gives up, changing nothing, when the bundle is not on the host", async () => {
    const dir = join(h.dir, "empty-agent-dir");
    const missing = { remotePath: join(dir, "agent-0000.js"), node: process.execPath };
    expect(await AgentSession.open(h.conn, missing, { mustStart: false })).toBeUndefined();
    await expect(stat(dir)).rejects.toThrow(/ENOENT/);
    const err = await rejection(AgentSession.open(h.conn, missing, { mustStart: true }));
    expect((err as ZkfleetError).message).toMatch(/agent on test-session: no output \(it exited with 1; stderr: .*Cannot find module/s);
  });

  it("gives up when there is no node", async () => {
    expect(await AgentSession.open(h.conn, { ...agent(), node: "/nonexistent/node" }, { mustStart: false })).toBeUndefined();
  });

  it("sends nothing to an agent whose node is too old", async () => {
    // A stand-in for an old node that still manages to print the agent's hello, and keeps what it is sent.
    const oldNode = join(h.dir, "old-node");
    const seen = join(h.dir, "old-node-stdin");
    const hello = JSON.stringify({ type: "hello", protocol: PROTOCOL_VERSION, agent_version: "0.1.0", node: "v16.20.2", pid: 1 });
    await writeFile(oldNode, `#!/bin/sh\necho '${hello}'\ncat >'${seen}'\n`);
    await chmod(oldNode, 0o755);
    const err = await rejection(AgentSession.open(h.conn, { ...agent(), node: oldNode }, { mustStart: false }));
    expect(err).toBeInstanceOf(ZkfleetError);
    expect((err as ZkfleetError).message).toMatch(/v16\.20\.2.*test-session.*too old/);
    await expect.poll(() => existsSync(seen)).toBe(true);
    expect(await readFile(seen, "utf8")).toBe("");
  });

  it("is spent once a request fails: the agent skips the rest of its input, so nothing more is sent to it", async () => {
    const session = (await AgentSession.open(h.conn, agent(), { mustStart: false }))!;
    const [failed] = await session.request(parsed({ op: "install_dist", args: { tarball: join(h.dir, "missing.tgz"), version: "1.0", install_dir: join(h.dir, "opt") } }));
    expect(failed!.result).toMatchObject({ error: { code: "not_found" } });
    expect(session.spent).toBeDefined();
    expect(await rejection(session.request(parsed(facts())))).toBeInstanceOf(SpentSession);
  });

  it("fails a batch the process died in, with how it ended", async () => {
    const script = await fakeAgent("crash", `process.stdin.once("data", () => { console.error("TypeError: boom at main.ts:12"); process.exit(3); });`);
    const session = (await AgentSession.open(h.conn, { remotePath: script, node: process.execPath }, { mustStart: true }))!;
    const err = await rejection(session.request(parsed(facts())));
    expect((err as ZkfleetError).message).toMatch(/agent on test-session: stopped after 0 of 1 responses \(it exited with 3; stderr: TypeError: boom/);
    expect(session.spent).toBeDefined();
  });

  it("kills an agent whose batch overran its time, by the pid of its hello", async () => {
    const script = await fakeAgent("hang", "process.stdin.resume(); setInterval(() => {}, 1000);");
    const session = (await AgentSession.open(h.conn, { remotePath: script, node: process.execPath }, { mustStart: true }))!;
    const pid = session.hello!.pid;
    const err = await rejection(session.request(parsed(facts()), 300));
    expect((err as ZkfleetError).message).toMatch(/did not finish within 300 ms/);
    await expect.poll(() => existsSync(`/proc/${pid}`)).toBe(false);
  });
});
