// ConnectionPool over real SSH connections (sshd on a registered /24), plus its semaphore.
import { execFile } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import { ConnectionPool, Semaphore } from "../../controller/connection/pool.js";
import { connectSsh, type SshTarget } from "../../controller/connection/ssh.js";
import { freePort, makeKey, makeTempDir, startSshd, waitFor, type Sshd } from "../helpers/sshd.js";
import { subnet } from "../helpers/subnets.js";

const NET = subnet("connection-pool");

const execFileP = promisify(execFile);

describe("ConnectionPool", () => {
  let dir = "";
  let sshd: Sshd;
  let targets: Record<string, SshTarget> = {};
  let opened: string[] = [];
  const open = (host: string) => {
    opened.push(host);
    const t = targets[host];
    if (!t) throw new Error(`no target ${host}`);
    return connectSsh(t);
  };

  beforeAll(async () => {
    dir = await makeTempDir("zkfleet-pool");
    const key = await makeKey(dir, "id");
    sshd = await startSshd({ address: `${NET}.30`, authorizedKeys: [key.publicLine] });
    const knownHosts = join(dir, "known_hosts");
    await writeFile(knownHosts, (await execFileP("ssh-keyscan", ["-p", String(sshd.port), sshd.address])).stdout);
    const base = {
      hostname: sshd.address,
      port: sshd.port,
      user: "root",
      identityFiles: [key.privatePath],
      knownHostsFile: knownHosts,
      acceptNewHostKeys: false,
      become: false,
      connectTimeoutMs: 5000,
    };
    const deadPort = await freePort(`${NET}.253`);
    targets = {
      dead: { ...base, host: "dead", hostname: `${NET}.253`, port: deadPort },
      ...Object.fromEntries(["a", "b", "c", "d"].map((h) => [h, { ...base, host: h }])),
    };
  });

  afterAll(async () => {
    await sshd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("runs at most `limit` hosts at once, and a dead host is just its own result", async () => {
    opened = [];
    const pool = new ConnectionPool(open);
    let active = 0;
    let peak = 0;
    try {
      const results = await pool.forEachHost(["dead", "a", "b", "c", "d"], 2, async (conn, host) => {
        active++;
        peak = Math.max(peak, active);
        // Hold the slot until a second host is in flight, so a pool that ran one at a time would show peak 1.
        await waitFor(() => active >= 2);
        const r = await conn.run(["echo", host]);
        active--;
        return r.stdout.trim();
      });
      expect(peak).toBe(2);
      expect(results.map((r) => r.host)).toEqual(["dead", "a", "b", "c", "d"]);
      expect(results.slice(1).map((r) => (r.ok ? r.value : "failed"))).toEqual(["a", "b", "c", "d"]);
      const dead = results[0];
      expect(dead?.ok).toBe(false);
      expect(dead && !dead.ok && dead.error instanceof ZkfleetError && dead.error.message).toMatch(/cannot connect to dead.*connection refused/);
    } finally {
      await pool.closeAll();
    }
  });

  it("opens one connection per host, shared by concurrent callers, reused later", async () => {
    opened = [];
    const pool = new ConnectionPool(open);
    try {
      const [first, second] = await Promise.all([pool.get("a"), pool.get("a")]);
      expect(first).toBe(second);
      expect(await pool.get("a")).toBe(first);
      expect(opened).toEqual(["a"]);
    } finally {
      await pool.closeAll();
    }
  });

  it("does not cache a failed connect, and closeAll closes everything", async () => {
    opened = [];
    const pool = new ConnectionPool(open);
    await expect(pool.get("dead")).rejects.toThrow(ZkfleetError);
    await expect(pool.get("dead")).rejects.toThrow(ZkfleetError);
    expect(opened).toEqual(["dead", "dead"]);
    const a = await pool.get("a");
    await pool.closeAll();
    await expect(a.run(["true"])).rejects.toThrow(/closed/);
  });
});

describe("Semaphore", () => {
  it("never lets more than `limit` holders in, and serves waiters in order", async () => {
    const gate = new Semaphore(2);
    const order: number[] = [];
    let active = 0;
    let peak = 0;
    const releases: Array<() => void> = [];
    const tasks = [0, 1, 2, 3, 4].map((i) =>
      gate.use(async () => {
        active++;
        peak = Math.max(peak, active);
        order.push(i);
        await new Promise<void>((r) => releases.push(r));
        active--;
      }),
    );
    for (let released = 0; released < 5; released++) {
      expect(await waitFor(() => releases.length > 0)).toBe(true);
      releases.shift()?.();
    }
    await Promise.all(tasks);
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it("refuses a limit below 1", () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });
});
