// apply's membership decision on observed hosts built in memory: when the
// running servers' configuration differs from the inventory, what is refused
// before any plan (a version change at the same time, one host leaving and
// joining under two ids) and what is planned.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { lastAppliedMembers } from "../../controller/execute/runs.js";
import { planMembershipChange } from "../../controller/plan/membership/change.js";
import { assemblePlan } from "../../controller/plan/assemble.js";
import { assembleInput, planningFor } from "../../controller/usecases/apply.js";
import { parseInventoryText } from "../../controller/inventory/load.js";
import type { Inventory } from "../../controller/inventory/schema.js";
import { type HostShape, observedHost } from "../helpers/observed.js";
import type { DesiredHost } from "../../controller/plan/plan.js";
import { type Step, planSteps } from "../../controller/plan/steps.js";

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

/** The membership planner as apply calls it: the inventory's planning, and the journal's word read the way apply reads it. */
function membership(inv: Inventory, shapes: HostShape[], desired: DesiredHost[], opts: { journalDir?: string; newEnsemble?: boolean } = {}) {
  const planning = planningFor(inv, "/tmp/e.yml");
  const lastApplied = lastAppliedMembers(opts.journalDir ?? mkdtempSync(join(tmpdir(), "zkfleet-decision-")), inv.ensemble);
  return planMembershipChange({
    ensemble: planning.ensemble, render: planning.render, observed: shapes.map(observedHost), desired, zooCfg: CFG,
    timeouts: { gateMs: 1, settleMs: 1 }, ...(lastApplied ? { lastApplied } : {}), ...(opts.newEnsemble ? { newEnsemble: true } : {}),
  });
}

