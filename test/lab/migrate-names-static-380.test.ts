// ZooKeeper 3.8.0 with reconfig off: static server lines on a version whose
// running servers report their membership themselves (`conf`). A whole
// migration keeping host names: zk1, zk2 and zk3 move to three new hosts under their
// names, one change per plan; the joiners are listed by address until the
// old servers are gone, then every member restarts once more with the
// names. The move must end (apply exits 2, a second apply has nothing to
// do), the quorum held and the tree the same (keptNameMigration checks
// both). Then reconfig is turned on for the running ensemble, the way
// ZooKeeper's reconfig guide documents, and a reconfig commits.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { javaDigest } from "../data/independent.js";
import { fourLetterWord, sshRun, useTestLab } from "../helpers/lab.js";
import { zkCli } from "../helpers/zkcli.js";
import { apply, keptNameMigration, LOAD, load, reportedMembers } from "./membership-scenario.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("migrate-names-static-380", subnet("migrate-names-static-3.8.0"), 6, "3.8.0");
const serverLines = (lab: number) =>
  readFileSync(join(t.lab.hosts[lab - 1]!.dir, "etc.upper", "zookeeper", "conf", "zoo.cfg"), "utf8").match(/^server\.\d+=.*$/gm);
const confVersion = async (address: string) => /^version=([0-9a-f]+)$/m.exec(await fourLetterWord(address, 2181, "conf"))?.[1];

describe("ZooKeeper 3.8.0 with static server lines (reconfig off)", () => {
  it("moves zk1, zk2, zk3 to new hosts under the same names, and ends", async () => {
    await keptNameMigration(t, {});
    for (const lab of [4, 5, 6]) {
      expect(serverLines(lab)!.map((l) => l.split(";")[0])).toEqual(["server.4=zk1:2888:3888:participant", "server.5=zk2:2888:3888:participant", "server.6=zk3:2888:3888:participant"]);
      // Each server runs the lines with the names, as it reports itself.
      expect(await reportedMembers(t.lab.hosts[lab - 1]!.address)).toEqual(["4:participant", "5:participant", "6:participant"]);
      expect(await fourLetterWord(t.lab.hosts[lab - 1]!.address, 2181, "conf")).toMatch(/^server\.4=zk1:2888:3888:participant/m);
    }
  }, 600_000);

  it("turns reconfig on in the running ensemble: zoo.cfg keeps its server lines until ZooKeeper moves them into a dynamic file of its own; then a reconfig commits", async () => {
    // The ensemble the migration left (or, run alone, three servers on the first hosts).
    const moved = join(t.lab.dir, "names-moved.yml");
    const base = existsSync(moved) ? moved : join(t.lab.dir, "three.yml");
    const doc = parseYaml(readFileSync(existsSync(moved) ? moved : t.lab.inventory, "utf8")) as { zookeeper: Record<string, unknown>; hosts: { name: string; address: string; myid: number; state?: string }[] };
    if (base !== moved) {
      writeFileSync(base, toYaml({ ...doc, hosts: doc.hosts.slice(0, 3) }));
      expect((await apply(t, base, "--yes")).code).toBe(2);
      await load(t);
    }
    const members = (parseYaml(readFileSync(base, "utf8")) as typeof doc).hosts.filter((h) => h.state !== "absent");
    const every = members.map((h) => `${h.address}:2181`).join(",");
    const before = await javaDigest(every, "/members");
    expect(before.nodes).toBe(LOAD + 1);
    const password = join(t.lab.dir, "super.txt");
    writeFileSync(password, "lab-super-secret\n", { mode: 0o600 });
    const on = join(t.lab.dir, "reconfig-on.yml");
    const parsed = parseYaml(readFileSync(base, "utf8")) as typeof doc;
    writeFileSync(on, toYaml({ ...parsed, zookeeper: { ...parsed.zookeeper, reconfig: true, super_password_file: password } }));

    const r = await apply(t, on, "--yes", "--json");
    expect(r.code, r.err).toBe(2);
    expect(r.json.final.verdict).toBe("healthy");
    expect(r.json.canary.total).toMatchObject({ lost: 0, expired: 0 });
    const stops = (r.json.results as { kind: string; host: string }[]).filter((x) => x.kind === "stop");
    expect(stops).toHaveLength(3);
    for (const h of members) {
      // The lab names its hosts zk1..zk6 whatever names the inventory gives the servers on them.
      const cfg = (await sshRun(t.lab, t.lab.hosts.find((x) => x.address === h.address)!.name, "cat /etc/zookeeper/conf/zoo.cfg")).stdout;
      expect(cfg, h.name).toMatch(/^dynamicConfigFile=\/etc\/zookeeper\/conf\/zoo\.cfg\.dynamic\.[0-9a-f]+$/m);
      expect(cfg, h.name).toMatch(/^reconfigEnabled=true$/m);
      expect(await confVersion(h.address), h.name).not.toBe("0");
    }
    const again = await apply(t, on, "--yes", "--json");
    expect(again.code, again.err).toBe(0);

    // Reconfig works: the super user re-adds a member as it is, which ZooKeeper commits as a new configuration version.
    const versionBefore = await confVersion(members[0]!.address);
    const line = /^(server\.\d+=.*)$/m.exec(await fourLetterWord(members[1]!.address, 2181, "conf"))![1]!;
    const out = await zkCli(every, ["addauth digest super:lab-super-secret", `reconfig -add ${line}`]);
    expect(out, out.slice(-1500)).toMatch(/Committed new configuration/);
    expect(await confVersion(members[0]!.address)).not.toBe(versionBefore);
    expect(await javaDigest(every, "/members")).toMatchObject({ nodes: before.nodes, digest: before.digest });
  }, 300_000);
});
