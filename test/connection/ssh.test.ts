// SshConnection against real OpenSSH servers on their registered /24.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import { connectSsh, type SshTarget } from "../../controller/connection/ssh.js";
import { fingerprint } from "../../controller/connection/known-hosts.js";
import type { Connection } from "../../controller/connection/types.js";
import { converse } from "../helpers/converse.js";
import { freePort, makeKey, makeTempDir, startSshd, waitFor, type KeyPair, type Sshd } from "../helpers/sshd.js";
import { subnet } from "../helpers/subnets.js";

const NET = subnet("connection-ssh");

const execFileP = promisify(execFile);
const NASTY = ["a b", "it's", "'", '"$HOME"', "$(touch /tmp/zkfleet-pwned)", "`id`", "; echo pwned", "a\nb", "\\", "*", "-n", "ünïcödé 🦓", ""];

async function keyscan(sshd: Sshd): Promise<string> {
  return (await execFileP("ssh-keyscan", ["-p", String(sshd.port), sshd.address])).stdout;
}

async function failure(p: Promise<unknown>): Promise<ZkfleetError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ZkfleetError)) throw new Error(`expected a ZkfleetError, got ${String(err)}`);
  return err;
}

async function hostFingerprint(key: KeyPair): Promise<string> {
  return fingerprint(Buffer.from(key.publicLine.split(" ")[1] ?? "", "base64"));
}

