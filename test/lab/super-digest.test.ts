// The super user's digest off the command line (issue 19): on systemd hosts
// running each 3.9.3 server as its own user, with reconfig: true and a super
// password, the java launcher reads the digest from a 0600 argument file that
// SERVER_JVMFLAGS names (@file), so neither ps nor /proc/PID/cmdline of the
// server shows it, and zookeeper-env.sh is not world-readable. Reconfig,
// which only the super user may do, still works: zkCli without the super
// user's credentials is refused, and apply adds an observer by reconfig.
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { sshRun, useTestLab } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";
import { apply, change, load, membershipInventory, reportedMembers, type HostWant } from "./membership-scenario.js";

const t = useTestLab("super-digest", subnet("super-digest"), 4, "3.9.3", { systemd: true });
// `$`, `:` and `!` would mean something to a shell or split user:password if anything mishandled them.
const PASSWORD = `Zk$:${randomBytes(9).toString("base64url")}!`;
/** What the servers are given, computed here as ZooKeeper's DigestAuthenticationProvider does. */
const DIGEST = `super:${createHash("sha1").update(`super:${PASSWORD}`).digest("base64")}`;
const ARGS_FILE = "/etc/zookeeper/conf/super-digest.args";
const ENV_FILE = "/etc/zookeeper/conf/zookeeper-env.sh";
const address = (name: string) => t.lab.hosts.find((h) => h.name === name)!.address;

let password = "";
const inventory = (file: string, hosts: HostWant[]) => membershipInventory(t, file, hosts, {
  reconfig: true, super_password_file: password, service: "systemd", user: "zk", heap_mb: 256,
});
const THREE: HostWant[] = [{ name: "zk1", myid: 1 }, { name: "zk2", myid: 2 }, { name: "zk3", myid: 3 }];

beforeAll(async () => {
  password = join(t.lab.dir, "super.pw");
  writeFileSync(password, `${PASSWORD}\n`, { mode: 0o600 });
  for (const h of t.lab.hosts) {
    const r = await sshRun(t.lab, h.name, "useradd --system --no-create-home --shell /usr/sbin/nologin zk");
    expect(r.code, r.stderr).toBe(0);
  }
}, 60_000);

interface Seen { cmdline: string; environ: string; ps: string; user: string; files: string; env: string; args: string }

/** The server as ps and /proc show it (run as root on the host: root sees every process), and the two files. */
async function serverOn(host: string): Promise<Seen> {
  const script = [
    "pid=$(systemctl show --property=MainPID --value zookeeper.service)",
    `echo "cmdline=$(tr '\\0' ' ' < /proc/$pid/cmdline)"`,
    `echo "environ=$(tr '\\0' ' ' < /proc/$pid/environ)"`,
    `echo "user=$(ps -o user= -p "$pid")"`,
    `echo "ps=$(ps -eo args | tr '\\n' ' ')"`,
    `echo "files=$(stat -c '%n %a %U' ${ENV_FILE} ${ARGS_FILE} | tr '\\n' ';')"`,
    `echo "env=$(tr '\\n' ' ' < ${ENV_FILE})"`,
    `echo "args=$(cat ${ARGS_FILE})"`,
  ].join("; ");
  const r = await sshRun(t.lab, host, script);
  expect(r.code, r.stderr).toBe(0);
  const v = (key: string) => new RegExp(`^${key}=(.*)$`, "m").exec(r.stdout)?.[1]?.trim() ?? "";
  return { cmdline: v("cmdline"), environ: v("environ"), ps: v("ps"), user: v("user"), files: v("files"), env: v("env"), args: v("args") };
}

function expectDigestOnlyInTheFile(host: string, seen: Seen) {
  const secret = DIGEST.split(":")[1]!;
  expect(seen.cmdline, host).toContain("org.apache.zookeeper.server.quorum.QuorumPeerMain");
  expect(seen.cmdline, host).toContain(` @${ARGS_FILE} `);
  expect(seen.user, host).toBe("zk");
  for (const [what, text] of Object.entries({ cmdline: seen.cmdline, environ: seen.environ, ps: seen.ps, env: seen.env })) {
    expect(text, `${host}: ${what}`).not.toContain(secret);
    expect(text, `${host}: ${what}`).not.toContain(PASSWORD);
  }
  expect(seen.args, host).toBe(`-Dzookeeper.DigestAuthenticationProvider.superDigest=${DIGEST}`);
  // 0600 and the server's user's: the unit hands them over before java starts.
  expect(seen.files, host).toBe(`${ENV_FILE} 600 zk;${ARGS_FILE} 600 zk;`);
}

describe("the super digest in a 0600 argument file (3.9.3 under systemd, User=zk)", () => {
  it("apply starts three servers whose command line names the file, never the digest", async () => {
    const r = await apply(t, inventory("three.yml", THREE), "--yes");
    expect(r.code, r.err).toBe(2);
    for (const host of ["zk1", "zk2", "zk3"]) expectDigestOnlyInTheFile(host, await serverOn(host));
  }, 300_000);

  it("zkCli without the super user's credentials may not reconfig; apply, as super, adds zk4 by reconfig", async () => {
    const server = await load(t);
    const zkCli = "/opt/zookeeper/current/bin/zkCli.sh";
    const line = `server.4=zk4:2888:3888:observer;${address("zk4")}:2181`;
    const anonymous = await sshRun(t.lab, "zk1", `${zkCli} -server ${address("zk1")}:2181 reconfig -add '${line}' 2>&1`);
    expect(anonymous.stdout).toMatch(/Insufficient permission|NoAuth/);
    expect(await reportedMembers(address("zk1"))).toEqual(["1:participant", "2:participant", "3:participant"]);

    const four = inventory("four.yml", [...THREE, { name: "zk4", myid: 4, role: "observer" }]);
    await change(t, four, { before: server, after: server }, ["reconfig", "await_config", "start"]);
    expect(await reportedMembers(address("zk2"))).toEqual(["1:participant", "2:participant", "3:participant", "4:observer"]);
    expectDigestOnlyInTheFile("zk4", await serverOn("zk4"));
  }, 300_000);
});
