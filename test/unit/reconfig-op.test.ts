// The reconfig op's pure parts: the server-spec regex and argument rules,
// what zkCli is given (argv and stdin), and how its output is read. The
// fixtures are zkCli 3.9.3's real output (stdout, then stderr) captured in
// the lab against a 3-server ensemble on 127.94.0.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { describe, expect, it } from "vitest";
import { RECONFIG_SERVER_SPEC, ReconfigArgs } from "../../common/protocol.js";
import { done, failed } from "../../agent/outcome.js";
import {
  cliOutput, CONFIG_INPUT, masked, normalVersion, parseConfigOutput, parseReconfigOutput, pendingChange, reconfigInput, reconfigLine, scrub, zkCliArgv,
} from "../../agent/ops/reconfig.js";

const fixture = (name: string) => readFileSync(new URL(`fixtures/zkcli-reconfig/${name}.txt`, import.meta.url), "utf8");
const S1 = "server.1=zk1:2888:3888:participant;127.94.0.11:2181";
const S2 = "server.2=zk2:2888:3888:participant;127.94.0.12:2181";
const S3 = "server.3=zk3:2888:3888:participant;127.94.0.13:2181";

describe("server specs for reconfig -add", () => {
  it.each([
    "server.4=zk4:2888:3888:participant;127.0.0.1:2181",
    "server.4=zk4:2888:3888",
    "server.4=zk4:2888:3888;2181",
    "server.10=10.0.0.4:2888:3888:observer;0.0.0.0:2181",
    "server.255=zk-b1.rack2.example.com:2888:3888:participant;2181",
    "server.5=[fd00::5]:2888:3888:participant;[fd00::5]:2181",
  ])("accepts %s", (spec) => {
    expect(RECONFIG_SERVER_SPEC.test(spec)).toBe(true);
  });

  it.each([
    ["a space", "server.4=zk4:2888:3888:participant; 2181"],
    ["a second command", "server.4=zk4:2888:3888;2181;rm -rf /"],
    ["command substitution", "server.4=$(reboot):2888:3888;2181"],
    ["backticks", "server.4=`id`:2888:3888;2181"],
    ["a pipe (multi-address is not taken)", "server.4=zk4:2888:3888|zk4b:2888:3888;2181"],
    ["two specs in one (zkCli's list separator)", "server.4=zk4:2888:3888;2181,server.5=zk5:2888:3888;2181"],
    ["a newline", "server.4=zk4:2888:3888;2181\nreconfig -remove 1"],
    ["id 0", "server.0=zk0:2888:3888;2181"],
    ["no election port", "server.4=zk4:2888;2181"],
    ["an unknown role", "server.4=zk4:2888:3888:leader;2181"],
    ["port 0", "server.4=zk4:0:3888;2181"],
    ["a six-digit port", "server.4=zk4:2888:388888;2181"],
    ["a host starting with -", "server.4=-zk4:2888:3888;2181"],
    ["spaces around =", "server.4 = zk4:2888:3888"],
    ["no server. prefix", "4=zk4:2888:3888"],
    ["a quote", "server.4='zk4':2888:3888"],
  ])("refuses %s", (_why, spec) => {
    expect(RECONFIG_SERVER_SPEC.test(spec)).toBe(false);
  });
});

describe("reconfig arguments", () => {
  const base = { install_dir: "/opt/zookeeper", server: "127.94.0.11:2181" };
  const problems = (args: Record<string, unknown>) => {
    const r = ReconfigArgs.safeParse({ ...base, ...args });
    return r.success ? "" : z.prettifyError(r.error);
  };

  it("defaults and a valid request", () => {
    const args = ReconfigArgs.parse({ ...base, remove: [3] });
    expect(args).toMatchObject({ add: [], remove: [3], env: {}, timeout_s: 60 });
    expect(args.auth).toBeUndefined();
    expect(problems({ add: [S3], from_version: "0x10000004E", auth: { user: "super", password: "Zk$:x!" } })).toBe("");
  });

  it("needs at least one of add and remove", () => {
    expect(problems({})).toMatch(/add or remove must name at least one server/);
    expect(problems({ add: [], remove: [] })).toMatch(/at least one server/);
  });

  it("refuses a server both added and removed, or named twice", () => {
    expect(problems({ add: [S3], remove: [3] })).toMatch(/server\.3 is both added and removed/);
    expect(problems({ add: [S3, S3] })).toMatch(/server\.3 is added twice/);
    expect(problems({ remove: [2, 2] })).toMatch(/server 2 is removed twice/);
  });

  it("refuses bad ids, versions and servers", () => {
    expect(problems({ remove: [0] })).not.toBe("");
    expect(problems({ remove: [1.5] })).not.toBe("");
    expect(problems({ remove: [3], from_version: "v1" })).toMatch(/hexadecimal config version/);
    expect(problems({ remove: [3], server: "zk1:2181;ls" })).toMatch(/host:port/);
    expect(problems({ remove: [3], server: "zk1" })).toMatch(/host:port/);
  });

  it("refuses a password zkCli would split or unquote, without echoing it", () => {
    for (const password of ["two words", "'quoted'", 'a"b', "tab\there", "line\nbreak", ""]) {
      const message = problems({ remove: [3], auth: { user: "super", password } });
      expect(message, JSON.stringify(password)).not.toBe("");
      if (password.length > 2) expect(message).not.toContain(password);
    }
    expect(problems({ remove: [3], auth: { user: "su per", password: "x" } })).toMatch(/plain user name/);
  });
});