const decide = (inv: Inventory, shapes: HostShape[], opts: { journalDir?: string; newEnsemble?: boolean } = {}) => membership(inv, shapes, [], opts);

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

  describe("a whole migration keeping the host names (zk1, zk2, zk3 move to new addresses)", () => {
    const moved = (version: string, reconfig: boolean): Inventory => {
      const hosts = [
        ...[1, 2, 3].map((n) => ({ name: `zk${n}`, address: `10.0.0.${n}`, myid: n, state: "absent" })),
        ...[1, 2, 3].map((n) => ({ name: `zk${n}`, address: `10.0.0.${n + 3}`, myid: n + 3 })),
      ];
      const parsed = parseInventoryText(toYaml({ ensemble: "e", zookeeper: { version, reconfig }, hosts }), "/tmp/e.yml");
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
      return parsed.inventory;
    };
    const desiredHost = (host: string): DesiredHost => ({
      host, version: "3.9.3", tarball: "/a/zk.tgz", installDir: "/opt/zookeeper", transferDir: "/opt/zkfleet/dists", stateDir: "/opt/zkfleet/state",
      files: [], start: { install_dir: "/opt/zookeeper", config_dir: "/etc/zookeeper/conf", data_dir: "/var/lib/zookeeper" },
      stop: { data_dir: "/var/lib/zookeeper", config_path: CFG }, clean: { data_dir: "/var/lib/zookeeper", config_path: CFG },
    });
    // A 3.5+ server running with reconfig reports its lines (conf) and has the dynamic file its zoo.cfg names.
    const old = (n: number, version: string, lines: Record<string, string> | undefined): HostShape => ({
      host: `zk${n}@10.0.0.${n}`, running: true, mode: n === 1 ? "leader" : "follower", version, current: version,
      ...(lines ? { conf: lines, dynamic: { path: `${CFG}.dynamic.100000000`, content: Object.entries(lines).map(([k, v]) => `${k}=${v}`).join("\n") + "\n" } } : {}),
      files: { [CFG]: "server.1=zk1:2888:3888\nserver.2=zk2:2888:3888\nserver.3=zk3:2888:3888\n", "/etc/hosts": "127.0.0.1 localhost\n" },
    });
    const plan = (inv: Inventory, shapes: HostShape[]) => membership(inv, shapes, inv.hosts.map((h) => desiredHost(h.name))).plan!;
    const fresh = [1, 2, 3].map((n): HostShape => ({ host: `zk${n}` }));
    const content = (step: Step | undefined) => (step?.kind === "write_file" ? step.content : "");

    it("the inventory lists each old server leaving under its name: it gets its own identity, NAME@ADDRESS", () => {
      const inv = moved("3.9.3", true);
      expect(inv.hosts.map((h) => [h.name, h.server_name ?? null])).toEqual([
        ["zk1@10.0.0.1", "zk1"], ["zk2@10.0.0.2", "zk2"], ["zk3@10.0.0.3", "zk3"], ["zk1", null], ["zk2", null], ["zk3", null],
      ]);
      const twice = parseInventoryText(toYaml({ ensemble: "e", zookeeper: { version: "3.9.3" }, hosts: [
        { name: "zk1", address: "10.0.0.1", myid: 1 }, { name: "zk1", address: "10.0.0.2", myid: 2 },
      ] }), "/tmp/e.yml");
      expect(twice.ok).toBe(false);
    });

    it("dynamic: joiners are named by address while the old servers hold the names; /etc/hosts maps the names to them once the old servers are gone", () => {
      const lines = conf([1, 2, 3]);
      const p = plan(moved("3.9.3", true), [...[1, 2, 3].map((n) => old(n, "3.9.3", lines)), ...fresh]);
      expect(p.refusals).toEqual([]);
      const steps = planSteps(p);
      const reconfigs = steps.flatMap((s) => (s.kind === "reconfig" ? [[...s.add, ...s.remove.map((id) => `-${id}`)].join(" ")] : []));
      expect(reconfigs).toEqual([
        "server.4=10.0.0.4:2888:3888:participant;2181", "-2", "server.5=10.0.0.5:2888:3888:participant;2181", "-3",
        "server.6=10.0.0.6:2888:3888:participant;2181", "-1",
      ]);
      // Until the old servers are gone every host resolves the names to them; the joiner's own files name it by address.
      const joinerHosts = content(steps.find((s) => s.kind === "write_file" && s.host === "zk1" && s.path === "/etc/hosts"));
      expect(joinerHosts).toContain("10.0.0.1 zk1");
      expect(joinerHosts).not.toContain("10.0.0.4");
      const finalHosts = steps.findIndex((s) => s.kind === "write_file" && s.path === "/etc/hosts" && s.content.includes("10.0.0.4 zk1"));
      const lastStop = steps.map((s) => s.kind).lastIndexOf("stop");
      expect(lastStop).toBeGreaterThan(0);
      expect(lastStop).toBeLessThan(finalHosts);
      expect(steps.filter((s) => s.kind === "stop").map((s) => s.host)).toEqual(["zk2@10.0.0.2", "zk3@10.0.0.3", "zk1@10.0.0.1"]);
      // Each name maps to its new server as soon as its old one has stopped, before the next server joins.
      const firstStop = steps.findIndex((s) => s.kind === "stop");
      const zk2Moved = steps.findIndex((s) => s.kind === "write_file" && s.path === "/etc/hosts" && s.content.includes("10.0.0.5 zk2"));
      const nextStart = steps.findIndex((s, i) => i > firstStop && s.kind === "start");
      expect(firstStop).toBeLessThan(zk2Moved);
      expect(zk2Moved).toBeLessThan(nextStart);
      expect(content(steps[zk2Moved])).toContain("10.0.0.1 zk1");
      const lastAwait = steps.filter((s) => s.kind === "await_config").at(-1);
      expect(lastAwait?.kind === "await_config" && lastAwait.expect).toEqual([
        "server.4=10.0.0.4:2888:3888:participant", "server.5=10.0.0.5:2888:3888:participant", "server.6=10.0.0.6:2888:3888:participant",
      ]);
      expect(p.stages.at(-1)!.title).toMatch(/clients should now connect to zk1:2181,zk2:2181,zk3:2181/);
    });

    it("dynamic, the servers moved and named by address in their lines: that is the inventory's membership, nothing to change", () => {
      const inv = moved("3.9.3", true);
      const lines = Object.fromEntries([4, 5, 6].map((id) => [`server.${id}`, `10.0.0.${id}:2888:3888:participant;0.0.0.0:2181`]));
      const now = [4, 5, 6].map((id): HostShape => ({ host: `zk${id - 3}`, running: true, mode: id === 4 ? "leader" : "follower", version: "3.9.3", current: "3.9.3", conf: lines }));
      const d = membership(inv, [...[1, 2, 3].map((n): HostShape => ({ host: `zk${n}@10.0.0.${n}`, hasData: true, current: "3.9.3" })), ...now],
        inv.hosts.map((h) => desiredHost(h.name)));
      expect(d).toEqual({});
    });

    it("static, the last old server gone: the members' files take the names, and a round of restarts follows", () => {
      const inv = moved("3.4.13", false);
      const lines = "server.4=10.0.0.4:2888:3888\nserver.5=10.0.0.5:2888:3888\nserver.6=10.0.0.6:2888:3888\n";
      const now = [4, 5, 6].map((id): HostShape => ({ host: `zk${id - 3}`, running: true, mode: id === 4 ? "leader" : "follower", version: "3.4.13", current: "3.4.13", files: { [CFG]: lines } }));
      const p = plan(inv, [...[1, 2, 3].map((n): HostShape => ({ host: `zk${n}@10.0.0.${n}`, hasData: true, current: "3.4.13" })), ...now]);
      expect(p.refusals).toEqual([]);
      expect(p.continues).toEqual(["restart the members one at a time so that their server lines name zk1, zk2, zk3 by name"]);
      const cfg = content(planSteps(p).find((s) => s.kind === "write_file" && s.host === "zk2" && s.path === CFG));
      expect(cfg.match(/^server\..*$/gm)).toEqual(["server.4=zk1:2888:3888", "server.5=zk2:2888:3888", "server.6=zk3:2888:3888"]);
      expect(planSteps(p).some((s) => s.kind === "stop" || s.kind === "start" || s.kind === "reconfig")).toBe(false);
    });

    it("static on 3.5+ (reconfig off): the servers report their lines by address until they restart; once the files name the members, the rest is apply's pending restarts", () => {
      const inv = moved("3.8.0", false);
      const byAddress = Object.fromEntries([4, 5, 6].map((id) => [`server.${id}`, `10.0.0.${id}:2888:3888:participant;0.0.0.0:2181`]));
      const filed = (form: (id: number) => string) => [4, 5, 6].map((id) => `server.${id}=${form(id)}:2888:3888:participant;2181`).join("\n") + "\n";
      const gone = [1, 2, 3].map((n): HostShape => ({ host: `zk${n}@10.0.0.${n}`, hasData: true, current: "3.8.0" }));
      const now = (form: (id: number) => string) => [4, 5, 6].map((id): HostShape => ({
        host: `zk${id - 3}`, running: true, mode: id === 4 ? "leader" : "follower", version: "3.8.0", current: "3.8.0", conf: byAddress, files: { [CFG]: filed(form) },
      }));
      // Right after the last old server left: the files still by address. They take the names; restarts follow.
      const p = plan(inv, [...gone, ...now((id) => `10.0.0.${id}`)]);
      expect(p.refusals).toEqual([]);
      expect(p.continues).toEqual(["restart the members one at a time so that their server lines name zk1, zk2, zk3 by name"]);
      // Then: the files name them, the running servers still report addresses. Nothing is the membership planner's any more.
      expect(membership(inv, [...gone, ...now((id) => `zk${id - 3}`)], inv.hosts.map((h) => desiredHost(h.name)))).toEqual({});
    });

    it("refused where the inventory turns reconfig on and changes the membership at once: the servers run without it until a roll", () => {
      const p = plan(moved("3.8.0", true), [...[1, 2, 3].map((n) => ({ ...old(n, "3.8.0", conf([1, 2, 3])), dynamic: undefined })), ...fresh]);
      expect(p.stages).toEqual([]);
      expect(p.refusals.map((r) => `${r.code} ${r.host}`)).toEqual(["unsafe_membership_change zk1@10.0.0.1", "unsafe_membership_change zk2@10.0.0.2", "unsafe_membership_change zk3@10.0.0.3"]);
      expect(p.refusals[0]!.message).toMatch(/runs without reconfig \(its zoo\.cfg names no dynamic file\).*apply reconfig: true with the current members first \(a roll\), then change the membership/);
    });

    it("refused where a new host's own /etc/hosts maps the name it takes over to itself: it would dial itself for the old server", () => {
      const shapes = [...[1, 2, 3].map((n) => old(n, "3.9.3", conf([1, 2, 3]))),
        ...fresh.map((f, i) => ({ ...f, files: { "/etc/hosts": `127.0.0.1 localhost\n10.0.0.${i + 4} ${f.host}\n` } }))];
      // The scan runs over the finished plan, in assemblePlan.
      const inv = moved("3.9.3", true);
      const observed = shapes.map(observedHost);
      const p = assemblePlan(assembleInput(planningFor(inv, "/tmp/e.yml"), observed, { timeouts: { gateMs: 1, settleMs: 1 } }, {}));
      expect(p.stages).toEqual([]);
      expect(p.refusals.map((r) => `${r.code} ${r.host}`)).toEqual(["hosts_file_conflict zk1", "hosts_file_conflict zk2", "hosts_file_conflict zk3"]);
      expect(p.refusals[0]!.message).toBe('zk1: /etc/hosts:2 "10.0.0.4 zk1" maps zk1, which the ensemble needs at 10.0.0.1 during this change');
    });

    it("static: one change per plan, the joiner listed by address; the old server keeps its name", () => {
      const p = plan(moved("3.4.13", false), [...[1, 2, 3].map((n) => old(n, "3.4.13", undefined)), ...fresh]);
      expect(p.refusals).toEqual([]);
      expect(p.continues?.length).toBe(5);
      const joinerCfg = content(planSteps(p).find((s) => s.kind === "write_file" && s.host === "zk1" && s.path === CFG));
      expect(joinerCfg).toMatch(/^server\.4=10\.0\.0\.4:2888:3888$/m);
      expect(joinerCfg).toMatch(/^server\.1=zk1:2888:3888$/m);
    });
  });
});

