// The agent's file operations against a real temp directory, through the real
// bundle run by node over the LocalConnection: write_file, install_dist,
// facts and clean_data (without a running ZooKeeper; see zookeeper.test.ts).

import { execFile } from "node:child_process";
import { chmod, lstat, mkdir, readFile, readdir, readlink, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentCall, runAgent } from "../../controller/agent-client/client.js";
import { type AgentRequest, PROTOCOL_VERSION } from "../../common/protocol.js";
import { call, startHarness, type Harness } from "./harness.js";

const execFileP = promisify(execFile);
let h: Harness;

beforeAll(async () => {
  h = await startHarness("files");
});
afterAll(async () => {
  await h?.cleanup();
});

/** Every file below `dir`, relative, sorted. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    out.push(join(entry.parentPath, entry.name).slice(dir.length + 1));
  }
  return out.sort();
}

describe("protocol", () => {
  const run = async (lines: string[]) => {
    const r = await h.conn.run([h.agent.node, h.agent.remotePath], { stdin: lines.join("\n") + "\n" });
    expect(r.code).toBe(0);
    return r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  };

  it("says hello and rejects forged or broken requests, touching nothing", async () => {
    const target = join(h.dir, "forged", "x");
    const facts = await run([JSON.stringify({ op: "facts", args: { os_release: "/etc/os-release" } })]);
    expect(facts[0]).toMatchObject({ type: "hello", protocol: PROTOCOL_VERSION, node: process.version, agent_version: "0.1.0" });
    expect(facts[1].result.changed).toBe(false);
    expect(facts[1].result.data.node).toBe(process.version);
    const broken = [
      "this is not json",
      JSON.stringify({ op: "format_disk", args: {} }),
      JSON.stringify({ op: "write_file", args: { path: "relative/x", content: "x", state_dir: h.dir } }),
      JSON.stringify({ op: "write_file", args: { path: `${h.dir}/forged/../../x`, content: "x", state_dir: h.dir } }),
      JSON.stringify({ op: "write_file", args: { path: target, content: "x", state_dir: h.dir, owner: "root" } }),
    ];
    const out = [];
    for (const line of broken) out.push((await run([line]))[1]);
    for (const response of out) expect(response.result.error.code).toBe("invalid_request");
    expect(out[0].op).toBeNull();
    expect(out[2].result.error.message).toMatch(/absolute path/);
    expect(out[3].result.error.message).toMatch(/\.\./);
    expect(out[4].result.error.message).toMatch(/owner/);
    await expect(lstat(join(h.dir, "forged"))).rejects.toThrow(/ENOENT/);
  });

  it("answers every request of a batch, but runs none after the first that failed", async () => {
    const later = join(h.dir, "after-failure", "x");
    const out = await run([
      JSON.stringify({ op: "facts", args: {} }),
      JSON.stringify({ op: "write_file", args: { path: "relative/x", content: "x", state_dir: h.dir } }),
      JSON.stringify({ op: "write_file", args: { path: later, content: "x", state_dir: join(h.dir, "state") } }),
      "not even json",
    ]);
    expect(out.slice(1).map((r) => [r.index, r.op, r.result.error?.code ?? "ok"])).toEqual([
      [0, "facts", "ok"], [1, "write_file", "invalid_request"], [2, "write_file", "skipped"], [3, null, "skipped"],
    ]);
    expect(out[3].result.error.message).toBe("request 2 was not run: request 1 of the batch failed");
    await expect(lstat(join(h.dir, "after-failure"))).rejects.toThrow(/ENOENT/);
  });

  it("facts reads managed files as present, absent or unreadable, and follows zoo.cfg's dynamicConfigFile", async () => {
    const conf = join(h.dir, "facts-conf");
    await mkdir(join(conf, "a-directory"), { recursive: true });
    await writeFile(join(conf, "zoo.cfg"), `tickTime=2000\ndynamicConfigFile=${conf}/zoo.cfg.dynamic.100000000\n`);
    await writeFile(join(conf, "zoo.cfg.dynamic.100000000"), "server.1=zk1:2888:3888:participant;2181\n");
    const r = await agentCall(h.conn, h.agent, "facts", {
      files: [join(conf, "zoo.cfg"), join(conf, "missing"), join(conf, "a-directory")], zoo_cfg: join(conf, "zoo.cfg"),
    });
    expect(r.data.files).toEqual({
      [join(conf, "zoo.cfg")]: { state: "present", content: `tickTime=2000\ndynamicConfigFile=${conf}/zoo.cfg.dynamic.100000000\n`, mtime_ms: expect.any(Number) },
      [join(conf, "missing")]: { state: "absent" },
      [join(conf, "a-directory")]: { state: "unreadable", error: `${join(conf, "a-directory")} is a directory` },
    });
    expect(r.data.dynamic_config).toEqual({
      path: `${conf}/zoo.cfg.dynamic.100000000`, file: { state: "present", content: "server.1=zk1:2888:3888:participant;2181\n", mtime_ms: expect.any(Number) },
    });
  });

  it("facts reads through a link to a regular file (Debian's myid), not a dangling one; write_file still refuses to replace a link", async () => {
    const dir = join(h.dir, "facts-links");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "real-myid"), "3\n");
    await symlink(join(dir, "real-myid"), join(dir, "myid"));
    await symlink(join(dir, "gone"), join(dir, "dangling"));
    const r = await agentCall(h.conn, h.agent, "facts", { files: [join(dir, "myid"), join(dir, "dangling")] });
    expect(r.data.files).toEqual({
      [join(dir, "myid")]: { state: "present", content: "3\n", mtime_ms: expect.any(Number) },
      [join(dir, "dangling")]: { state: "unreadable", error: `${join(dir, "dangling")} is a symbolic link` },
    });
    const w = await call(h, { op: "write_file", args: { path: join(dir, "myid"), content: "4\n", state_dir: join(h.dir, "state") } });
    expect(w).toMatchObject({ error: { message: expect.stringContaining("is not a regular file") } });
    expect(await readFile(join(dir, "real-myid"), "utf8")).toBe("3\n");
  });
});

describe("write_file", () => {
  const args = () => ({ path: join(h.dir, "etc", "zk", "zoo.cfg"), content: "tickTime=2000\ninitLimit=10\n", mode: 0o640, state_dir: join(h.dir, "state") });

  it("has no check mode: a request asking for one is refused as invalid and changes nothing", async () => {
    // The protocol's schema is strict and shared by both ends: the client refuses to send it at all.
    await expect(call(h, { op: "write_file", args: args(), check: true } as unknown as AgentRequest)).rejects.toThrow(/is invalid: .*Unrecognized key: "check"/);
    await expect(lstat(join(h.dir, "etc"))).rejects.toThrow(/ENOENT/);
  });

  it("creates the file with its mode, then reports no change on the same content", async () => {
    const first = await agentCall(h.conn, h.agent, "write_file", args());
    expect(first.changed).toBe(true);
    expect(first.data.backup).toBeNull();
    expect(await readFile(args().path, "utf8")).toBe(args().content);
    expect((await stat(args().path)).mode & 0o7777).toBe(0o640);
    const second = await agentCall(h.conn, h.agent, "write_file", args());
    expect(second.changed).toBe(false);
    expect(second.diff).toBeUndefined();
  });

  it("backs up the previous content, diffs it, and leaves no temp file behind", async () => {
    const next = { ...args(), content: "tickTime=3000\ninitLimit=10\n" };
    const r = await agentCall(h.conn, h.agent, "write_file", next);
    expect(r.changed).toBe(true);
    expect(r.diff).toMatch(/^--- .*zoo\.cfg\n\+\+\+ .*zoo\.cfg\n/);
    expect(r.diff).toContain("-tickTime=2000\n+tickTime=3000");
    const backup = r.data.backup;
    expect(backup).toMatch(new RegExp(`^${h.dir}/state/backups/[0-9T-]+Z/`));
    expect(backup!.endsWith(args().path)).toBe(true);
    expect(await readFile(backup!, "utf8")).toBe(args().content);
    expect(await readFile(args().path, "utf8")).toBe(next.content);
    expect(await readdir(join(h.dir, "etc", "zk"))).toEqual(["zoo.cfg"]);
    // Old configs (an env file with a secret among them) are for the agent's user alone.
    const backups = join(h.dir, "state", "backups");
    for (const d of [join(h.dir, "state"), backups, join(backups, backup!.slice(backups.length + 1).split("/")[0]!)]) {
      expect((await stat(d)).mode & 0o777, d).toBe(0o700);
    }
  });

  it("tightens a state dir and backups dir an older zkfleet left 0755", async () => {
    await chmod(join(h.dir, "state"), 0o755);
    await chmod(join(h.dir, "state", "backups"), 0o755);
    const r = await agentCall(h.conn, h.agent, "write_file", { ...args(), content: "tickTime=4000\ninitLimit=10\n" });
    expect(r.data.backup).not.toBeNull();
    for (const d of [join(h.dir, "state"), join(h.dir, "state", "backups")]) expect((await stat(d)).mode & 0o777, d).toBe(0o700);
    await agentCall(h.conn, h.agent, "write_file", { ...args(), content: "tickTime=3000\ninitLimit=10\n" });
  });

  it("changes only the mode when only the mode differs", async () => {
    const r = await agentCall(h.conn, h.agent, "write_file", { ...args(), content: "tickTime=3000\ninitLimit=10\n", mode: 0o600 });
    expect(r.changed).toBe(true);
    expect(r.diff).toBe("mode 0640 -> 0600\n");
    expect(r.data.backup).toBeNull();
    expect((await stat(args().path)).mode & 0o7777).toBe(0o600);
  });

  it("refuses to replace a directory", async () => {
    const result = await call(h, { op: "write_file", args: { ...args(), path: join(h.dir, "etc") } });
    expect(result).toMatchObject({ error: { code: "refused" } });
    expect((await stat(join(h.dir, "etc"))).isDirectory()).toBe(true);
  });
});

async function makeTarball(name: string, files: Record<string, string>): Promise<string> {
  const src = join(h.dir, "tarsrc", name);
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(join(src, rel, ".."), { recursive: true });
    await writeFile(join(src, rel), content, { mode: 0o755 });
  }
  const tarball = join(h.dir, `${name}.tar.gz`);
  await execFileP("tar", ["-czf", tarball, "-C", join(h.dir, "tarsrc"), name]);
  return tarball;
}

describe("install_dist", () => {
  const installDir = () => join(h.dir, "opt", "zookeeper");

  it("unpacks a release, switches current, and is idempotent", async () => {
    const tarball = await makeTarball("apache-zookeeper-9.9.1-bin", { "bin/zkServer.sh": "#!/bin/sh\n", "lib/a.jar": "jar" });
    const args = { tarball, version: "9.9.1", install_dir: installDir(), set_current: true };

    const r = await agentCall(h.conn, h.agent, "install_dist", args);
    expect(r).toMatchObject({ changed: true, data: { unpacked: true, current_before: null, current_after: "9.9.1" } });
    expect(await readFile(join(installDir(), "releases", "9.9.1", "lib", "a.jar"), "utf8")).toBe("jar");
    expect(await readlink(join(installDir(), "current"))).toBe("releases/9.9.1");
    expect(await readdir(join(installDir(), "releases"))).toEqual(["9.9.1"]);

    const again = await agentCall(h.conn, h.agent, "install_dist", args);
    expect(again.changed).toBe(false);
  });

  it("switches current to a second release atomically and reports it as a diff", async () => {
    const tarball = await makeTarball("apache-zookeeper-9.9.2-bin", { "bin/zkServer.sh": "#!/bin/sh\n" });
    const r = await agentCall(h.conn, h.agent, "install_dist", { tarball, version: "9.9.2", install_dir: installDir(), set_current: true });
    expect(r.data).toMatchObject({ current_before: "9.9.1", current_after: "9.9.2" });
    expect(r.diff).toContain("-9.9.1\n+9.9.2");
    expect(await readlink(join(installDir(), "current"))).toBe("releases/9.9.2");
    expect((await readdir(installDir())).sort()).toEqual(["current", "releases"]);

    const facts = await agentCall(h.conn, h.agent, "facts", { install_dir: installDir() });
    expect(facts.data.releases).toEqual({ dir: installDir(), versions: ["9.9.1", "9.9.2"], current: "9.9.2" });
  });

  it("with no tarball, only switches current to a release already unpacked, and refuses one that is not", async () => {
    const back = await agentCall(h.conn, h.agent, "install_dist", { version: "9.9.1", install_dir: installDir(), set_current: true });
    expect(back.data).toMatchObject({ current_before: "9.9.2", current_after: "9.9.1", unpacked: false });
    expect(await readlink(join(installDir(), "current"))).toBe("releases/9.9.1");
    const missing = await call(h, { op: "install_dist", args: { version: "9.9.7", install_dir: installDir(), set_current: true } });
    expect(missing).toMatchObject({ error: { code: "not_found", message: expect.stringContaining("no tarball was given") } });
    expect(await readlink(join(installDir(), "current"))).toBe("releases/9.9.1");
    await agentCall(h.conn, h.agent, "install_dist", { version: "9.9.2", install_dir: installDir(), set_current: true });
  });

  it("refuses a tarball without bin/zkServer.sh and leaves no half release", async () => {
    const tarball = await makeTarball("not-zookeeper", { "README": "hello" });
    const result = await call(h, { op: "install_dist", args: { tarball, version: "6.6.6", install_dir: installDir() } });
    expect(result).toMatchObject({ error: { code: "refused" } });
    expect(await readdir(join(installDir(), "releases"))).toEqual(["9.9.1", "9.9.2"]);
  });

  it("refuses a tarball whose sha256 does not match", async () => {
    const tarball = await makeTarball("apache-zookeeper-9.9.3-bin", { "bin/zkServer.sh": "#!/bin/sh\n" });
    const args = { tarball, version: "9.9.3", install_dir: installDir(), sha256: "0".repeat(64) };
    const result = await call(h, { op: "install_dist", args });
    expect(result).toMatchObject({ error: { code: "refused" } });
    expect(await readdir(join(installDir(), "releases"))).toEqual(["9.9.1", "9.9.2"]);
  });
});

describe("facts and clean_data", () => {
  const dataDir = () => join(h.dir, "var", "zk");

  beforeAll(async () => {
    const v2 = join(dataDir(), "version-2");
    await mkdir(v2, { recursive: true });
    await writeFile(join(v2, "snapshot.100000000"), "s".repeat(10));
    await writeFile(join(v2, "snapshot.2a"), "s");
    await writeFile(join(v2, "log.100000001"), "l".repeat(7));
    await writeFile(join(v2, "acceptedEpoch"), "1");
    await writeFile(join(dataDir(), "myid"), "3\n");
    // A pid no process has: the kernel's pid_max is far below this.
    await writeFile(join(dataDir(), "zookeeper_server.pid"), "2000000000");
  });

  it("facts lists the data dir, the myid and the stale pid file", async () => {
    const r = await agentCall(h.conn, h.agent, "facts", { data_dir: dataDir(), config_dir: join(h.dir, "etc", "zk") });
    expect(r.data.myid).toBe("3");
    expect(r.data.process).toMatchObject({ state: "stale", pid: 2000000000 });
    expect(r.data.data_dir).toMatchObject({
      version2: true,
      highest_snapshot_zxid: "0x100000000",
      highest_log_zxid: "0x100000001",
      logs: [{ name: "log.100000001", size: 7, zxid: "0x100000001" }],
    });
    expect(r.data.data_dir?.snapshots).toHaveLength(2);
    expect(r.data.config_dir?.files).toEqual([{ name: "zoo.cfg", size: 27 }]);
  });

  it("clean_data moves aside without deleting; then has nothing to do", async () => {
    const before = await tree(dataDir());
    const r = await agentCall(h.conn, h.agent, "clean_data", { data_dir: dataDir() });
    expect(r.changed).toBe(true);
    expect(r.data.moved.map((m) => m.from)).toEqual([join(dataDir(), "version-2"), join(dataDir(), "zookeeper_server.pid")]);
    const [stamp] = await readdir(join(dataDir(), ".zkfleet-moved"));
    const moved = join(".zkfleet-moved", stamp!);
    expect(await tree(dataDir())).toEqual(
      [
        ".zkfleet-moved",
        moved,
        ...before.filter((p) => p !== "myid").map((p) => join(moved, p)),
        "myid",
      ].sort(),
    );
    expect(await readFile(join(dataDir(), moved, "version-2", "log.100000001"), "utf8")).toBe("l".repeat(7));

    const again = await agentCall(h.conn, h.agent, "clean_data", { data_dir: dataDir() });
    expect(again.changed).toBe(false);
  });

  it("clean_data refuses a .zkfleet-moved that is a symlink (it could lead outside the data dir)", async () => {
    const dir = join(h.dir, "var", "zk2");
    await mkdir(join(dir, "version-2"), { recursive: true });
    await execFileP("ln", ["-s", "/tmp", join(dir, ".zkfleet-moved")]);
    const result = await call(h, { op: "clean_data", args: { data_dir: dir } });
    expect(result).toMatchObject({ error: { code: "refused" } });
    expect((await stat(join(dir, "version-2"))).isDirectory()).toBe(true);
  });
});

describe("lock", () => {
  const path = () => join(h.dir, "state", "lock-e.json");
  const tokenOf = (run: string) => Buffer.from(run.padEnd(16, "-")).toString("hex").slice(0, 32);
  type Extra = { take_over?: { token: string; holder_gone: boolean }; lease_ms?: number };
  const lock = (action: "acquire" | "renew" | "release", run: string, extra: Extra = {}) =>
    agentCall(h.conn, h.agent, "lock", { path: path(), action, run, token: tokenOf(run), holder: `tester pid ${run}`, ...extra });
  /** The lease as if its last renewal was `ms` ago: the file's mtime is what the host judges. */
  const age = (ms: number) => utimes(path(), new Date(Date.now() - ms), new Date(Date.now() - ms));
  const fence = (run: string) => ({ path: path(), run, token: tokenOf(run) });
  const write = (target: string, run: string) =>
    call(h, { op: "write_file", args: { path: target, content: `${run}\n`, state_dir: join(h.dir, "state") }, fence: fence(run) });

  it("is taken once, taken again by the same token, refused to another run naming the holder and its lease, released by its run", async () => {
    expect((await lock("acquire", "run-a")).data).toEqual({ acquired: true, held_by: null, generation: 1 });
    expect((await lock("acquire", "run-a")).data).toMatchObject({ acquired: true, generation: 1 });
    const other = await lock("acquire", "run-b");
    expect(other.changed).toBe(false);
    expect(other.data).toMatchObject({ acquired: false, held_by: { run: "run-a", holder: "tester pid run-a", generation: 1, token: tokenOf("run-a") } });
    expect(other.data.held_by!.lease_left_ms).toBeGreaterThan(0);
    expect((await lock("release", "run-b")).changed).toBe(false);
    expect(JSON.parse(await readFile(path(), "utf8")).run).toBe("run-a");
    expect((await lock("release", "run-a")).changed).toBe(true);
    await expect(lstat(path())).rejects.toThrow(/ENOENT/);
  });

  it("is taken over only from the holder read, and only once its lease lapsed or its holder is known gone; the generation goes up", async () => {
    await lock("acquire", "run-a");
    const fresh = await lock("acquire", "run-b", { take_over: { token: tokenOf("run-a"), holder_gone: false } });
    expect(fresh.data.acquired).toBe(false);
    expect(fresh.message).toMatch(/its lease renewed \d+s ago and running \d+s more/);
    // A renewal stamps the lease again; its age is the file's mtime.
    await age(60_000);
    expect((await lock("acquire", "run-b")).data.held_by!.lease_left_ms).toBe(0);
    expect((await lock("acquire", "run-b", { take_over: { token: tokenOf("run-x"), holder_gone: false } })).data.acquired).toBe(false);
    expect((await lock("renew", "run-a")).data.acquired).toBe(true);
    expect((await lock("acquire", "run-b", { take_over: { token: tokenOf("run-a"), holder_gone: false } })).data.acquired).toBe(false);
    await age(60_000);
    const taken = await lock("acquire", "run-b", { take_over: { token: tokenOf("run-a"), holder_gone: false } });
    expect(taken.data).toMatchObject({ acquired: true, generation: 2, held_by: { run: "run-a", generation: 1 } });
    // The old holder's renewal and release leave the new holder's lock as it is.
    expect((await lock("renew", "run-a")).data).toMatchObject({ acquired: false, held_by: { run: "run-b", generation: 2 } });
    expect((await lock("release", "run-a")).changed).toBe(false);
    // A holder known gone (the controller saw its process exit) is taken over with its lease still running.
    expect((await lock("acquire", "run-c", { take_over: { token: tokenOf("run-b"), holder_gone: true } })).data).toMatchObject({ acquired: true, generation: 3 });
    expect((await lock("release", "run-c")).changed).toBe(true);
  });

  it("fences acting requests: refused (fenced, nothing done) once the lock file names another run, or none", async () => {
    const target = join(h.dir, "fenced", "zoo.cfg");
    await lock("acquire", "run-a");
    expect(await write(target, "run-a")).toMatchObject({ changed: true });
    await age(60_000);
    await lock("acquire", "run-b", { take_over: { token: tokenOf("run-a"), holder_gone: false } });
    const refused = await write(target, "run-a");
    expect(refused).toMatchObject({ error: { code: "fenced" } });
    expect("error" in refused && refused.error.message).toMatch(/names run run-b \(tester pid run-b\) since \S+, generation 2: the lock of run run-a was taken over/);
    expect(await readFile(target, "utf8")).toBe("run-a\n");
    // The rest of a batch after a refused request is not run either.
    const batch = await runAgent(h.conn, h.agent, [
      { op: "write_file", args: { path: target, content: "late\n", state_dir: join(h.dir, "state") }, fence: fence("run-a") },
      { op: "write_file", args: { path: target, content: "later\n", state_dir: join(h.dir, "state") } },
    ]);
    expect(batch.map((r) => ("error" in r.result ? r.result.error.code : "ok"))).toEqual(["fenced", "skipped"]);
    expect(await write(target, "run-b")).toMatchObject({ changed: true });
    // Reading is not fenced: a request without a fence runs whoever holds the lock.
    expect(await call(h, { op: "facts", args: { files: [target] } })).toMatchObject({ data: { files: { [target]: { content: "run-b\n" } } } });
    await lock("release", "run-b");
    expect(await write(target, "run-b")).toMatchObject({ error: { code: "fenced", message: expect.stringMatching(/is gone: the lock of run run-b was taken over/) } });
    expect(await readFile(target, "utf8")).toBe("run-b\n");
  });

  it("reads a lock file written before leases (no token, no generation) as held, its lease counted from its last write", async () => {
    await writeFile(path(), JSON.stringify({ run: "old-run", holder: "old pid 1", since: "2020-01-01T00:00:00Z" }) + "\n");
    const seen = await lock("acquire", "run-a");
    expect(seen.data).toMatchObject({ acquired: false, held_by: { run: "old-run", generation: 0, token: "", process: null } });
    expect(seen.data.held_by!.lease_left_ms).toBeGreaterThan(0);
    await age(60_000);
    expect((await lock("acquire", "run-a", { take_over: { token: "", holder_gone: false } })).data).toMatchObject({ acquired: true, generation: 1 });
    await lock("release", "run-a");
  });

  it("is kept in a state dir only its owner may enter", async () => {
    const fresh = join(h.dir, "fresh-agent-dir", "state", "lock-f.json");
    const args = { path: fresh, run: "run-c", token: tokenOf("run-c"), holder: "tester" };
    await agentCall(h.conn, h.agent, "lock", { ...args, action: "acquire" });
    expect((await stat(join(h.dir, "fresh-agent-dir", "state"))).mode & 0o777).toBe(0o700);
    await agentCall(h.conn, h.agent, "lock", { ...args, action: "release" });
  });
});
