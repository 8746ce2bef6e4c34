// A whole migration keeping host names, on ZooKeeper 3.4.13 with static server lists:
// zk1, zk2 and zk3 move to three new hosts and keep their names. Each change
// is one plan (a joiner starts with the new list, the others restart with
// it, leader last); the joiners are listed by address until the old servers
// are gone, then every member restarts once more with the names. Then back
// again, with the controller killed in the middle of a member's restart.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { useTestLab } from "../helpers/lab.js";
import { keptNameMigration, modes, moveBackKilled, servesWithQuorum } from "./membership-scenario.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("migrate-names-static", subnet("migrate-names-static"), 6, "3.4.13");
const serverLines = (lab: number) =>
  readFileSync(join(t.lab.hosts[lab - 1]!.dir, "etc.upper", "zookeeper", "conf", "zoo.cfg"), "utf8").match(/^server\.\d+=.*$/gm);

describe("whole migration keeping the names, static lists (3.4.13)", () => {
  it("moves zk1, zk2, zk3 to new hosts under the same names", async () => {
    await keptNameMigration(t, {});
    for (const lab of [4, 5, 6]) expect(serverLines(lab)).toEqual(["server.4=zk1:2888:3888", "server.5=zk2:2888:3888", "server.6=zk3:2888:3888"]);
  }, 600_000);

  it("moves them back, the controller killed while a member restarts with the new list; runs resume finishes", async () => {
    // The joiner has started with the new list; the first member restart has stopped its server: killed there.
    await moveBackKilled(t, /changed zk\d@[\d.]+: stop ZooKeeper/, async () => {
      // Two of the three voters serve and the joiner follows: a quorum of the list the leader counts by.
      expect(Object.values(await modes(t)).filter((x) => x === "leader")).toHaveLength(1);
    });
    await servesWithQuorum(t, ["zk1", "zk2", "zk3"], "/names-back");
    for (const lab of [1, 2, 3]) expect(serverLines(lab)).toEqual(["server.7=zk1:2888:3888", "server.8=zk2:2888:3888", "server.9=zk3:2888:3888"]);
  }, 600_000);
});
