// start / status / stop / clean_data against a real ZooKeeper 3.8.0
// standalone server, unpacked by install_dist from the lab's tarball
// (dists/dists.ts) and bound to an address of its registered /24. Also: stop never signals
// a process it cannot tie to ZooKeeper (a `sleep` we own stands in for one).

import { spawn, execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentCall } from "../../controller/agent/client.js";
import { ensureDists } from "../../dists/dists.js";
import { defaultArtifactsDir } from "../../common/paths.js";
import { pollUntil } from "../helpers/lab.js";
import { call, startHarness, type Harness } from "./harness.js";
import { addressIn } from "../helpers/subnets.js";

const execFileP = promisify(execFile);
const HOST = addressIn("agent-zookeeper", 1);

let h: Harness;
let tarballs: Map<string, string>;
/** Every server pid a test saw start: afterAll kills the survivors, by pid. */
const started = new Set<number>();

/** One ZooKeeper installation on the "host": its directories, port and the agent requests for it. */
function server(name: string, port: number) {
  const dirs = () => ({
    install_dir: join(h.dir, name, "opt"),
    config_dir: join(h.dir, name, "etc"),
    data_dir: join(h.dir, name, "data"),
    log_dir: join(h.dir, name, "log"),
  });
  const configPath = () => join(dirs().config_dir, "zoo.cfg");
  const status = () => agentCall(h.conn, h.agent, "status", { host: HOST, port, timeout_ms: 3000 });
  const startArgs = () => ({ ...dirs(), env: { ZK_SERVER_HEAP: "256" } });
  return {
    port,
    dirs,
    configPath,
    startArgs,
    stopArgs: () => ({ data_dir: dirs().data_dir, config_path: configPath() }),
    status,
    install: (version: string) =>
      agentCall(h.conn, h.agent, "install_dist", { tarball: tarballs.get(version)!, version, install_dir: dirs().install_dir, set_current: true }),
    writeConfig: (whitelist: string) => {
      const cfg = ["tickTime=2000", `dataDir=${dirs().data_dir}`, `clientPort=${port}`, `clientPortAddress=${HOST}`, `4lw.commands.whitelist=${whitelist}`, "admin.enableServer=false", ""];
      return agentCall(h.conn, h.agent, "write_file", { path: configPath(), content: cfg.join("\n"), state_dir: join(h.dir, name, "state") });
    },
    /** With `probe`, start may return once the server answers srvr there, before zkServer.sh's own 1 s wait ends. */
    start: async (opts: { probe?: boolean } = {}) => {
      const r = await agentCall(h.conn, h.agent, "start", { ...startArgs(), ...(opts.probe ? { probe: { address: HOST, port } } : {}) });
      // Recorded before any assertion so afterAll can stop it whatever fails.
      if (r.data.pid !== null) started.add(r.data.pid);
      return r;
    },
    /** Bounded wait for the JVM to come up; the assertion is on what status says, not on how long it took. */
    statusWhenServing: async () => {
      const r = await pollUntil(async () => {
        const s = await status();
        return s.data.mode === undefined ? undefined : s;
      }, 60_000);
      expect(r, `ZooKeeper on port ${port} answers srvr within 60 s`).toBeDefined();
      return r!;
    },
  };
}

const zk = server("zk38", 2181);
let zkPid: number | undefined;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  // Cached in artifacts/ after the first build; built from Debian's packages otherwise.
  tarballs = await ensureDists({ cacheDir: defaultArtifactsDir(process.env), versions: ["3.4.13", "3.8.0"] });
  h = await startHarness("zookeeper");
  const installed = await zk.install("3.8.0");
  expect(installed.data.unpacked).toBe(true);
  await zk.writeConfig("*");
});

afterAll(async () => {
  // Only the servers this file started, by pid.
  for (const pid of started) if (alive(pid)) process.kill(pid, "SIGKILL");
  await h?.cleanup();
});

