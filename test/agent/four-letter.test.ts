// Pure parsing of four-letter-word answers, on the shapes servers of other
// versions and roles print (the real 3.8.0 standalone is in zookeeper.test.ts).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isNotServing, isNotWhitelisted, parseConf, parseMntr, parseSrvr, parseZxid, srvrFieldsFromMntr } from "../../common/four-letter.js";
import { parseOsRelease } from "../../agent/ops/facts.js";
import { dataDirOf } from "../../agent/ops/start.js";

describe("four-letter words", () => {
  it("parses a 3.4-style srvr of a follower", () => {
    const srvr = [
      "Zookeeper version: 3.4.13-2d71af4dbe22557fda74f9a9b4309b15a7487f03, built on 06/29/2018 04:05 GMT",
      "Latency min/avg/max: 0/1/12",
      "Received: 10",
      "Sent: 9",
      "Connections: 2",
      "Outstanding: 0",
      "Zxid: 0x1a00000002",
      "Mode: follower",
      "Node count: 7",
      "",
    ].join("\n");
    expect(parseSrvr(srvr)).toEqual({
      version: "3.4.13-2d71af4dbe22557fda74f9a9b4309b15a7487f03",
      latency: { min: 0, avg: 1, max: 12 },
      connections: 2,
      outstanding: 0,
      zxid: { hex: "0x1a00000002", epoch: 26, counter: 2 },
      mode: "follower",
      node_count: 7,
    });
  });

  it("parses a leader's mntr, including synced followers and fractional latency", () => {
    const mntr = "zk_version\t3.9.3-abc, built on 2024\nzk_avg_latency\t0.5\nzk_max_latency\t4\nzk_min_latency\t0\n" +
      "zk_num_alive_connections\t3\nzk_outstanding_requests\t1\nzk_server_state\tleader\nzk_znode_count\t12\n" +
      "zk_followers\t4\nzk_synced_followers\t2\n";
    const m = parseMntr(mntr);
    expect(m.zk_synced_followers).toBe("2");
    expect(srvrFieldsFromMntr(m)).toEqual({
      version: "3.9.3-abc",
      latency: { min: 0, avg: 0.5, max: 4 },
      connections: 3,
      outstanding: 1,
      mode: "leader",
      node_count: 12,
    });
  });

  it("recognises refusals and a server outside the quorum", () => {
    expect(isNotWhitelisted("mntr is not executed because it is not in the whitelist.\n")).toBe(true);
    expect(isNotWhitelisted("imok")).toBe(false);
    expect(isNotServing("This ZooKeeper instance is not currently serving requests\n")).toBe(true);
    expect(parseSrvr("This ZooKeeper instance is not currently serving requests\n")).toEqual({});
  });

  it("parses conf key=value lines, keeping '=' inside values", () => {
    expect(parseConf("clientPort=2181\nserver.1=a:2888:3888:participant;0.0.0.0:2181\n")).toEqual({
      clientPort: "2181",
      "server.1": "a:2888:3888:participant;0.0.0.0:2181",
    });
  });

  it("splits any zxid into epoch and counter (high and low 32 bits)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), (epoch, counter) => {
        const value = (BigInt(epoch) << 32n) | BigInt(counter);
        expect(parseZxid(`0x${value.toString(16).toUpperCase()}`)).toEqual({ hex: `0x${value.toString(16)}`, epoch, counter });
      }),
    );
    expect(parseZxid("12")).toBeNull();
  });
});

describe("config readers", () => {
  it("reads os-release with and without quotes", () => {
    expect(parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID=\'12\'\n# c\n')).toEqual({
      PRETTY_NAME: "Debian GNU/Linux 12 (bookworm)",
      ID: "debian",
      VERSION_ID: "12",
    });
  });

  it("finds dataDir in zoo.cfg as zkServer.sh does (first match, spaces trimmed)", () => {
    expect(dataDirOf("tickTime=2000\n  dataDir = /var/lib/zk \ndataLogDir=/x\n")).toBe("/var/lib/zk");
    expect(dataDirOf("dataLogDir=/x\n")).toBeNull();
  });
});
