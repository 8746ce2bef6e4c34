// Every bad input zkfleet is known to refuse without a host, in one table:
// each case with the exit code and the place (file:line:column) its finding
// must start with, through the real CLI, `check` and `apply` alike (apply
// checks first and touches nothing: no host of these inventories exists).
// Cases that need hosts (a changed host key, an unreachable host, no node)
// are in test/lab/bad-input.test.ts, which also proves on real hosts that
// refused inventories touch nothing. Heavy inputs (150,000 hosts, 40,000
// keys, deep nesting) are in hostile-input.test.ts.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../common/errors.js";
import { runCli } from "../helpers/cli.js";
import { fixtureYaml, lineOf } from "../golden/fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "zkfleet-bad-input-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { ZKFLEET_JOURNAL: join(dir, "journal") };

function secret(name: string, content: string, mode = 0o600): string {
  const file = join(dir, name);
  writeFileSync(file, content);
  chmodSync(file, mode);
  return file;
}

const base = fixtureYaml();
/** The fixture with `from` (which must be in it) replaced. */
function swap(from: string, to: string, text = base): string {
  if (!text.includes(from)) throw new Error(`fixture lacks ${from}`);
  return text.replace(from, to);
}
const inZookeeper = (lines: string) => swap("  heap_mb: 512\n", `  heap_mb: 512\n${lines}`);
const inConfig = (lines: string, options = {}) => swap("    maxClientCnxns: 100\n", `    maxClientCnxns: 100\n${lines}`, fixtureYaml(options));
const withPasswordFile = (path: string) => fixtureYaml({ version: "3.9.3", reconfig: true, extraZookeeper: [`super_password_file: ${path}`] }).replace("    super_password_file", "  super_password_file");
const addressOfZk2 = (address: string) => swap("address: 127.94.0.12,", `address: "${address}",`, fixtureYaml({ hostsFile: "unmanaged" }));

interface BadInput {
  name: string;
  text: string | (() => string);
  /** Text on the line the finding must start at (its first line when several have it), or the line number. */
  at: string | number;
  /** The finding: host, field and message. */
  says: string | RegExp;
  /** Exit code of check and apply; 3 unless said. */
  code?: number;
}