describe("a real ZooKeeper 3.8.0 standalone", () => {
  it("status of a server that is not running is running=false, not an error", async () => {
    const r = await zk.status();
    expect(r.data).toMatchObject({ running: false, address: `${HOST}:${zk.port}` });
  });

  it("start refuses a data_dir that is not the config's dataDir (the pid file would be elsewhere)", async () => {
    const result = await call(h, { op: "start", args: { ...zk.startArgs(), data_dir: join(h.dir, "elsewhere") } });
    expect(result).toMatchObject({ error: { code: "invalid_request" } });
    expect((result as { error: { message: string } }).error.message).toContain(`dataDir=${zk.dirs().data_dir}`);
  });

  it("start in check mode starts nothing", async () => {
    const r = await agentCall(h.conn, h.agent, "start", zk.startArgs(), { check: true });
    expect(r).toMatchObject({ changed: true, data: { pid: null } });
    expect(r.message).toMatch(/^would start ZooKeeper/);
    expect(existsSync(join(zk.dirs().data_dir, "zookeeper_server.pid"))).toBe(false);
  });

  it("starts, returns the pid, and a second start changes nothing", async () => {
    const r = await zk.start();
    expect(r.changed).toBe(true);
    zkPid = r.data.pid ?? undefined;
    expect(zkPid).toBeGreaterThan(0);
    expect(alive(zkPid!)).toBe(true);

    const again = await zk.start();
    expect(again).toMatchObject({ changed: false, data: { pid: zkPid, already_running: true } });

    const facts = await agentCall(h.conn, h.agent, "facts", { install_dir: zk.dirs().install_dir, data_dir: zk.dirs().data_dir });
    expect(facts.data.process).toMatchObject({ state: "running", pid: zkPid, config: zk.configPath() });
    expect(facts.data.releases).toMatchObject({ versions: ["3.8.0"], current: "3.8.0" });
  });

  it("status reports standalone, the version, and the zxid after a write", async () => {
    await zk.statusWhenServing();
    const zkCli = join(zk.dirs().install_dir, "current", "bin", "zkCli.sh");
    await execFileP(zkCli, ["-server", `${HOST}:${zk.port}`, "create", "/zkfleet-agent-test", "hello"], {
      timeout: 120_000,
      env: { ...process.env, ZOO_LOG_DIR: zk.dirs().log_dir, CLIENT_JVMFLAGS: "-Xmx64m" },
    });
    const r = await zk.status();
    expect(r.data).toMatchObject({
      running: true,
      imok: true,
      serving: true,
      mode: "standalone",
      words: { ruok: "ok", srvr: "ok", mntr: "ok", conf: "ok" },
    });
    expect(r.data.version).toMatch(/^3\.8\.0/);
    // createSession + create (+ closeSession): counter > 0 in epoch 0.
    expect(r.data.zxid?.epoch).toBe(0);
    expect(r.data.zxid?.counter).toBeGreaterThanOrEqual(2);
    expect(r.data.zxid?.hex).toBe(`0x${r.data.zxid!.counter.toString(16)}`);
    expect(r.data.conf?.clientPort).toBe(String(zk.port));
    expect(r.data.mntr?.zk_server_state).toBe("standalone");
    expect(r.data.node_count).toBeGreaterThanOrEqual(5);
    expect(r.data.raw.srvr).toContain("Mode: standalone");
  });

  it("clean_data refuses while ZooKeeper runs", async () => {
    const { data_dir } = zk.dirs();
    const result = await call(h, { op: "clean_data", args: { data_dir, config_path: zk.stopArgs().config_path } });
    expect(result).toMatchObject({ error: { code: "refused" } });
    expect((result as { error: { message: string } }).error.message).toContain(String(zkPid));
    expect(existsSync(join(data_dir, "version-2"))).toBe(true);
  });

  it("stop refuses a ZooKeeper started with another config", async () => {
    const result = await call(h, { op: "stop", args: { ...zk.stopArgs(), config_path: join(h.dir, "other", "zoo.cfg") } });
    expect(result).toMatchObject({ error: { code: "refused" } });
    expect(alive(zkPid!)).toBe(true);
  });

  it("stop in check mode stops nothing; stop stops it; a second stop changes nothing", async () => {
    const dry = await agentCall(h.conn, h.agent, "stop", zk.stopArgs(), { check: true });
    expect(dry).toMatchObject({ changed: true, data: { pid: zkPid } });
    expect(alive(zkPid!)).toBe(true);

    const r = await agentCall(h.conn, h.agent, "stop", zk.stopArgs());
    expect(r).toMatchObject({ changed: true, data: { pid: zkPid, signal: "SIGTERM", removed_pid_file: true } });
    expect(existsSync(join(zk.dirs().data_dir, "zookeeper_server.pid"))).toBe(false);
    expect((await zk.status()).data.running).toBe(false);

    const again = await agentCall(h.conn, h.agent, "stop", zk.stopArgs());
    expect(again.changed).toBe(false);
  });

  it("after a restart with only srvr whitelisted, status says which words were refused", async () => {
    const written = await zk.writeConfig("srvr");
    expect(written.diff).toContain("-4lw.commands.whitelist=*\n+4lw.commands.whitelist=srvr");
    const started = await zk.start({ probe: true });
    // Start returns once the server answers srvr, or when zkServer.sh's own one-second wait ends if the JVM is slower
    // (a loaded machine): both are a successful start. When it says the server answers, it must, without waiting.
    expect(started.message).toMatch(new RegExp(`^started ZooKeeper as pid \\d+(; it answers on ${HOST}:${zk.port})?$`));
    zkPid = started.data.pid ?? undefined;
    if (started.message.includes("it answers on")) expect((await zk.status()).data.words.srvr).toBe("ok");
    const r = await zk.statusWhenServing();
    expect(r.data.words).toEqual({ ruok: "not_whitelisted", srvr: "ok", mntr: "not_whitelisted", conf: "not_whitelisted" });
    expect(r.data.imok).toBeUndefined();
    expect(r.data.mntr).toBeUndefined();
    expect(r.data.mode).toBe("standalone");
    // The znode written before the restart is still there: its zxid was replayed from the log.
    expect(r.data.zxid?.counter).toBeGreaterThanOrEqual(2);
    expect(r.data.raw.ruok).toMatch(/not in the whitelist/);
    const stopped = await agentCall(h.conn, h.agent, "stop", zk.stopArgs());
    expect(stopped.data.pid).toBe(zkPid);
  });

  it("clean_data then moves the data aside, keeping every file", async () => {
    const { data_dir } = zk.dirs();
    const before = await readdir(join(data_dir, "version-2"));
    expect(before.some((f) => f.startsWith("log."))).toBe(true);
    const r = await agentCall(h.conn, h.agent, "clean_data", { data_dir, config_path: zk.stopArgs().config_path });
    expect(r.changed).toBe(true);
    const moved = r.data.moved.find((m) => m.from === join(data_dir, "version-2"));
    expect(moved).toBeDefined();
    expect(await readdir(moved!.to)).toEqual(before);
    expect(existsSync(join(data_dir, "version-2"))).toBe(false);
  });
});

