// The controller side: ensureAgent over a real LocalConnection (push once,
// node checks), and runAgent against real processes that misbehave.

import { chmod, mkdir, readFile, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentCall, ensureAgent, expectSuccess, runAgent } from "../../controller/agent-client/client.js";
import { defaultBundlePath, loadBundle } from "../../controller/agent-client/bundle.js";
import { ControllerRuntime } from "../../controller/agent-client/runtime.js";
import { decodeAgentOutput } from "../../controller/agent-client/decode.js";
import { PROTOCOL_VERSION } from "../../common/protocol.js";
import { packageRoot } from "../../common/paths.js";
import { ZkfleetError } from "../../common/errors.js";
import { startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("client");
});
afterAll(async () => {
  await h?.cleanup();
});

async function rejection(promise: Promise<unknown>): Promise<ZkfleetError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ZkfleetError);
  return err as ZkfleetError;
}

describe("ensureAgent", () => {
  it("pushed the bundle under its content hash, and does not push it again", async () => {
    const bundle = await loadBundle(h.bundlePath);
    expect(h.agent.pushed).toBe(true);
    expect(h.agent.remotePath).toBe(join(h.dir, "agent", `agent-${bundle.sha256.slice(0, 16)}.js`));
    expect(await readFile(h.agent.remotePath)).toEqual(bundle.content);
    const before = await stat(h.agent.remotePath);

    const again = await ensureAgent(h.conn, { agentDir: join(h.dir, "agent"), nodeBin: process.execPath, bundle: { path: h.bundlePath } });
    expect(again).toMatchObject({ remotePath: h.agent.remotePath, pushed: false, nodeVersion: process.version });
    expect((await stat(h.agent.remotePath)).ino).toBe(before.ino);
    expect(await readdir(join(h.dir, "agent"))).toEqual([`agent-${bundle.sha256.slice(0, 16)}.js`]);
  });

  it("makes the agent dir (lock, state, backups of config files) its owner's alone, tightening one an older zkfleet left 0755", async () => {
    expect((await stat(join(h.dir, "agent"))).mode & 0o777).toBe(0o700);
    const old = join(h.dir, "old-agent");
    await mkdir(old, { mode: 0o755 });
    await chmod(old, 0o755);
    await ensureAgent(h.conn, { agentDir: old, nodeBin: process.execPath, bundle: { path: h.bundlePath } });
    expect((await stat(old)).mode & 0o777).toBe(0o700);
  });

  it("names the host and says what to do when node is missing", async () => {
    const err = await rejection(
      ensureAgent(h.conn, { agentDir: join(h.dir, "agent2"), nodeBin: "/nonexistent/node", bundle: { path: h.bundlePath } }),
    );
    expect(err.source).toBe("agent");
    expect(err.message).toContain("test-client");
    expect(err.message).toContain("/nonexistent/node");
    expect(err.hint).toMatch(/Node\.js >= 18.*agent\.node/);
    await expect(stat(join(h.dir, "agent2"))).rejects.toThrow(/ENOENT/);
  });

  it("reports the version of a node that is too old", async () => {
    const oldNode = join(h.dir, "old-node");
    await writeFile(oldNode, "#!/bin/sh\necho v16.20.2\n");
    await chmod(oldNode, 0o755);
    const err = await rejection(ensureAgent(h.conn, { agentDir: join(h.dir, "agent3"), nodeBin: oldNode, bundle: { path: h.bundlePath } }));
    expect(err.message).toMatch(/v16\.20\.2.*test-client.*too old/);
  });

  it("keeps the host's own node when it is recent enough: zkfleet's runtime is neither read nor pushed", async () => {
    // A runtime that cannot even be read: choosing the host's node must not need it.
    const runtime = new ControllerRuntime(join(h.dir, "no-such-node"), "v20.0.0");
    const agentDir = join(h.dir, "agent5");
    const handle = await ensureAgent(h.conn, { agentDir, nodeBin: "node", bundle: { path: h.bundlePath }, runtime });
    expect(handle).toMatchObject({ node: "node", nodeVersion: process.version, pushed: true });
    expect(handle.runtime).toBeUndefined();
    expect(await readdir(agentDir)).toEqual([`agent-${(await loadBundle(h.bundlePath)).sha256.slice(0, 16)}.js`]);
  });

  it("never swaps an explicit agent.node for zkfleet's runtime", async () => {
    const err = await rejection(ensureAgent(h.conn, {
      agentDir: join(h.dir, "agent6"), nodeBin: "/nonexistent/node", bundle: { path: h.bundlePath }, runtime: new ControllerRuntime(),
    }));
    expect(err.message).toContain("/nonexistent/node");
    await expect(stat(join(h.dir, "agent6"))).rejects.toThrow(/ENOENT/);
  });

  it("says how to build a missing bundle", async () => {
    const err = await rejection(
      ensureAgent(h.conn, { agentDir: join(h.dir, "agent4"), nodeBin: process.execPath, bundle: { path: join(h.dir, "none.js") } }),
    );
    expect(err.hint).toMatch(/npm run build/);
  });

  it("resolves the default bundle path from the package, not the working directory", () => {
    expect(defaultBundlePath()).toBe(join(packageRoot(), "dist", "agent.js"));
  });
});

