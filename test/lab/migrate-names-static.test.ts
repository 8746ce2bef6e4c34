// Seed 004's whole migration on ZooKeeper 3.4.13 with static server lists:
// zk1, zk2 and zk3 move to three new hosts and keep their names. Each change
// is one plan (a joiner starts with the new list, the others restart with
// it, leader last); the joiners are listed by address until the old servers
// are gone, then every member restarts once more with the names.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { useTestLab } from "../helpers/lab.js";
import { keptNameMigration } from "./membership-scenario.js";

const t = useTestLab("migrate-names-static", "127.75.0", 6, "3.4.13");

describe("whole migration keeping the names, static lists (3.4.13)", () => {
  it("moves zk1, zk2, zk3 to new hosts under the same names", async () => {
    await keptNameMigration(t, {});
    for (const h of t.lab.hosts.slice(3)) {
      const cfg = readFileSync(join(h.dir, "etc.upper", "zookeeper", "conf", "zoo.cfg"), "utf8");
      expect(cfg.match(/^server\.\d+=.*$/gm)).toEqual(["server.4=zk1:2888:3888", "server.5=zk2:2888:3888", "server.6=zk3:2888:3888"]);
    }
  }, 600_000);
});