const BAD_INPUTS: BadInput[] = [
  // YAML itself
  { name: "syntax error", text: swap("  - { name: zk2, address: 127.94.0.12, myid: 2 }", "  - { name: zk2, address: 127.94.0.12, myid: 2"), at: "name: zk3", says: /error: YAML syntax error: / },
  { name: "a key twice in one mapping", text: inZookeeper("  heap_mb: 1024\n"), at: "heap_mb: 1024", says: /YAML syntax error: key "heap_mb" is written twice in one mapping \(first on line \d+\)/ },
  { name: "alias bomb", text: () => ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ..."bcdefghi".split("").map((l, i) => `${l}: &${l} [${Array(9).fill(`*${"abcdefghi"[i]}`).join(",")}]`), "ensemble: lol", ""].join("\n"), at: "e: &e", says: /alias \*d expands past 1000 nodes/ },
  { name: "alias before its anchor", text: swap("ensemble: orders-zk", "ensemble: *name"), at: 1, says: /Unresolved alias/ },
  { name: "empty file", text: "", at: 1, says: /the inventory must be a YAML mapping/ },
  // shape and values (schema)
  { name: "unknown top-level key", text: swap("hosts_file: managed", "hosts_fil: managed"), at: "hosts_fil:", says: /hosts_fil: unknown key "hosts_fil": did you mean hosts_file\?/ },
  { name: "unknown zookeeper key", text: swap("  heap_mb: 512", "  heapmb: 512"), at: "heapmb", says: /zookeeper\.heapmb: .*did you mean heap_mb\?/ },
  { name: "unknown host key", text: swap("myid: 2 }", "myid: 2, adress: x }"), at: "adress", says: /host zk2: hosts\[1\]\.adress: .*did you mean address\?/ },
  { name: "missing ensemble", text: swap("ensemble: orders-zk\n", ""), at: 1, says: /: ensemble: missing/ },
  { name: "unknown version", text: swap("version: 3.8.0", "version: 3.5.0"), at: "version:", says: /zookeeper\.version: unknown ZooKeeper version "3\.5\.0".*3\.4\.13, 3\.8\.0, 3\.9\.3/ },
  { name: "myid above 255", text: swap("myid: 3 }", "myid: 300 }"), at: "myid: 300", says: /host zk3: hosts\[2\]\.myid: .*at most 255/ },
  { name: "myid not whole", text: swap("myid: 2 }", "myid: 2.5 }"), at: "myid: 2.5", says: /hosts\[1\]\.myid: .*whole number/ },
  { name: "missing myid", text: swap("  - { name: zk2, address: 127.94.0.12, myid: 2 }", "  - { name: zk2, address: 127.94.0.12 }"), at: "name: zk2", says: /host zk2: hosts\[1\]\.myid: missing/ },
  { name: "duplicate myid", text: swap("myid: 3 }", "myid: 1 }"), at: "name: zk3", says: /host zk3: hosts\[2\]\.myid: myid 1 is already used by host zk1/ },
  { name: "duplicate name", text: swap("name: zk2", "name: ZK1"), at: "name: ZK1", says: /hosts\[1\]\.name: .*already used by host zk1/ },
  { name: "duplicate address", text: swap("127.94.0.13", "127.94.0.11"), at: "name: zk3", says: /hosts\[2\]\.address: .*already used by host zk1/ },
  { name: "257 hosts", text: () => ["ensemble: big", "zookeeper:", "  version: 3.8.0", "hosts:", ...Array.from({ length: 257 }, (_, i) => `  - { name: h${i}, address: 10.0.${i >> 8}.${i & 255}, myid: ${i + 1} }`), ""].join("\n"), at: "name: h255,", says: /hosts\[255\]: an inventory lists at most 255 hosts/ },
  { name: "empty host list", text: swap("hosts:\n", "hosts: []\n").replace(/^ {2}- \{.*\n/gm, ""), at: "hosts: []", says: /hosts: must list at least one host/ },
  { name: "host name with shell metacharacters", text: swap("name: zk2", 'name: "zk2;reboot"'), at: "zk2;reboot", says: /hosts\[1\]\.name: must be a valid host name/ },
  { name: "address neither IP nor name", text: swap("127.94.0.12", "127.94.0.300"), at: "127.94.0.300", says: /neither an IPv4 address/ },
  { name: "bracketed IPv6 address", text: swap("127.94.0.12", '"[::1]"'), at: "[::1]", says: /without brackets/ },
  { name: "host name address with managed hosts file", text: swap("127.94.0.12", "zk2.example.org"), at: "zk2.example.org", says: /hosts_file: managed.*IP address/ },
  ...["0.0.0.0", "::", "::ffff:0.0.0.0", "0.1.2.3", "255.255.255.255", "224.0.0.1", "240.0.0.1", "ff02::1"].map((address): BadInput => (
    { name: `address ${address}`, text: addressOfZk2(address), at: `"${address}"`, says: new RegExp(`host zk2: hosts\\[1\\]\\.address: address ${address.replace(/\./g, "\\.")} is .*not the address of a host`) })),
  { name: "relative data_dir", text: inZookeeper("  data_dir: var/lib/zk\n"), at: "data_dir", says: /zookeeper\.data_dir: must be an absolute path/ },
  { name: "data_dir with ..", text: inZookeeper("  data_dir: /var/lib/../etc\n"), at: "data_dir", says: /must not contain a '\.\.' segment/ },
  { name: "data_dir with shell metacharacters", text: inZookeeper("  data_dir: /var/lib/zk;touch /tmp/x\n"), at: "data_dir", says: /no spaces or shell metacharacters/ },
  { name: "log_dir with $(...)", text: inZookeeper('  log_dir: "/var/log/$(id)"\n'), at: "log_dir", says: /shell metacharacters/ },
  { name: "~user path", text: swap("hosts_file: managed", "ssh: { identity_file: ~bob/key }\nhosts_file: managed"), at: "identity_file", says: /ssh\.identity_file: only ~ and ~\/ are expanded/ },
  { name: "agent.node with shell metacharacters", text: `${base}agent:\n  node: node;touch /tmp/x\n`, at: "node;touch", says: /agent\.node: must be a program name/ },
  { name: "port out of range", text: inZookeeper("  client_port: 70000\n"), at: "client_port", says: /between 1 and 65535/ },
  { name: "colliding ports", text: inZookeeper("  election_port: 2888\n"), at: "election_port", says: /2888 is also zookeeper\.quorum_port/ },
  { name: "ssh port on a ZooKeeper port", text: swap("myid: 2 }", "myid: 2, ssh_port: 2181 }"), at: "ssh_port", says: /sshd and ZooKeeper cannot share a port/ },
  { name: "config overriding a managed key", text: swap("    tickTime: 2000", "    dataDir: /elsewhere"), at: "dataDir", says: /written by zkfleet from zookeeper\.data_dir/ },
  { name: "config adding a server line", text: swap("    tickTime: 2000", '    server.9: "evil:2888:3888"'), at: "server.9", says: /written by zkfleet from hosts/ },
  { name: "config value with a newline", text: swap("    tickTime: 2000", '    tickTime: "2000\\nserver.9=evil:1:2"'), at: "tickTime", says: /the value of tickTime contains a newline/ },
  // zoo.cfg values as ZooKeeper reads them
  { name: "tickTime: abc", text: swap("    tickTime: 2000", "    tickTime: abc"), at: "tickTime: abc", says: /tickTime must be a whole number \(ZooKeeper reads it as a Java int\)/ },
  { name: "syncLimit: 0", text: inConfig("    syncLimit: 0\n"), at: "syncLimit: 0", says: /syncLimit must be at least 1/ },
  { name: "preAllocSize: 64M", text: inConfig("    preAllocSize: 64M\n"), at: "preAllocSize", says: /Java long/ },
  { name: "sslQuorum: yes", text: inConfig("    sslQuorum: yes\n"), at: "sslQuorum", says: /sslQuorum must be true or false/ },
  { name: "forceSync: false", text: inConfig("    forceSync: false\n"), at: "forceSync", says: /forceSync must be yes or no/ },
  { name: "secureClientPort: 70000", text: inConfig("    secureClientPort: 70000\n"), at: "secureClientPort", says: /must be a port/ },
  // lint errors
  { name: "only observers", text: base.replace(/myid: (\d) }/g, "myid: $1, role: observer }"), at: "name: zk1", says: /every host is an observer/ },
  { name: "setting from a later version", text: inConfig("    4lw.commands.whitelist: srvr,mntr\n", { version: "3.4.13" }), at: "4lw.commands.whitelist", says: /ZooKeeper 3\.4\.13 does not know 4lw\.commands\.whitelist: it exists in ZooKeeper 3\.8\.0/ },
  { name: "misspelt setting", text: inConfig("    maxClientCnx: 10\n"), at: "maxClientCnx:", says: /did you mean maxClientCnxns\?/ },
  { name: "reconfig on 3.4", text: fixtureYaml({ version: "3.4.13", reconfig: true }), at: "reconfig: true", says: /has no dynamic reconfiguration/ },
  { name: "whitelist without srvr and mntr", text: inConfig("    4lw.commands.whitelist: ruok,stat\n"), at: "4lw.commands.whitelist", says: /add srvr, mntr/ },
  { name: "IPv6 in 3.4 server lines", text: swap("address: 127.94.0.12,", 'address: "::1",', fixtureYaml({ version: "3.4.13", hostsFile: "unmanaged" })), at: '"::1"', says: /cannot parse IPv6 literals/ },
  { name: "data_dir /var/lib", text: inZookeeper("  data_dir: /var/lib\n"), at: "data_dir", says: /is or lies in a system directory/ },
  { name: "log_dir inside data_dir", text: inZookeeper("  log_dir: /var/lib/zookeeper/logs\n"), at: "log_dir", says: /log_dir \/var\/lib\/zookeeper\/logs is inside data_dir/ },
  { name: "myid 255 with TTL nodes", text: swap("myid: 3 }", "myid: 255 }", inConfig("    extendedTypesEnabled: true\n")), at: "myid: 255", says: /host zk3: .*myid must be at most 254/ },
  { name: "electionAlg 1 on 3.8", text: inConfig("    electionAlg: 1\n"), at: "electionAlg", says: /only has electionAlg 3/ },
  { name: "user without systemd", text: inZookeeper("  user: zk\n"), at: "user: zk", says: /applies only to service: systemd/ },
  { name: "systemd without root", text: swap("hosts_file: managed", "ssh: { user: deploy }\nhosts_file: managed", fixtureYaml({ service: "systemd" })), at: "ssh:", says: /service: systemd installs a unit/ },
  // files it names
  { name: "super_password_file missing", text: () => withPasswordFile(join(dir, "absent.pw")), at: "super_password_file", says: /absent\.pw does not exist/ },
  { name: "super_password_file empty", text: () => withPasswordFile(secret("empty.pw", "\n")), at: "super_password_file", says: /empty\.pw is empty/ },
  { name: "super_password_file a directory", text: () => withPasswordFile(dir), at: "super_password_file", says: /cannot be read \(EISDIR\)/ },
  { name: "super_password_file with a space", text: () => withPasswordFile(secret("spaces.pw", "two words\n")), at: "super_password_file", says: /may contain only printable ASCII characters other than spaces/ },
  { name: "larger than 1 MiB", text: () => `ensemble: big\n${"# padding\n".repeat(120_000)}`, at: Buffer.from(`ensemble: big\n${"# padding\n".repeat(120_000)}`).subarray(0, 1 << 20).toString().split("\n").length, says: /larger than 1048576 bytes/ },
];

