// The agent over a real OpenSSH server (sshd on its registered /24, ssh2 client):
// the bundle is pushed over SFTP once, and a batch goes through stdin/EOF of
// an exec channel exactly as it does on a fleet host.

import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentCall, ensureAgent, expectSuccess, runAgent, type AgentHandle } from "../../controller/agent-client/client.js";
import { connectSsh } from "../../controller/connection/ssh.js";
import type { Connection } from "../../controller/connection/types.js";
import { ZkfleetError } from "../../common/errors.js";
import { makeKey, makeTempDir, startSshd, type Sshd } from "../helpers/sshd.js";
import { buildTestBundle } from "./harness.js";
import { addressIn } from "../helpers/subnets.js";

let dir: string;
let sshd: Sshd;
let conn: Connection;
let bundlePath: string;
let agent: AgentHandle;

beforeAll(async () => {
  dir = await makeTempDir("zkfleet-agent-ssh");
  const key = await makeKey(dir, "id_ed25519");
  sshd = await startSshd({ address: addressIn("agent-ssh", 10), authorizedKeys: [key.publicLine] });
  conn = await connectSsh({
    host: "zk-agent-ssh",
    hostname: sshd.address,
    port: sshd.port,
    user: "root",
    identityFiles: [key.privatePath],
    knownHostsFile: join(dir, "known_hosts"),
    acceptNewHostKeys: true,
    become: false,
    connectTimeoutMs: 10_000,
  });
  bundlePath = await buildTestBundle(dir);
});

afterAll(async () => {
  await conn?.close();
  await sshd?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("agent over SSH", () => {
  it("pushes the bundle once", async () => {
    const opts = { agentDir: join(dir, "remote", "agent"), nodeBin: process.execPath, bundle: { path: bundlePath } };
    agent = await ensureAgent(conn, opts);
    expect(agent.pushed).toBe(true);
    expect(await readFile(agent.remotePath)).toEqual(await readFile(bundlePath));
    expect((await ensureAgent(conn, opts)).pushed).toBe(false);
  });

  it("runs a batch through the exec channel and types the results", async () => {
    const path = join(dir, "remote", "etc", "myid");
    const responses = await runAgent(conn, agent, [
      { op: "write_file", args: { path, content: "7\n", state_dir: join(dir, "remote", "state") } },
      { op: "facts", args: { data_dir: join(dir, "remote", "etc") } },
      { op: "status", args: { host: addressIn("agent-ssh", 11), port: 2181, timeout_ms: 2000 } },
    ]);
    expect(expectSuccess(conn.host, "write_file", responses[0]!).changed).toBe(true);
    expect(expectSuccess(conn.host, "facts", responses[1]!).data.myid).toBe("7");
    expect(expectSuccess(conn.host, "status", responses[2]!).data.running).toBe(false);
    const again = await agentCall(conn, agent, "write_file", { path, content: "7\n", state_dir: join(dir, "remote", "state") });
    expect(again.changed).toBe(false);
  });

  it("names the host when node is missing there", async () => {
    const err = await ensureAgent(conn, { agentDir: join(dir, "remote", "a2"), nodeBin: "/nonexistent/node", bundle: { path: bundlePath } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ZkfleetError);
    expect((err as ZkfleetError).message).toMatch(/no usable node at \/nonexistent\/node on zk-agent-ssh/);
    expect((err as ZkfleetError).hint).toMatch(/agent\.node/);
  });
});