describe("what zkCli is given", () => {
  const auth = { user: "super", password: "Zk$:s3cret!" };

  it("argv names the server only: the password never reaches a command line", () => {
    const argv = zkCliArgv("/opt/zookeeper/current", "127.94.0.11:2181");
    expect(argv).toEqual(["/opt/zookeeper/current/bin/zkCli.sh", "-server", "127.94.0.11:2181"]);
    expect(argv.join(" ")).not.toContain(auth.password);
  });

  it("stdin: addauth first, then the conditional reconfig, then quit", () => {
    const input = reconfigInput({ add: [S3], remove: [] }, "0x10000004E", auth);
    expect(input).toBe(`addauth digest super:Zk$:s3cret!\nreconfig -v 10000004e -add ${S3}\nquit\n`);
    expect(reconfigInput({ add: [], remove: [3, 4] }, undefined, undefined)).toBe("reconfig -remove 3,4\nquit\n");
    expect(reconfigLine({ add: [S2, S3], remove: [5] }, "00ff")).toBe(`reconfig -v ff -add ${S2},${S3} -remove 5`);
    expect(CONFIG_INPUT).toBe("config\nquit\n");
  });

  it("versions are compared as ZooKeeper prints them", () => {
    expect(normalVersion("0x0100000041")).toBe("100000041");
    expect(normalVersion("10000004E")).toBe("10000004e");
  });

  it("scrub masks every occurrence, and takes the secret literally", () => {
    expect(scrub("a $x. b $x.", "$x.")).toBe("a ***** b *****");
    expect(scrub("nothing", undefined)).toBe("nothing");
  });

  it("the op's every text is masked, but not the servers parsed from the raw output (a short password may occur in them)", () => {
    const ok = masked(done(true, "would run addauth digest super:zk3", { version: "1", servers: [S3], output: "echo super:zk3" }), "zk3");
    expect(ok).toEqual(done(true, "would run addauth digest super:*****", { version: "1", servers: [S3], output: "echo super:*****" }));
    const refused = masked(failed("refused", "said zk3", "check zk3"), "zk3");
    expect(refused).toEqual(failed("refused", "said *****", "check *****"));
  });
});

describe("zkCli 3.9.3 output", () => {
  it("config: the current membership and version, not the client's zookeeper.version log line", () => {
    expect(parseConfigOutput(fixture("config"))).toEqual({ version: "10000003c", servers: [S1, S2, S3] });
    expect(parseConfigOutput(fixture("connection-refused"))).toBeUndefined();
    expect(parseConfigOutput(fixture("not-authorized"))).toBeUndefined();
  });

  it("a committed remove and add: server lines and version", () => {
    expect(parseReconfigOutput(fixture("remove-committed"))).toEqual({ kind: "committed", version: "100000041", servers: [S1, S2] });
    expect(parseReconfigOutput(fixture("add-committed"))).toEqual({ kind: "committed", version: "100000044", servers: [S1, S2, S3] });
  });

  it.each([
    ["not-authorized", "not_authorized"],
    ["bad-version", "bad_version"],
    ["no-quorum", "no_quorum"],
    ["disabled", "disabled"],
    ["connection-refused", "unreachable"],
  ])("%s -> %s", (name, kind) => {
    expect(parseReconfigOutput(fixture(name))).toEqual({ kind });
  });

  it("ZooKeeper's older spelling of the no-quorum message", () => {
    const older = "No quorum of new config is connected and up-to-date with the leader of last commmitted config - try invoking reconfiguration after new servers are connected and synced";
    expect(parseReconfigOutput(older)).toEqual({ kind: "no_quorum" });
  });

  it("output keeps zkCli's own lines and drops its INFO log", () => {
    const out = cliOutput(fixture("remove-committed"));
    expect(out).toContain(`Committed new configuration:\n${S1}\n${S2}\nversion=100000041`);
    expect(out).not.toMatch(/ INFO /);
    expect(cliOutput(fixture("connection-refused"))).toMatch(/WARN .*Connection refused|ConnectionLoss/);
  });
});

describe("what is already in place", () => {
  const current = { version: "100000044", servers: [S1, S2, S3] };

  it("removing an absent id or adding an identical line is nothing to do", () => {
    expect(pendingChange(current, { add: [S3], remove: [7] })).toEqual({ add: [], remove: [] });
    // ZooKeeper prints the role; a spec without one is a participant.
    expect(pendingChange(current, { add: ["server.3=zk3:2888:3888;127.94.0.13:2181"], remove: [] })).toEqual({ add: [], remove: [] });
  });

  it("a present id with another spec (a role change) and a present id to remove are pending", () => {
    const observer = "server.3=zk3:2888:3888:observer;127.94.0.13:2181";
    expect(pendingChange(current, { add: [observer], remove: [2] })).toEqual({ add: [observer], remove: [2] });
  });

  it("a server ZooKeeper prints in a form requests may not use still counts as present", () => {
    const multi = { version: "1", servers: [S1, "server.2=zk2:2888:3888|zk2b:2888:3888:participant;2181"] };
    expect(pendingChange(multi, { add: [], remove: [2] })).toEqual({ add: [], remove: [2] });
  });
});
