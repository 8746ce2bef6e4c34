// The reconfig agent operation against a real 3.9.3 ensemble applied with
// reconfig: true and a super password: server.3 removed and added back
// through the real agent and ZooKeeper's own zkCli, a wrong password refused
// with nothing changed, and the password found nowhere it must not be (the
// hosts' files, the zkCli process's argv and environment, the agent's
// answers, the journal, apply's --json).
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import { Fleet } from "../../controller/fleet/fleet.js";
import { loadInventory } from "../../controller/inventory/load.js";
import type { Inventory } from "../../controller/inventory/schema.js";
import { superAuth } from "../../controller/inventory/super-user.js";
import { runCli } from "../helpers/cli.js";
import { deriveInventory, fourLetterWord, modeOf, pollUntil, sshRun, useTestLab } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("reconfig-op", subnet("reconfig-op"), 3, "3.9.3");
// `$`, `:` and `!` would mean something to a shell or split user:password if anything mishandled them.
const PASSWORD = `Zk$:${randomBytes(9).toString("base64url")}!`;
const SERVER3 = `server.3=zk3:2888:3888:participant;${subnet("reconfig-op")}.13:2181`;

let inv: Inventory;
let fleet: Fleet;
let applyJson = "";
/** Every answer and error the agent gave, to search for the password at the end. */
const answers: string[] = [];

interface Conf {
  version: string;
  servers: string[];
}

/** What a server reports with `conf` (not through zkfleet). */
async function conf(host: number): Promise<Conf> {
  const text = await fourLetterWord(`${subnet("reconfig-op")}.1${host}`, 2181, "conf");
  return {
    version: /^version=([0-9a-f]+)$/m.exec(text)?.[1] ?? "",
    servers: text.split("\n").filter((line) => line.startsWith("server.")),
  };
}

async function leader(): Promise<number> {
  for (const host of [1, 2, 3]) if (modeOf(await fourLetterWord(`${subnet("reconfig-op")}.1${host}`, 2181, "srvr")) === "leader") return host;
  throw new Error("no leader");
}

async function reconfig(args: { add?: string[]; remove?: number[]; password?: string }) {
  const auth = args.password === undefined ? superAuth(inv) : { user: "super", password: args.password };
  try {
    const r = await fleet.call("zk1", "reconfig", {
      install_dir: inv.zookeeper.install_dir, server: `${subnet("reconfig-op")}.11:2181`, add: args.add ?? [], remove: args.remove ?? [], auth,
    });
    answers.push(JSON.stringify(r));
    return r;
  } catch (error) {
    answers.push(JSON.stringify(error), String(error), (error as ZkfleetError).hint ?? "");
    throw error;
  }
}

/**
 * Samples every zkCli JVM (ZooKeeperMain) on zk1 while `during` runs: its
 * argv and environment, one line each. The op starts two, each alive for
 * about half a second, so a 20 ms sampler sees them.
 */
async function sampleZkCli<T>(during: () => Promise<T>): Promise<{ result: T; samples: string }> {
  const script = "for i in $(seq 400); do for p in /proc/[0-9]*; do " +
    "c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null); case \"$c\" in *ZooKeeperMain*) echo \"argv: $c\"; echo \"env: $(tr '\\0' ' ' < $p/environ 2>/dev/null)\";; esac; " +
    "done; [ -e /tmp/stop-sampling ] && break; sleep 0.02; done";
  const sampler = sshRun(t.lab, "zk1", `rm -f /tmp/stop-sampling; ${script}`, 60_000);
  let result: T;
  try {
    result = await during();
  } finally {
    await sshRun(t.lab, "zk1", "touch /tmp/stop-sampling");
  }
  return { result, samples: (await sampler).stdout };
}

beforeAll(async () => {
  writeFileSync(join(t.lab.dir, "super.pw"), `${PASSWORD}\n`, { mode: 0o600 });
  const file = deriveInventory(t.lab, "reconfig.yml", { reconfig: true, super_password_file: "super.pw" });
  const applied = await runCli(["apply", "-i", file, "--yes", "--json"], t.env);
  expect(applied.code, applied.err).toBe(2);
  applyJson = `${applied.out}\n${applied.err}`;
  inv = await loadInventory(file);
  fleet = await Fleet.open([inv]);
});

afterAll(async () => {
  await fleet?.close();
});

