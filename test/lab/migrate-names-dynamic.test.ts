// Seed 004's whole migration on ZooKeeper 3.9.3 by reconfig: the ensemble
// moves to three new hosts while zk1, zk2 and zk3 keep their names. The new
// servers join named by address (the names still belong to the old ones),
// the old ones leave one at a time, then /etc/hosts maps each name to its new
// server. The reconfig'd lines keep the addresses: renaming a leader's line
// by reconfig right after its name moved left it unable to commit.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { javaDigest } from "../data/independent.js";
import { runCli } from "../helpers/cli.js";
import { packageRoot } from "../../common/paths.js";
import { pollUntil, useTestLab } from "../helpers/lab.js";
import { apply, keptNameMigration, modes, reportedMembers } from "./membership-scenario.js";

const t = useTestLab("migrate-names-dyn", "127.72.0", 6, "3.9.3");

describe("whole migration keeping the names, by reconfig (3.9.3)", () => {
  it("moves zk1, zk2, zk3 to new hosts under the same names", async () => {
    const password = join(t.lab.dir, "super.txt");
    writeFileSync(password, "lab-super-secret\n", { mode: 0o600 });
    const { plan } = await keptNameMigration(t, { reconfig: true, super_password_file: password });
    expect(plan).toMatch(/clients should now connect to zk1:2181,zk2:2181,zk3:2181/);
    const conf = await reportedMembers(t.lab.hosts[3]!.address);
    expect(conf).toEqual(["4:participant", "5:participant", "6:participant"]);
  }, 420_000);

  it("moves them back under the same names (new myids, old data moved aside), the controller killed mid-change; runs resume finishes", async () => {
    const inv = parseYaml(readFileSync(join(t.lab.dir, "names-moved.yml"), "utf8")) as { hosts: { name: string; address: string; myid: number; state?: string }[] };
    const now = inv.hosts.filter((h) => h.state !== "absent");
    const back = join(t.lab.dir, "names-back.yml");
    writeFileSync(back, toYaml({ ...inv, hosts: [
      ...now.map((h) => ({ ...h, state: "absent" })),
      ...now.map((h, i) => ({ name: h.name, address: t.lab.hosts[i]!.address, myid: h.myid + 3 })),
    ] }));
    const before = await javaDigest(`${t.lab.hosts[3]!.address}:2181`, "/members");
    const child = spawn("node", [join(packageRoot(), "bin/zkfleet.js"), "apply", "-i", back, "--yes"], { env: { ...process.env, ...t.env } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    // Killed as the first reconfig is reported: one joiner counts, named by address; the names still resolve to the servers that hold them.
    const seen = await pollUntil(async () => (/changed zk\d@[\d.]+: reconfig|changed zk\d: reconfig/.test(out) ? true : undefined), 120_000, 100);
    child.kill("SIGKILL");
    await new Promise((r) => child.on("close", r));
    expect(seen, out).toBe(true);
    const members = await reportedMembers(t.lab.hosts[3]!.address);
    expect(members.length, members.join(",")).toBe(4);
    const runs = JSON.parse((await runCli(["runs", "--json"], t.env)).out) as { run: string; outcome: string }[];
    const killed = runs.filter((x) => x.outcome.startsWith("no end record")).at(-1)!;
    const resumed = await runCli(["runs", "resume", killed.run, "--yes", "--json"], t.env);
    expect(resumed.code, resumed.err).toBe(2);
    const json = JSON.parse(resumed.out) as { final: { verdict: string }; canary: { total: { lost: number; expired: number } } };
    expect(json.final.verdict).toBe("healthy");
    expect(json.canary.total).toMatchObject({ lost: 0, expired: 0 });
    expect(await javaDigest(`${t.lab.hosts[0]!.address}:2181`, "/members")).toMatchObject({ nodes: before.nodes, digest: before.digest });
    const again = await apply(t, back, "--yes");
    expect(again.code, again.err).toBe(0);
    expect(await reportedMembers(t.lab.hosts[0]!.address)).toEqual(["7:participant", "8:participant", "9:participant"]);
    const m = await modes(t);
    expect([m.zk4, m.zk5, m.zk6]).toEqual([undefined, undefined, undefined]);
    expect([m.zk1, m.zk2, m.zk3].sort()).toEqual(["follower", "follower", "leader"]);
  }, 420_000);
});
