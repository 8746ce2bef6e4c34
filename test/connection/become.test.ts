// Non-root logins and become (sudo) against a real sshd. The test users exist
// only inside the sshd's private mount namespace (overlay on /etc, see
// helpers/sshd.ts), so the machine's own /etc/passwd and sudoers never change.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import { connectSsh, type SshTarget } from "../../controller/connection/ssh.js";
import type { Connection } from "../../controller/connection/types.js";
import { converse } from "../helpers/converse.js";
import { makeKey, makeTempDir, startSshd, type Sshd } from "../helpers/sshd.js";
import { addressIn } from "../helpers/subnets.js";

const execFileP = promisify(execFile);
const SUDO_INSTALLED = existsSync("/usr/bin/sudo");

describe("non-root logins and become", () => {
  let dir = "";
  let rootOnly = "";
  let sshd: Sshd;
  let base: Omit<SshTarget, "user">;
  const opened: Connection[] = [];
  const login = async (user: string, become = true) => {
    const c = await connectSsh({ ...base, host: `zk-${user}`, user, become });
    opened.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = await makeTempDir("zkfleet-become");
    rootOnly = join(dir, "root-only");
    await mkdir(rootOnly, { mode: 0o700 });
    const key = await makeKey(dir, "id");
    sshd = await startSshd({
      address: addressIn("connection-become", 40),
      authorizedKeys: [key.publicLine],
      users: [
        { name: "zkop", uid: 4242, sudoers: "zkop ALL=(ALL) NOPASSWD: ALL" },
        { name: "zkpw", uid: 4243, sudoers: "zkpw ALL=(ALL) ALL" },
        { name: "zknone", uid: 4244 },
      ],
    });
    const knownHosts = join(dir, "known_hosts");
    await writeFile(knownHosts, (await execFileP("ssh-keyscan", ["-p", String(sshd.port), sshd.address])).stdout);
    base = {
      host: "zk-b",
      hostname: sshd.address,
      port: sshd.port,
      identityFiles: [key.privatePath],
      knownHostsFile: knownHosts,
      acceptNewHostKeys: false,
      become: true,
      connectTimeoutMs: 10_000,
    };
  });

  afterAll(async () => {
    await Promise.allSettled(opened.map((c) => c.close()));
    await sshd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("logs in as a user that exists only in the sshd's namespace", async () => {
    const c = await login("zkop");
    expect((await c.run(["id", "-un"])).stdout).toBe("zkop\n");
    // The machine's real /etc does not know the user.
    await expect(execFileP("getent", ["passwd", "zkop"])).rejects.toThrow();
  });

  it("does not escalate when the connection is not configured for become", async () => {
    const c = await login("zkop", false);
    expect((await c.run(["id", "-u"], { become: true })).stdout).toBe("4242\n");
    const err = await c.put(join(rootOnly, "f"), "x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZkfleetError);
    expect((err as ZkfleetError).message).toMatch(/cannot write .*root-only\/f on zk-zkop: Permission denied/);
  });

  it.skipIf(SUDO_INSTALLED)("says sudo is missing when become needs it (this machine has no /usr/bin/sudo)", async () => {
    const c = await login("zkop");
    const err = await c.run(["id", "-u"], { become: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZkfleetError);
    expect((err as ZkfleetError).message).toBe("sudo is not installed on zk-zkop");
  });

  describe.skipIf(!SUDO_INSTALLED)(
    SUDO_INSTALLED ? "with sudo" : "with sudo — SKIPPED: /usr/bin/sudo is not installed on this machine",
    () => {
      it("escalates with sudo -n for run, put and get", async () => {
        const c = await login("zkop");
        expect((await c.run(["id", "-u"], { become: true })).stdout).toBe("0\n");
        expect((await c.run(["id", "-u"])).stdout).toBe("4242\n"); // only when asked
        const path = join(rootOnly, "it's secret");
        const bytes = Buffer.from([0, 1, 2, 200, 255, 10]);
        await c.put(path, bytes, 0o600);
        expect(await readFile(path)).toEqual(bytes);
        const st = await stat(path);
        expect([st.uid, st.mode & 0o7777]).toEqual([0, 0o600]);
        expect(await c.get(path)).toEqual(bytes);
        await expect(c.get(join(rootOnly, "missing"))).rejects.toThrow(/missing does not exist on zk-zkop/);
      });

      it("passes a stdin stream through sudo as it comes, as the agent session needs", async () => {
        const c = await login("zkop");
        expect(await converse(c, ["1", "two"], true)).toBe("got 1\ngot two\n");
      });

      it("explains a sudo that wants a password", async () => {
        const c = await login("zkpw");
        const err = await c.run(["true"], { become: true }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ZkfleetError);
        expect((err as ZkfleetError).message).toBe("sudo on zk-zkpw wants a password for zkpw");
        expect((err as ZkfleetError).hint).toMatch(/NOPASSWD/);
      });

      it("explains a user sudo does not know", async () => {
        const c = await login("zknone");
        const err = await c.run(["true"], { become: true }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ZkfleetError);
        expect((err as ZkfleetError).message).toMatch(/zknone may not use sudo on zk-zknone|sudo on zk-zknone wants a password/);
      });
    },
  );
});