describe("an upgrade step: 3.4.13 stopped, current switched to 3.8.0, started on the same data", () => {
  const old = server("zk34", 2182);

  it("starts 3.4.13 and reads its status (no whitelist, no AdminServer in 3.4)", async () => {
    expect((await old.install("3.4.13")).data.current_after).toBe("3.4.13");
    await old.writeConfig("*");
    expect((await old.start({ probe: true })).message).toMatch(/^started ZooKeeper as pid \d+/);
    const r = await old.statusWhenServing();
    expect(r.data).toMatchObject({ mode: "standalone", imok: true, words: { ruok: "ok", srvr: "ok", mntr: "ok", conf: "ok" } });
    expect(r.data.version).toMatch(/^3\.4\.13/);
    expect(r.data.latency).toBeDefined();
  });

  it("comes back as 3.8.0 with its data after stop, install_dist set_current and start", async () => {
    const stopped = await agentCall(h.conn, h.agent, "stop", old.stopArgs());
    expect(stopped.changed).toBe(true);
    const switched = await old.install("3.8.0");
    expect(switched.data).toMatchObject({ current_before: "3.4.13", current_after: "3.8.0", unpacked: true });
    await old.start();
    const r = await old.statusWhenServing();
    expect(r.data.version).toMatch(/^3\.8\.0/);
    expect(r.data.mode).toBe("standalone");
    const facts = await agentCall(h.conn, h.agent, "facts", { install_dir: old.dirs().install_dir, data_dir: old.dirs().data_dir });
    expect(facts.data.releases).toMatchObject({ versions: ["3.4.13", "3.8.0"], current: "3.8.0" });
    expect(facts.data.data_dir?.snapshots.length).toBeGreaterThan(0);
    expect((await agentCall(h.conn, h.agent, "stop", old.stopArgs())).changed).toBe(true);
  });
});

describe("stop and an unrelated process", () => {
  it("refuses to signal a pid that is not ZooKeeper; the process survives", async () => {
    const sleeper = spawn("sleep", ["300"], { stdio: "ignore" });
    try {
      expect(sleeper.pid).toBeGreaterThan(0);
      const dataDir = join(h.dir, "var", "lib", "not-zk");
      await mkdir(dataDir, { recursive: true });
      await writeFile(join(dataDir, "zookeeper_server.pid"), String(sleeper.pid));

      const result = await call(h, { op: "stop", args: { data_dir: dataDir, config_path: join(h.dir, "zoo.cfg") } });
      expect(result).toMatchObject({ error: { code: "refused" } });
      expect((result as { error: { message: string } }).error.message).toMatch(/not ZooKeeper \(sleep 300\)/);
      expect(alive(sleeper.pid!)).toBe(true);
      expect(existsSync(join(dataDir, "zookeeper_server.pid"))).toBe(true);

      const facts = await agentCall(h.conn, h.agent, "facts", { data_dir: dataDir });
      expect(facts.data.process).toMatchObject({ state: "stale", pid: sleeper.pid });
    } finally {
      sleeper.kill("SIGKILL");
    }
  });
});
