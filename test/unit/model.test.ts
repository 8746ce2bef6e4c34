// The pure ensemble model: server lines of every version and of `conf`,
// membership comparison, and quorum arithmetic.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { membershipChange, membershipFromConf, parseMembership, sameMembership } from "../../controller/model/membership.js";
import { hasQuorum, majoritiesIntersect, quorumSize } from "../../controller/model/quorum.js";
import { parseSettings, settingsDiff, withDynamicConfigFile } from "../../controller/model/zoo-cfg.js";

describe("server lines", () => {
  it("reads 3.4, 3.5+ and IPv6 forms alike, and ignores spacing and order", () => {
    const { servers, problems } = parseMembership([
      "server.2 = zk2:2888:3888", "server.1=ZK1:2888:3888:participant;127.0.0.1:2181", "server.3=[::1]:2888:3888:observer;2181", "tickTime=2000",
    ].join("\n"));
    expect(problems).toEqual([]);
    expect(servers).toEqual([
      { id: 1, host: "zk1", quorumPort: 2888, electionPort: 3888, role: "participant", client: { address: "127.0.0.1", port: 2181 } },
      { id: 2, host: "zk2", quorumPort: 2888, electionPort: 3888, role: "participant" },
      { id: 3, host: "::1", quorumPort: 2888, electionPort: 3888, role: "observer", client: { address: "0.0.0.0", port: 2181 } },
    ]);
  });

  it("reports a server line it cannot read instead of dropping it", () => {
    expect(parseMembership("server.1=zk1:28x8:3888\nserver.2=zk2:2888:3888:voter").problems).toHaveLength(2);
  });

  it("a file's lines and a running server's conf are the same membership", () => {
    const file = parseMembership("server.1=zk1:2888:3888:participant;2181\nserver.2=zk2:2888:3888:participant;2181").servers;
    const conf = membershipFromConf({ "server.1": "zk1:2888:3888:participant;0.0.0.0:2181", "server.2": "zk2:2888:3888:participant;0.0.0.0:2181", version: "100000000" })!;
    expect(sameMembership(file, conf)).toBe(true);
    expect(membershipFromConf({ clientPort: "2181" })).toBeUndefined();
  });

  it("sees an added server, a removed one, a moved port and a changed role", () => {
    const base = parseMembership("server.1=a:1:2\nserver.2=b:1:2").servers;
    expect(membershipChange(base, parseMembership("server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2").servers))
      .toEqual({ added: ["server.3=c:1:2:participant"], removed: [] });
    expect(sameMembership(base, parseMembership("server.1=a:1:2\nserver.2=b:1:3").servers)).toBe(false);
    expect(sameMembership(base, parseMembership("server.1=a:1:2\nserver.2=b:1:2:observer").servers)).toBe(false);
    expect(sameMembership(base, parseMembership("server.2 = b:1:2\nserver.1=A:1:2").servers)).toBe(true);
  });
});

describe("quorum arithmetic", () => {
  it("a majority of n voters", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(quorumSize)).toEqual([1, 2, 2, 3, 3, 4, 4]);
    expect(hasQuorum(2, 3)).toBe(true);
    expect(hasQuorum(1, 3)).toBe(false);
    expect(hasQuorum(0, 0)).toBe(false);
  });

  it("majorities of two configurations intersect exactly when brute force says so", () => {
    const subsets = (xs: number[]): number[][] => xs.reduce<number[][]>((acc, x) => [...acc, ...acc.map((s) => [...s, x])], [[]]);
    const ids = fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 6 });
    fc.assert(fc.property(ids, ids, (a, b) => {
      const majA = subsets(a).filter((s) => s.length >= quorumSize(a.length));
      const majB = subsets(b).filter((s) => s.length >= quorumSize(b.length));
      const brute = majA.every((x) => majB.every((y) => x.some((id) => y.includes(id))));
      expect(majoritiesIntersect(a, b)).toBe(brute);
    }));
    expect(majoritiesIntersect([1, 2, 3], [1, 2, 3, 4])).toBe(true);
    expect(majoritiesIntersect([1, 2, 3], [3, 4, 5])).toBe(false);
  });
});

describe("zoo.cfg settings", () => {
  it("compares meaning, not text, and leaves ZooKeeper's own dynamicConfigFile line to it under reconfig", () => {
    const ours = "# managed\ntickTime=2000\nclientPort=2181\nclientPortAddress=10.0.0.1\nreconfigEnabled=true\ndynamicConfigFile=/c/zoo.cfg.dynamic\n";
    const rewritten = "reconfigEnabled=true\ntickTime=2000\ndynamicConfigFile=/c/zoo.cfg.dynamic.100000000\n";
    expect(settingsDiff(rewritten, ours, true)).toEqual([]);
    expect(settingsDiff(rewritten, ours, false)).toEqual([
      "clientPort: (unset) -> 2181", "clientPortAddress: (unset) -> 10.0.0.1", "dynamicConfigFile: /c/zoo.cfg.dynamic.100000000 -> /c/zoo.cfg.dynamic",
    ]);
    expect(settingsDiff(rewritten, ours + "maxClientCnxns=9\n", true)).toEqual(["maxClientCnxns: (unset) -> 9"]);
    expect(parseSettings("server.1=a:1:2\nx = 1\n").get("x")).toBe("1");
    expect(withDynamicConfigFile(ours, "/c/zoo.cfg.dynamic.100000000")).toContain("\ndynamicConfigFile=/c/zoo.cfg.dynamic.100000000\n");
  });
});
