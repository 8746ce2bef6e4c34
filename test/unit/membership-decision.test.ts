// apply's membership decision on observed hosts built in memory: when the
// running servers' configuration differs from the inventory, what is refused
// before any plan (a version change at the same time, one host leaving and
// joining under two ids) and what is planned.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { planMembershipChange } from "../../controller/commands/membership.js";
import { parseInventoryText } from "../../controller/inventory/load.js";
import type { Inventory } from "../../controller/inventory/schema.js";
import { type HostShape, observedHost } from "../helpers/observed.js";

const CFG = "/etc/zookeeper/conf/zoo.cfg";
const conf = (ids: number[]) => Object.fromEntries(ids.map((id) => [`server.${id}`, `zk${id}:2888:3888:participant;0.0.0.0:2181`]));

function inventory(version: string, hosts: { name: string; myid: number; state?: string }[]): Inventory {
  const text = toYaml({
    ensemble: "e", zookeeper: { version, reconfig: true },
    hosts: hosts.map((h, i) => ({ name: h.name, address: `10.0.0.${i + 1}`, myid: h.myid, ...(h.state ? { state: h.state } : {}) })),
  });
  const parsed = parseInventoryText(text, "/tmp/e.yml");
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.inventory;
}

function decide(inv: Inventory, shapes: HostShape[]) {
  return planMembershipChange({
    inv, file: "/tmp/e.yml", observed: shapes.map(observedHost), desired: [], zooCfg: CFG,
    journalDir: mkdtempSync(join(tmpdir(), "zkfleet-decision-")), timeouts: { gateMs: 1, settleMs: 1 },
  });
}

const running = (n: number, version: string, ids: number[]): HostShape => ({ host: `zk${n}`, running: true, mode: n === 1 ? "leader" : "follower", version, current: version, conf: conf(ids) });

describe("planMembershipChange", () => {
  it("plans nothing of its own when the servers run what the inventory asks for", () => {
    const inv = inventory("3.8.0", [{ name: "zk1", myid: 1 }, { name: "zk2", myid: 2 }, { name: "zk3", myid: 3 }]);
    expect(decide(inv, [1, 2, 3].map((n) => running(n, "3.8.0", [1, 2, 3])))).toEqual({});
  });

  it("refuses a membership change made together with a version change, naming the order to take", () => {
    const inv = inventory("3.9.3", [{ name: "zk1", myid: 1 }, { name: "zk2", myid: 2 }, { name: "zk3", myid: 3 }, { name: "zk4", myid: 4 }]);
    const d = decide(inv, [...[1, 2, 3].map((n) => running(n, "3.8.0", [1, 2, 3])), { host: "zk4" }]);
    expect(d.plan?.stages).toEqual([]);
    expect(d.plan?.refusals[0]?.message).toMatch(/runs ZooKeeper 3\.8\.0, the inventory says 3\.9\.3: .*apply the version with the current servers first/);
  });

  it("refuses one host leaving under one myid and joining under another", () => {
    const inv = inventory("3.8.0", [{ name: "zk1", myid: 1 }, { name: "zk2", myid: 2 }, { name: "zk3", myid: 7 }]);
    const d = decide(inv, [1, 2, 3].map((n) => running(n, "3.8.0", [1, 2, 3])));
    expect(d.plan?.refusals.map((r) => r.message)).toEqual([expect.stringMatching(/^zk3 runs server\.3 and the inventory gives it myid 7: a host cannot leave and join in one change/)]);
  });

  it("refuses when a running member has no host in the inventory", () => {
    const inv = inventory("3.8.0", [{ name: "zk1", myid: 1 }, { name: "zk2", myid: 2 }]);
    const d = decide(inv, [1, 2].map((n) => running(n, "3.8.0", [1, 2, 3])));
    expect(d.plan?.refusals[0]?.message).toMatch(/server\.3 \(zk3\) is a member of the running ensemble but no host in the inventory has myid 3/);
  });
});
