// Hosts with nothing but SSH and Java (`lab up --no-node`: no node on any
// PATH seen over SSH): zkfleet brings its own node runtime. A runtime built for
// another platform is refused before anything is written; `apply` pushes the
// controller's node once per host, checked, under agent.dir/runtime, brings a
// 3.8.0 ensemble up with the agent running on it, and a second `apply` pushes
// nothing and changes nothing. The pushes are counted twice over: by apply's
// --json (runtimePushes, one record per push) and on the hosts (one runtime
// file, its inode and mtime unchanged by the second run).
import { createHash } from "node:crypto";
import { copyFile, mkdtemp, open, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import { defaultBundlePath } from "../../controller/agent-client/bundle.js";
import { ensureAgent } from "../../controller/agent-client/client.js";
import { ControllerRuntime, type RuntimePush } from "../../controller/agent-client/runtime.js";
import type { FleetStatus } from "../../controller/usecases/status.js";
import { Fleet } from "../../controller/fleet/fleet.js";
import { loadInventory } from "../../controller/inventory/load.js";
import { runCli } from "../helpers/cli.js";
import { sshRun, useTestLab } from "../helpers/lab.js";
import { zkCli } from "../helpers/zkcli.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("no-node", subnet("no-node"), 3, "3.8.0", { noNode: true });
const AGENT_DIR = "/opt/zkfleet";
const scratch = await mkdtemp(join(tmpdir(), "zkfleet-no-node-"));
afterAll(() => rm(scratch, { recursive: true, force: true }));

const sha256 = async (path: string) => createHash("sha256").update(await readFile(path)).digest("hex");

async function apply() {
  const r = await runCli(["apply", "-i", t.lab.inventory, "--yes", "--json"], t.env);
  return { ...r, json: r.out ? (JSON.parse(r.out) as { changed: number; runtimePushes: RuntimePush[] }) : undefined };
}

/** Per host: what agent.dir/runtime holds (temporary files included), each file's inode and mtime, and the runtime's sha256. */
async function runtimeFiles(): Promise<Record<string, { names: string[]; stat: string; sha256: string }>> {
  const out: Record<string, { names: string[]; stat: string; sha256: string }> = {};
  for (const h of t.lab.hosts) {
    const r = await sshRun(t.lab, h.name, `cd ${AGENT_DIR}/runtime && ls -A && echo -- && stat -c '%n %i %Y' * && echo -- && sha256sum node-*`);
    expect(r.code, `${h.name}: ${r.stderr}`).toBe(0);
    const [names, stat, sha256] = r.stdout.split("--\n");
    out[h.name] = { names: names!.trim().split("\n"), stat: stat!, sha256: sha256!.split(" ")[0]! };
  }
  return out;
}

describe("hosts without node", () => {
  it("find no node over SSH, and have Java", async () => {
    for (const h of t.lab.hosts) {
      const r = await sshRun(t.lab, h.name, "command -v node; command -v nodejs; ls /usr/bin/node /bin/node 2>&1; command -v java");
      expect(r.stdout.trim().split("\n"), h.name).toEqual([
        "ls: cannot access '/usr/bin/node': No such file or directory",
        "ls: cannot access '/bin/node': No such file or directory",
        "/usr/bin/java",
      ]);
    }
  });

  it("refuse a runtime built for another architecture before anything is written to them", async () => {
    // The controller's own node with its ELF machine made AArch64: the lab has one architecture, the refusal path is real all the same.
    const foreign = join(scratch, "node-aarch64");
    await copyFile(process.execPath, foreign);
    const fh = await open(foreign, "r+");
    await fh.write(Buffer.from([183, 0]), 0, 2, 18);
    await fh.close();
    const fleet = await Fleet.open([await loadInventory(t.lab.inventory)]);
    try {
      const err = await ensureAgent(await fleet.connection("zk1"), {
        agentDir: AGENT_DIR, nodeBin: "node", bundle: { path: defaultBundlePath() }, runtime: new ControllerRuntime(foreign, "v20.0.0"),
      }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ZkfleetError);
      const e = err as ZkfleetError;
      expect(e.message).toContain("no node on the PATH");
      expect(e.message).toContain("the runtime is built for aarch64, the host is x86_64");
      expect(e.message).toMatch(/host is x86_64 Linux \/ glibc [\d.]+; the runtime needs aarch64 Linux \/ glibc >= 2\.\d+/);
      expect(e.hint).toContain("install Node.js >= 18 on zk1");
    } finally {
      await fleet.close();
    }
    const r = await sshRun(t.lab, "zk1", `ls -A /opt; test -e ${AGENT_DIR} && echo touched || echo untouched`);
    expect(r.stdout.trim()).toBe("untouched");
  });

  it("leave nothing behind when the runtime cannot be unpacked (disk full) or run (noexec), and say which", async () => {
    // Small filesystems mounted in zk2's own mount namespace only, removed afterwards.
    const mounted = await sshRun(t.lab, "zk2", "mkdir -p /opt/full /opt/noexec && mount -t tmpfs -o size=20m zkfleet-full /opt/full && " +
      "mount -t tmpfs -o size=300m,noexec zkfleet-noexec /opt/noexec");
    expect(mounted.code, mounted.stderr).toBe(0);
    const fleet = await Fleet.open([await loadInventory(t.lab.inventory)]);
    const runtime = new ControllerRuntime();
    const attempt = async (agentDir: string) => {
      const err = await ensureAgent(await fleet.connection("zk2"), { agentDir, nodeBin: "node", bundle: { path: defaultBundlePath() }, runtime })
        .then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ZkfleetError);
      const left = await sshRun(t.lab, "zk2", `ls -A ${agentDir}/runtime`);
      expect(left.stdout, `left in ${agentDir}/runtime`).toBe("");
      return err as ZkfleetError;
    };
    try {
      const full = await attempt("/opt/full/zkfleet");
      expect(full.message).toMatch(/cannot unpack zkfleet's node runtime on zk2: gzip -dc: .*No space left on device.*nothing of it was kept/s);
      expect(full.hint).toContain("about 100 MB");
      const noexec = await attempt("/opt/noexec/zkfleet");
      expect(noexec.message).toMatch(/zkfleet's node runtime does not start on zk2: .*Permission denied.*nothing of it was kept/s);
      expect(noexec.hint).toContain("noexec");
    } finally {
      await fleet.close();
      await sshRun(t.lab, "zk2", "umount /opt/full /opt/noexec; rmdir /opt/full /opt/noexec");
    }
  });

  it("get zkfleet's node from apply once per host, run a 3.8.0 ensemble on it, and the second apply pushes nothing", async () => {
    const first = await apply();
    expect(first.code, first.err).toBe(2);
    const fileName = `node-${process.version}-${(await sha256(process.execPath)).slice(0, 16)}`;
    const rawBytes = (await stat(process.execPath)).size;
    const pushes = first.json!.runtimePushes;
    expect(pushes.map((p) => p.host).sort()).toEqual(["zk1", "zk2", "zk3"]);
    for (const p of pushes) {
      expect(p).toMatchObject({ path: `${AGENT_DIR}/runtime/${fileName}`, version: process.version, rawBytes, compressed: true });
      expect(p.bytes).toBeGreaterThan(0);
      expect(p.bytes).toBeLessThan(rawBytes);
    }
    console.log(`first contact per host: ${pushes.map((p) => `${p.host} ${(p.bytes / 1e6).toFixed(1)} MB in ${(p.ms / 1000).toFixed(1)} s`).join(", ")}`);

    const status = await runCli(["status", "-i", t.lab.inventory, "--json"], t.env);
    expect(status.code, status.err).toBe(0);
    const e = (JSON.parse(status.out) as FleetStatus).ensembles[0]!;
    expect(e.verdict).toBe("healthy");
    expect(e.hosts.map((h) => h.mode).sort()).toEqual(["follower", "follower", "leader"]);
    // The ensemble serves: a write through zk1 is read back through zk3.
    expect(await zkCli(`${subnet("no-node")}.11:2181`, ["create /no-node written-on-zk1"])).toContain("Created /no-node");
    expect(await zkCli(`${subnet("no-node")}.13:2181`, ["get /no-node"])).toContain("written-on-zk1");

    // The runtime, and beside it the agent bundle it runs and the bundle's code cache for that node (no temporary file left behind).
    const files = await runtimeFiles();
    const bundle = `agent-${(await sha256(defaultBundlePath())).slice(0, 16)}.js`;
    for (const [host, f] of Object.entries(files)) {
      expect(f.names, host).toEqual([bundle, `${bundle}.${process.version}.cache`, fileName]);
      expect(f.sha256, host).toBe(await sha256(process.execPath));
    }

    const second = await apply();
    expect(second.code, second.err).toBe(0);
    expect(second.json!.changed).toBe(0);
    expect(second.json!.runtimePushes).toEqual([]);
    expect(await runtimeFiles()).toEqual(files);
  });
});
