import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type DesiredHost, type ObservedHost, membership, planApply, restartOrder } from "../../controller/plan/plan.js";

const CFG = "/etc/zookeeper/conf/zoo.cfg";
const cfg = (servers: number[]) => ["tickTime=2000", ...servers.map((n) => `server.${n}=zk${n}:2888:3888`)].join("\n") + "\n";

function desired(host: string, content = cfg([1, 2, 3])): DesiredHost {
  return {
    host, role: "participant", version: "3.8.0", tarball: "/a/zk.tgz",
    files: [{ path: CFG, content, mode: 0o644 }, { path: "/var/lib/zookeeper/myid", content: host.slice(2) + "\n", mode: 0o644 }],
  };
}

function observedLike(d: DesiredHost, over: Partial<ObservedHost> = {}): ObservedHost {
  return {
    host: d.host, reachable: true, installed: ["3.8.0"], current: "3.8.0", running: true, mode: "follower", hasData: true,
    files: Object.fromEntries(d.files.map((f) => [f.path, f.content])), ...over,
  };
}

const fresh = (host: string): ObservedHost => ({
  host, reachable: true, installed: [], current: null, running: false, files: {}, hasData: false,
});

describe("planApply", () => {
  it("brings a new ensemble up: install, write, start every host, then wait", () => {
    const ds = ["zk1", "zk2", "zk3"].map((h) => desired(h));
    const plan = planApply({ ensemble: "e", desired: ds, observed: ds.map((d) => fresh(d.host)), zooCfgPath: CFG });
    expect(plan.refused).toEqual([]);
    expect(plan.steps.map((s) => `${s.kind}:${s.host}`)).toEqual([
      "install:zk1", "write_file:zk1", "write_file:zk1",
      "install:zk2", "write_file:zk2", "write_file:zk2",
      "install:zk3", "write_file:zk3", "write_file:zk3",
      "start:zk1", "start:zk2", "start:zk3", "wait_ensemble:*",
    ]);
    const write = plan.steps.find((s) => s.kind === "write_file");
    expect(write).toMatchObject({ created: true });
    expect(write?.kind === "write_file" && write.diff).toContain("+server.1=zk1:2888:3888");
  });

  it("plans nothing when every host is as desired (idempotent)", () => {
    const ds = ["zk1", "zk2", "zk3"].map((h) => desired(h));
    const plan = planApply({ ensemble: "e", desired: ds, observed: ds.map((d) => observedLike(d)), zooCfgPath: CFG });
    expect(plan.steps).toEqual([]);
    expect(plan.unchanged).toEqual(["zk1", "zk2", "zk3"]);
  });

  it("refuses everything when one host cannot be observed", () => {
    const ds = ["zk1", "zk2"].map((h) => desired(h));
    const plan = planApply({
      ensemble: "e", desired: ds, zooCfgPath: CFG,
      observed: [fresh("zk1"), { ...fresh("zk2"), reachable: false, error: "connection refused" }],
    });
    expect(plan.steps).toEqual([]);
    expect(plan.refused).toEqual(["zk2: cannot be observed (connection refused); nothing was changed"]);
  });

  it("refuses to rewrite the membership of a running ensemble", () => {
    const ds = ["zk1", "zk2", "zk3"].map((h) => desired(h, cfg([1, 2, 3, 4])));
    const observed = ds.map((d) => observedLike(d, { files: { [CFG]: cfg([1, 2, 3]), "/var/lib/zookeeper/myid": d.host.slice(2) + "\n" } }));
    const plan = planApply({ ensemble: "e", desired: ds, observed, zooCfgPath: CFG });
    expect(plan.steps).toEqual([]);
    expect(plan.refused[0]).toMatch(/zk1: the change alters the ensemble's membership/);
  });

  it("refuses a version change of a running server", () => {
    const d = desired("zk1");
    const plan = planApply({ ensemble: "e", desired: [d], observed: [observedLike(d, { current: "3.4.13", installed: ["3.4.13"] })], zooCfgPath: CFG });
    expect(plan.refused[0]).toMatch(/runs ZooKeeper 3.4.13, the inventory says 3.8.0/);
  });

  it("restarts running servers whose config changed one at a time, leader last", () => {
    const ds = ["zk1", "zk2", "zk3"].map((h) => desired(h, cfg([1, 2, 3]) + "maxClientCnxns=100\n"));
    const modes: Record<string, string> = { zk1: "leader", zk2: "follower", zk3: "follower" };
    const observed = ds.map((d) => observedLike(d, { mode: modes[d.host], files: { [CFG]: cfg([1, 2, 3]), "/var/lib/zookeeper/myid": d.host.slice(2) + "\n" } }));
    const plan = planApply({ ensemble: "e", desired: ds, observed, zooCfgPath: CFG });
    expect(plan.steps.filter((s) => s.kind === "restart").map((s) => s.host)).toEqual(["zk2", "zk3", "zk1"]);
  });

  it("touches only --limit hosts", () => {
    const ds = ["zk1", "zk2", "zk3"].map((h) => desired(h));
    const plan = planApply({ ensemble: "e", desired: ds, observed: ds.map((d) => fresh(d.host)), zooCfgPath: CFG, limit: ["zk2"] });
    expect(new Set(plan.steps.map((s) => s.host))).toEqual(new Set(["zk2"]));
    // The others stay down, so there is no ensemble to wait for.
    expect(plan.steps.some((s) => s.kind === "wait_ensemble")).toBe(false);
  });
});

describe("restartOrder", () => {
  const mode = fc.constantFrom<string | undefined>("leader", "follower", "observer", undefined);
  it("puts servers that are down first and the leader last, whatever the input order", () => {
    fc.assert(fc.property(fc.array(fc.tuple(mode, fc.boolean()), { minLength: 1, maxLength: 9 }), (xs) => {
      const hosts = xs.map(([m, running], i) => ({ ...fresh(`zk${i}`), running, mode: running ? m : undefined }));
      const order = restartOrder(hosts);
      expect(order).toHaveLength(hosts.length);
      const leaderAt = order.findIndex((h) => h.mode === "leader");
      if (leaderAt >= 0) expect(order.slice(leaderAt + 1).every((h) => h.mode === "leader")).toBe(true);
      const firstUp = order.findIndex((h) => h.running && h.mode !== undefined);
      if (firstUp >= 0) expect(order.slice(firstUp).every((h) => h.running && h.mode !== undefined)).toBe(true);
    }));
  });
});

describe("membership", () => {
  it("ignores spacing and order but sees an added server", () => {
    expect(membership("server.2 = a:1:2\nserver.1=b:1:2\n")).toEqual(membership("server.1=b:1:2\nserver.2=a:1:2"));
    expect(membership(cfg([1, 2]))).not.toEqual(membership(cfg([1, 2, 3])));
  });
});
