// ZooKeeper 3.8.0 with reconfig off: static server lines on a version whose
// running servers report their membership themselves (`conf`). Seed 004's
// whole migration: zk1, zk2 and zk3 move to three new hosts keeping their
// names, one change per plan; the joiners are listed by address until the
// old servers are gone, then every member restarts once more with the
// names. The move must end (apply exits 2, a second apply has nothing to
// do), the quorum held and the tree the same (keptNameMigration checks
// both).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fourLetterWord, useTestLab } from "../helpers/lab.js";
import { keptNameMigration, reportedMembers } from "./membership-scenario.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("migrate-names-static-380", subnet("migrate-names-static-3.8.0"), 6, "3.8.0");
const serverLines = (lab: number) =>
  readFileSync(join(t.lab.hosts[lab - 1]!.dir, "etc.upper", "zookeeper", "conf", "zoo.cfg"), "utf8").match(/^server\.\d+=.*$/gm);

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
});
