// A whole migration keeping host names, on ZooKeeper 3.9.3 by reconfig: the ensemble
// moves to three new hosts while zk1, zk2 and zk3 keep their names. The new
// servers join named by address (the names still belong to the old ones),
// the old ones leave one at a time, then /etc/hosts maps each name to its new
// server. The reconfig'd lines keep the addresses: renaming a leader's line
// by reconfig right after its name moved left it unable to commit.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { useTestLab } from "../helpers/lab.js";
import { keptNameMigration, moveBackKilled, reportedMembers } from "./membership-scenario.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("migrate-names-dyn", subnet("migrate-names-dyn"), 6, "3.9.3");

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
    // Killed as the first reconfig is reported: one joiner counts, named by address; the names still resolve to the servers that hold them.
    await moveBackKilled(t, /changed zk\d(@[\d.]+)?: reconfig/, async () => {
      const members = await reportedMembers(t.lab.hosts[3]!.address);
      expect(members.length, members.join(",")).toBe(4);
    });
    expect(await reportedMembers(t.lab.hosts[0]!.address)).toEqual(["7:participant", "8:participant", "9:participant"]);
  }, 420_000);
});