describe("SshConnection against OpenSSH", () => {
  let dir = "";
  let sshd: Sshd;
  let jump: Sshd;
  let clientKey: KeyPair;
  let otherKey: KeyPair;
  let lockedKey: KeyPair;
  let knownHosts = "";
  let conn: Connection;
  let seq = 0;

  /** A target for the main server, strict against a keyscanned known_hosts unless overridden. */
  const target = (over: Partial<SshTarget> = {}): SshTarget => ({
    host: "zk-a",
    hostname: sshd.address,
    port: sshd.port,
    user: "root",
    identityFiles: [clientKey.privatePath],
    knownHostsFile: knownHosts,
    acceptNewHostKeys: false,
    become: false,
    connectTimeoutMs: 10_000,
    ...over,
  });
  const freshKnownHosts = () => join(dir, `known_hosts.${++seq}`);

  beforeAll(async () => {
    dir = await makeTempDir("zkfleet-ssh-test");
    clientKey = await makeKey(dir, "id_ed25519");
    otherKey = await makeKey(dir, "id_other");
    lockedKey = await makeKey(dir, "id_locked", "ed25519", "correct horse");
    const rsaClient = await makeKey(dir, "id_rsa", "rsa");
    sshd = await startSshd({
      address: `${NET}.10`,
      hostKeyTypes: ["ed25519", "rsa"],
      authorizedKeys: [clientKey.publicLine, rsaClient.publicLine, lockedKey.publicLine],
    });
    jump = await startSshd({ address: `${NET}.11`, authorizedKeys: [clientKey.publicLine], logLevel: "DEBUG" });
    knownHosts = join(dir, "known_hosts");
    await writeFile(knownHosts, (await keyscan(sshd)) + (await keyscan(jump)));
    conn = await connectSsh(target());
  });

  afterAll(async () => {
    await conn?.close();
    await jump?.stop();
    await sshd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  describe("run", () => {
    it("delivers nasty argv to the remote program exactly", async () => {
      const r = await conn.run(["printf", "%s\\0", ...NASTY]);
      expect(r.code).toBe(0);
      expect(r.stdout.split("\0").slice(0, -1)).toEqual(NASTY);
      await expect(stat("/tmp/zkfleet-pwned")).rejects.toThrow();
    });

    it("returns exit codes, stderr and signals as results", async () => {
      expect(await conn.run(["sh", "-c", "echo to-err >&2; echo to-out; exit 7"])).toEqual({ code: 7, stdout: "to-out\n", stderr: "to-err\n" });
      expect(await conn.run(["sh", "-c", "kill -KILL $$"])).toMatchObject({ code: 137, signal: "SIGKILL" });
      expect((await conn.run(["no-such-program-zkfleet"])).code).toBe(127);
    });

    it("writes stdin then closes it, and streams stdout", async () => {
      const chunks: Buffer[] = [];
      const big = "x".repeat(300_000) + "\n";
      const r = await conn.run(["cat"], { stdin: big, onStdout: (c) => chunks.push(c) });
      expect(r.stdout).toBe(big);
      expect(Buffer.concat(chunks).toString()).toBe(big);
      expect((await conn.run(["cat"])).stdout).toBe(""); // no stdin: EOF at once, no hang
    });

    it("pipes a stdin stream as it comes, one answer before the next line, and ends stdin with it", async () => {
      expect(await converse(conn, ["1", "two", "3"])).toBe("got 1\ngot two\ngot 3\n");
    });

    it("runs many commands at once on one connection, beyond sshd's MaxSessions", async () => {
      const results = await Promise.all(Array.from({ length: 25 }, (_, i) => conn.run(["echo", String(i)])));
      expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 25 }, (_, i) => String(i)));
    });

    it("kills a command that outlives its timeout and reports it", async () => {
      const marker = `31.${process.pid}`;
      const err = await failure(conn.run(["sleep", marker], { timeoutMs: 300 }));
      expect(err.message).toMatch(/sleep on zk-a did not finish within 300 ms/);
      const gone = await waitFor(async () => (await conn.run(["pgrep", "-f", `sleep ${marker}`])).code === 1);
      expect(gone).toBe(true);
    });
  });

  describe("put / get over SFTP", () => {
    it("round-trips bytes with the requested mode, replacing the file atomically", async () => {
      const path = join(dir, "remote zoo.cfg");
      await writeFile(path, "old\n");
      const reader = await open(path, "r");
      try {
        const bytes = Buffer.concat([Buffer.from([0, 255, 10, 13]), Buffer.alloc(100_000, 7)]);
        await conn.put(path, bytes, 0o640);
        expect(await conn.get(path)).toEqual(bytes);
        expect((await conn.run(["stat", "-c", "%a", path])).stdout.trim()).toBe("640");
        // The old inode is intact for a reader that had it open: rename, not rewrite.
        expect((await reader.readFile()).toString()).toBe("old\n");
      } finally {
        await reader.close();
      }
      const leftovers = await conn.run(["sh", "-c", 'ls -a "$1" | grep zkfleet || true', "sh", dir]);
      expect(leftovers.stdout).toBe("");
    });

    it("names host and path when the file is missing or the directory is", async () => {
      const missing = await failure(conn.get(join(dir, "nope")));
      expect(missing.message).toBe(`${join(dir, "nope")} does not exist on zk-a`);
      expect(missing.where).toBe(`zk-a:${join(dir, "nope")}`);
      const noDir = await failure(conn.put(join(dir, "no-dir", "f"), "x"));
      expect(noDir.where).toBe(`zk-a:${join(dir, "no-dir", "f")}`);
    });

    it("puts a file of several MB, not a multiple of the write size, byte-exact", async () => {
      const path = join(dir, "release.tar.gz");
      // 5 MiB + 12345: many pipelined writes and a short last one.
      const bytes = randomBytes(5 * 1024 * 1024 + 12_345);
      await conn.put(path, bytes, 0o600);
      expect((await readFile(path)).equals(bytes)).toBe(true);
      expect((await conn.get(path)).equals(bytes)).toBe(true);
      expect((await conn.run(["stat", "-c", "%a %s", path])).stdout.trim()).toBe(`600 ${bytes.length}`);
      const leftovers = await conn.run(["sh", "-c", 'ls -a "$1" | grep zkfleet || true', "sh", dir]);
      expect(leftovers.stdout).toBe("");
    });

    it("a disk that fills up mid-put leaves no temp file and the destination as it was", async () => {
      // A namespace user makes the helper run sshd in its own mount namespace: a
      // tmpfs mounted over SSH there is private to that sshd, the machine never sees it.
      const small = await startSshd({
        address: `${NET}.13`,
        authorizedKeys: [clientKey.publicLine],
        users: [{ name: "zkdiskfull", uid: 4251 }],
      });
      try {
        const file = freshKnownHosts();
        await writeFile(file, await keyscan(small));
        const c = await connectSsh(target({ host: "zk-full", hostname: small.address, port: small.port, knownHostsFile: file }));
        try {
          const disk = join(dir, "small-disk");
          const mounted = await c.run(["sh", "-c", 'mkdir -p "$1" && mount -t tmpfs -o size=1m zkfleet-test "$1" && printf old > "$1/zoo.tar.gz"', "sh", disk]);
          expect(mounted).toMatchObject({ code: 0, stderr: "" });
          const used = async () => (await c.run(["df", "--output=used", disk])).stdout;
          const before = await used();
          // 3 MiB into 1 MiB: the open succeeds, writes fail part way (ENOSPC).
          const err = await failure(c.put(join(disk, "zoo.tar.gz"), randomBytes(3 * 1024 * 1024)));
          expect(err.message.startsWith(`cannot write ${disk}/zoo.tar.gz on zk-full: `)).toBe(true);
          expect(err.where).toBe(`zk-full:${disk}/zoo.tar.gz`);
          expect((await c.run(["ls", "-A", disk])).stdout).toBe("zoo.tar.gz\n");
          expect((await c.run(["cat", join(disk, "zoo.tar.gz")])).stdout).toBe("old");
          // The temp file is closed as well as unlinked: its blocks are free again.
          expect(await used()).toBe(before);
          // And the connection is still good for the next put.
          await c.put(join(disk, "zoo.tar.gz"), "new");
          expect((await c.run(["cat", join(disk, "zoo.tar.gz")])).stdout).toBe("new");
        } finally {
          await c.close();
        }
      } finally {
        await small.stop();
      }
    });
  });

  describe("host keys", () => {
    it("refuses an unknown host, showing the fingerprint ssh would show", async () => {
      const err = await failure(connectSsh(target({ knownHostsFile: freshKnownHosts() })));
      const ed25519 = sshd.hostKeys.find((k) => k.publicLine.startsWith("ssh-ed25519"));
      expect(err.message).toContain(`host key of zk-a ([${NET}.10]:${sshd.port}) is not known`);
      expect(err.message).toContain(await hostFingerprint(ed25519 as KeyPair));
      expect(err.hint).toMatch(/--accept-new-host-keys/);
      expect(err.hint).toMatch(new RegExp(`ssh-keyscan -p \\d+ '${NET}.10'`));
    });

    it("accepts and records a new host once, then checks strictly", async () => {
      const file = freshKnownHosts();
      const first = await connectSsh(target({ knownHostsFile: file, acceptNewHostKeys: true }));
      await first.close();
      const { stdout } = await execFileP("ssh-keygen", ["-F", `[${NET}.10]:${sshd.port}`, "-f", file]);
      expect(stdout).toContain("ssh-ed25519");
      const second = await connectSsh(target({ knownHostsFile: file }));
      expect((await second.run(["true"])).code).toBe(0);
      await second.close();
    });

    it("accepts hashed entries (ssh-keygen -H) and asks for the known key type first", async () => {
      const file = freshKnownHosts();
      const rsaOnly = (await keyscan(sshd)).split("\n").filter((l) => l.includes(" ssh-rsa "));
      await writeFile(file, rsaOnly.join("\n") + "\n");
      await execFileP("ssh-keygen", ["-H", "-f", file]);
      expect(await readFile(file, "utf8")).toMatch(/^\|1\|/);
      const c = await connectSsh(target({ knownHostsFile: file }));
      await c.close();
    });

    it("refuses a revoked key", async () => {
      const file = freshKnownHosts();
      const ed = sshd.hostKeys[0] as KeyPair;
      await writeFile(file, `${await keyscan(sshd)}@revoked * ${ed.publicLine}\n`);
      const err = await failure(connectSsh(target({ knownHostsFile: file })));
      expect(err.message).toMatch(/REVOKED/);
    });

    it("refuses a changed key, even with accept-new, naming the line and the fix", async () => {
      const moving = await startSshd({ address: `${NET}.12`, authorizedKeys: [clientKey.publicLine] });
      try {
        const file = freshKnownHosts();
        await writeFile(file, "# first line\n");
        const t = target({ hostname: moving.address, port: moving.port, knownHostsFile: file, acceptNewHostKeys: true, host: "zk-moving" });
        await (await connectSsh(t)).close();
        const oldFp = await hostFingerprint(moving.hostKeys[0] as KeyPair);
        await moving.regenerateHostKeys();
        const err = await failure(connectSsh(t));
        expect(err.message).toContain("HOST KEY FOR zk-moving");
        expect(err.message).toContain("possible man-in-the-middle");
        expect(err.message).toContain(oldFp);
        expect(err.message).toContain(await hostFingerprint(moving.hostKeys[0] as KeyPair));
        expect(err.where).toBe(`${file}:2`);
        expect(err.hint).toContain(`ssh-keygen -f '${file}' -R '[${NET}.12]:${moving.port}'`);
        // And the suggested command really is the fix.
        await execFileP("ssh-keygen", ["-f", file, "-R", `[${NET}.12]:${moving.port}`]);
        await (await connectSsh(t)).close();
      } finally {
        await moving.stop();
      }
    });
  });

  describe("authentication", () => {
    it("names user@host and every key tried when the server refuses them", async () => {
      const err = await failure(connectSsh(target({ identityFiles: [otherKey.privatePath, join(dir, "absent")] })));
      expect(err.message).toContain(`authentication failed for root@${NET}.10 (zk-a)`);
      expect(err.message).toContain(`tried ${otherKey.privatePath} (ssh-ed25519)`);
      expect(err.message).toContain(`${join(dir, "absent")} (not found)`);
    });

    it("explains that a passphrase-protected key needs ssh-agent", async () => {
      const err = await failure(connectSsh(target({ identityFiles: [lockedKey.privatePath] })));
      expect(err.message).toContain(`${lockedKey.privatePath} (protected by a passphrase)`);
      expect(err.hint).toMatch(/ssh-agent/);
    });

    it("authenticates through ssh-agent when SSH_AUTH_SOCK is given", async () => {
      const sock = join(dir, "agent.sock");
      const agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
      try {
        await waitFor(async () => stat(sock).then(() => true, () => false));
        await execFileP("ssh-add", [clientKey.privatePath], { env: { ...process.env, SSH_AUTH_SOCK: sock } });
        const c = await connectSsh(target({ identityFiles: [], agentSocket: sock }));
        expect((await c.run(["whoami"])).stdout).toBe("root\n");
        await c.close();
      } finally {
        agent.kill("SIGTERM");
      }
    });
  });

  describe("unreachable hosts", () => {
    it("reports a refused connection with host:port", async () => {
      const port = await freePort(`${NET}.250`);
      const err = await failure(connectSsh(target({ hostname: `${NET}.250`, port })));
      expect(err.message).toContain(`cannot connect to zk-a (root@${NET}.250:${port}): connection refused`);
      expect(err.where).toBe(`${NET}.250:${port}`);
    });

    it("gives up on a server that never speaks SSH after the connect timeout", async () => {
      const accepted: Socket[] = [];
      const silent: Server = createServer((sock) => accepted.push(sock));
      await new Promise<void>((r) => silent.listen(0, `${NET}.251`, r));
      const port = (silent.address() as { port: number }).port;
      try {
        const err = await failure(connectSsh(target({ hostname: `${NET}.251`, port, connectTimeoutMs: 400 })));
        expect(err.message).toContain("no SSH handshake within 400 ms");
      } finally {
        for (const sock of accepted) sock.destroy();
        silent.close();
      }
    });
  });

  describe("ProxyJump", () => {
    const jumpTarget = (over: Partial<SshTarget> = {}): SshTarget => ({
      ...target({ host: "bastion", hostname: jump.address, port: jump.port }),
      ...over,
    });

    it("reaches the target through the jump host, with host keys checked on both", async () => {
      const c = await connectSsh(target({ proxyJump: jumpTarget() }));
      try {
        expect((await c.run(["printf", "%s", "via jump"])).stdout).toBe("via jump");
        expect(await c.get(knownHosts)).toEqual(await readFile(knownHosts));
        expect(jump.log()).toContain(`server_request_direct_tcpip: originator 127.0.0.1 port 0, target ${NET}.10 port ${sshd.port}`);
      } finally {
        await c.close();
      }
    });

    it("refuses an unknown jump host before going further", async () => {
      const file = freshKnownHosts();
      await writeFile(file, await keyscan(sshd)); // target known, jump host not
      const err = await failure(connectSsh(target({ knownHostsFile: file, proxyJump: jumpTarget({ knownHostsFile: file }) })));
      expect(err.message).toContain("host key of bastion");
    });

    it("reports a target the jump host cannot reach", async () => {
      const port = await freePort(`${NET}.252`);
      const err = await failure(connectSsh(target({ hostname: `${NET}.252`, port, proxyJump: jumpTarget() })));
      expect(err.message).toContain(`cannot reach zk-a (root@${NET}.252:${port} via bastion) from the jump host`);
    });
  });

  it("fails fast and clearly once closed", async () => {
    const c = await connectSsh(target());
    await c.close();
    const err = await failure(c.run(["true"]));
    expect(err.message).toMatch(/zk-a/);
  });
});