describe("reconfig through the agent on a 3-server 3.9.3 ensemble", () => {
  it("the servers got the super digest, computed here independently, in a 0600 argument file off their command line, and not the password", async () => {
    const digest = `super:${createHash("sha1").update(`super:${PASSWORD}`).digest("base64")}`;
    for (const h of t.lab.hosts) {
      const env = (await sshRun(t.lab, h.name, "cat /etc/zookeeper/conf/zookeeper-env.sh")).stdout;
      expect(env, h.name).toContain(" @/etc/zookeeper/conf/super-digest.args'");
      const args = await sshRun(t.lab, h.name, "stat -c '%a %U' /etc/zookeeper/conf/super-digest.args /etc/zookeeper/conf/zookeeper-env.sh; cat /etc/zookeeper/conf/super-digest.args");
      expect(args.stdout, h.name).toBe(`600 root\n600 root\n-Dzookeeper.DigestAuthenticationProvider.superDigest=${digest}\n`);
      // Started by zkServer.sh (service: script): what ps shows of the server, found by its main class.
      const ps = await sshRun(t.lab, h.name, "ps -eo args | grep -F QuorumPeerMain | grep -v grep");
      expect(ps.stdout, h.name).toContain("@/etc/zookeeper/conf/super-digest.args");
      for (const text of [env, ps.stdout]) {
        expect(text, h.name).not.toContain(digest);
        expect(text, h.name).not.toContain(PASSWORD);
      }
    }
  });

  it("remove [3] commits: the leader's conf drops server.3 under a new version; a repeat changes nothing", async () => {
    const before = await conf(await leader());
    expect(before.servers.some((line) => line.startsWith("server.3="))).toBe(true);
    const { result: r, samples } = await sampleZkCli(() => reconfig({ remove: [3] }));
    expect(r.changed).toBe(true);
    // ps would have shown this: zkCli's argv (and environment) while it ran, without the password.
    expect(samples).toMatch(/^argv: .*org\.apache\.zookeeper\.ZooKeeperMain -server 127\.94\.0\.11:2181 $/m);
    expect(samples).toMatch(/^env: .*PATH=/m);
    expect(samples).not.toContain(PASSWORD);
    expect(r.data.version).not.toBe(before.version);
    expect(r.data.servers).toEqual(before.servers.filter((line) => !line.startsWith("server.3=")));
    const after = await conf(await leader());
    expect(after).toEqual({ version: r.data.version, servers: r.data.servers });

    const again = await reconfig({ remove: [3] });
    expect(again.changed).toBe(false);
    expect(again.data.version).toBe(r.data.version);
    expect((await conf(await leader())).version).toBe(r.data.version);
  });

  it("add [server.3] puts it back: the server still runs with its data and rejoins the new configuration", async () => {
    const before = await conf(await leader());
    const r = await reconfig({ add: [SERVER3] });
    expect(r.changed).toBe(true);
    expect(r.data.servers).toContain(SERVER3);
    expect(r.data.servers).toHaveLength(3);
    // Every server, the one that was removed included, ends on the committed configuration.
    for (const host of [1, 2, 3]) {
      const seen = await pollUntil(async () => {
        const c = await conf(host);
        return c.version === r.data.version ? c : undefined;
      }, 20_000);
      expect(seen?.servers, `zk${host}`).toEqual(r.data.servers);
    }
    expect(r.data.version).not.toBe(before.version);
    const modes = await Promise.all([1, 2, 3].map(async (host) => modeOf(await fourLetterWord(`${subnet("reconfig-op")}.1${host}`, 2181, "srvr"))));
    expect(modes.sort()).toEqual(["follower", "follower", "leader"]);
  });

  it("a wrong password is refused with a typed error naming the fix, and the configuration is unchanged", async () => {
    const before = await conf(await leader());
    const wrong = `${PASSWORD}-not`;
    const error = await reconfig({ remove: [3], password: wrong }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ZkfleetError);
    const err = error as ZkfleetError;
    expect(err.message).toMatch(/reconfig on zk1 failed \[refused\]: .*not authorized/);
    expect(err.hint).toMatch(/super_password_file/);
    expect(`${err.message} ${err.hint}`).not.toContain(wrong);
    expect(await conf(await leader())).toEqual(before);
  });

  it("the password is nowhere: not on the hosts, not in the agent's answers, the journal or apply's --json", async () => {
    expect(answers.length).toBeGreaterThanOrEqual(4);
    for (const answer of answers) expect(answer).not.toContain(PASSWORD);
    expect(applyJson).not.toContain(PASSWORD);
    const journal = t.env.ZKFLEET_JOURNAL!;
    const files = readdirSync(journal, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(readFileSync(join(f.parentPath, f.name), "utf8")).not.toContain(PASSWORD);
    for (const h of t.lab.hosts) {
      const found = await sshRun(t.lab, h.name,
        `grep -rlaF -e '${PASSWORD}' /etc /opt /root /tmp /run /var/lib/zookeeper /var/log/zookeeper 2>/dev/null; true`);
      expect(found.stdout.trim(), h.name).toBe("");
    }
  });
});