describe("runAgent", () => {
  it("runs a batch in order and types each result", async () => {
    const path = join(h.dir, "batch", "myid");
    const state_dir = join(h.dir, "state");
    const responses = await runAgent(h.conn, h.agent, [
      { op: "write_file", args: { path, content: "1\n", state_dir } },
      { op: "facts", args: { data_dir: join(h.dir, "batch") } },
    ]);
    expect(responses.map((r) => [r.index, r.op])).toEqual([[0, "write_file"], [1, "facts"]]);
    expect(expectSuccess("test-client", "write_file", responses[0]!).changed).toBe(true);
    // The facts request saw the file the write_file before it created.
    expect(expectSuccess("test-client", "facts", responses[1]!).data.myid).toBe("1");
  });

  it("turns an agent failure into a ZkfleetError with the agent's hint", async () => {
    const err = await rejection(
      agentCall(h.conn, h.agent, "install_dist", { tarball: join(h.dir, "missing.tgz"), version: "1.0", install_dir: join(h.dir, "opt") }),
    );
    expect(err.message).toMatch(/install_dist on test-client failed \[not_found\]/);
    expect(err.hint).toMatch(/Push the tarball/);
  });

  it("rejects a request that does not match the schema before starting the agent", async () => {
    const err = await rejection(
      runAgent(h.conn, h.agent, [{ op: "write_file", args: { path: "relative", content: "", state_dir: "/x" } }]),
    );
    expect(err.message).toMatch(/request 0 for test-client is invalid/);
  });

  // Real processes standing in for a broken agent file on a host.
  const fakeAgents: Record<string, string> = {
    garbage: `console.log("Segmentation fault (core dumped)")`,
    oldProtocol: `console.log(JSON.stringify({ type: "hello", protocol: ${PROTOCOL_VERSION + 1}, agent_version: "9", node: "v20.0.0", pid: 1 }))`,
    crash: `console.log(JSON.stringify({ type: "hello", protocol: ${PROTOCOL_VERSION}, agent_version: "9", node: "v20.0.0", pid: 1 })); console.error("TypeError: boom at main.ts:12"); process.exit(3)`,
    forgedResponse: `console.log(JSON.stringify({ type: "hello", protocol: ${PROTOCOL_VERSION}, agent_version: "9", node: "v20.0.0", pid: 1 })); console.log(JSON.stringify({ type: "response", index: 0, op: "facts", result: { changed: "yes", message: 1 } }))`,
  };
  const cases: [keyof typeof fakeAgents, RegExp][] = [
    ["garbage", /does not start with a hello: Segmentation fault/],
    ["oldProtocol", new RegExp(`speaks protocol ${PROTOCOL_VERSION + 1}, this controller speaks ${PROTOCOL_VERSION}`)],
    ["crash", /stopped after 0 of 1 responses \(it exited with 3; stderr: TypeError: boom/],
    ["forgedResponse", /response 0 is not a valid message/],
  ];
  for (const [name, expected] of cases) {
    it(`rejects an agent that misbehaves: ${name}`, async () => {
      const script = join(h.dir, "fake", `${name}.js`);
      await mkdir(join(h.dir, "fake"), { recursive: true });
      await writeFile(script, fakeAgents[name]!);
      const err = await rejection(runAgent(h.conn, { node: process.execPath, remotePath: script }, [{ op: "facts", args: {} }]));
      expect(err.source).toBe("agent");
      expect(err.where).toBe("test-client");
      expect(err.message).toMatch(/^agent on test-client: /);
      expect(err.message).toMatch(expected);
    });
  }

  it("rejects responses that come out of order (pure decoding)", () => {
    const hello = JSON.stringify({ type: "hello", protocol: PROTOCOL_VERSION, agent_version: "x", node: "v20.0.0", pid: 5 });
    const response = (index: number, op: string) => JSON.stringify({ type: "response", index, op, result: { changed: false, message: "ok" } });
    const stdout = [hello, response(1, "status"), response(0, "facts")].join("\n");
    expect(() => decodeAgentOutput("h1", { code: 0, stdout, stderr: "" }, ["facts", "status"])).toThrow(/response 0 answers request 1/);
    const extra = [hello, response(0, "facts"), response(1, "facts")].join("\n");
    expect(() => decodeAgentOutput("h1", { code: 0, stdout: extra, stderr: "" }, ["facts"])).toThrow(/sent 2 responses for 1 requests/);
    const ok = [hello, response(0, "facts")].join("\n");
    expect(decodeAgentOutput("h1", { code: 0, stdout: ok, stderr: "" }, ["facts"]).hello.pid).toBe(5);
  });
});
