// apply's membership decision on observed hosts built in memory: when the
// running servers' configuration differs from the inventory, what is refused
// before any plan (a version change at the same time, one host leaving and
// joining under two ids) and what is planned.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
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

function decide(inv: Inventory, shapes: HostShape[], opts: { journalDir?: string; newEnsemble?: boolean } = {}) {
  return planMembershipChange({
    inv, file: "/tmp/e.yml", observed: shapes.map(observedHost), desired: [], zooCfg: CFG,
    journalDir: opts.journalDir ?? mkdtempSync(join(tmpdir(), "zkfleet-decision-")), timeouts: { gateMs: 1, settleMs: 1 },
    ...(opts.newEnsemble ? { newEnsemble: true } : {}),
  });
}

/** A journal holding one finished run of ensemble e that started servers at these addresses. */
function journalOfRunAt(addresses: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "zkfleet-decision-journal-"));
  mkdirSync(join(dir, "e"));
  const at = "2026-01-01T00:00:00.000Z";
  const members = addresses.map((address, i) => ({ host: `zk${i + 1}`, address }));
  const lines = [
    { at, run: "r1", event: "plan", command: "apply", ensemble: "e", plan: { target: { members }, stages: [{ steps: [{ kind: "start", host: "zk1" }] }] } },
    { at, run: "r1", event: "step-done", index: 0, kind: "start", host: "zk1", changed: true, ms: 1 },
    { at, run: "r1", event: "done", changed: 1 },
  ];
  writeFileSync(join(dir, "e", "r1-apply.jsonl"), lines.map((l) => JSON.stringify(l) + "\n").join(""));
  return dir;
}

const running = (n: number, version: string, ids: number[]): HostShape => ({ host: `zk${n}`, running: true, mode: n === 1 ? "leader" : "follower", version, current: version, conf: conf(ids) });

describe("planMembershipChange", () => {
  it("refuses to start an empty ensemble where the journal says it last ran on other hosts, unless told it is a new one", () => {
    const inv = inventory("3.8.0", [{ name: "zk1", myid: 1 }, { name: "zk2", myid: 2 }, { name: "zk3", myid: 3 }]);
    const empty = [1, 2, 3].map((n): HostShape => ({ host: `zk${n}` }));
    const journalDir = journalOfRunAt(["10.9.0.1", "10.9.0.2", "10.9.0.3"]);
    const refused = decide(inv, empty, { journalDir });
    expect(refused.plan?.refusals.map((r) => r.code)).toEqual(["ensemble_elsewhere"]);
    expect(refused.plan?.refusals[0]?.message).toMatch(/ensemble e last ran on zk1 at 10\.9\.0\.1, zk2 at 10\.9\.0\.2, zk3 at 10\.9\.0\.3 \(run r1\)/);
    expect(decide(inv, empty, { journalDir, newEnsemble: true })).toEqual({});
    // Where the journal's hosts are the inventory's, it is the same ensemble coming back: nothing to refuse.
    expect(decide(inv, empty, { journalDir: journalOfRunAt(["10.0.0.1", "10.0.0.2", "10.0.0.3"]) })).toEqual({});
  });

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