describe("bad input, one case a row: check and apply exit 3 at file:line:column", () => {
  it.each(BAD_INPUTS)("$name", async ({ name, text, at, says, code = ExitCode.invalid }) => {
    const content = typeof text === "function" ? text() : text;
    const file = join(dir, `${name.replace(/[^A-Za-z0-9]+/g, "-")}.yml`);
    writeFileSync(file, content);
    const line = typeof at === "number" ? at : lineOf(content, at);
    const check = await runCli(["check", "-i", file], env);
    expect(check.code, check.out).toBe(code);
    const finding = check.out.split("\n").find((l) => l.startsWith(`${file}:${line}:`) && (typeof says === "string" ? l.includes(says) : says.test(l)));
    expect(finding, `no finding at ${file}:${line} saying ${String(says)} in:\n${check.out.slice(0, 3000)}`).toBeDefined();
    expect(finding).toMatch(new RegExp(`^[^:]+:${line}:\\d+: error: `));
    const apply = await runCli(["apply", "-i", file, "--yes"], env);
    expect(apply.code, apply.err).toBe(code);
    expect(apply.err).toContain(`  - ${finding}`);
    expect(apply.out, "no plan is shown").toBe("");
  });
});

describe("bad input across inventories (check)", () => {
  it.each([
    ["the same ensemble twice", (t: string) => t.replaceAll("127.94.0.1", "127.94.0.2"), "ensemble:", /ensemble orders-zk is also defined in /],
    ["an address and port used by both", (t: string) => t.replace("orders-zk", "billing-zk"), "name: zk1", /host zk1: hosts\[0\]\.address: 127\.94\.0\.11 port 2181 \(client_port\).* is also used there by host zk1 of ensemble orders-zk/],
  ])("%s: exit 3 at the second file's line", async (_name, edit, at, says) => {
    const first = join(dir, "first.yml");
    writeFileSync(first, base);
    const second = join(dir, "second.yml");
    writeFileSync(second, edit(base));
    const r = await runCli(["check", "-i", first, "-i", second], env);
    expect(r.code, r.out).toBe(ExitCode.invalid);
    const finding = r.out.split("\n").find((l) => l.startsWith(`${second}:${lineOf(edit(base), at)}:`));
    expect(finding, r.out).toMatch(says);
  });
});
