// Issue acceptance "a clear message and nothing touched", through the real
// CLI against a real lab: every bad inventory, changed host key, unreachable
// host or missing Node is refused with the right exit code and a message that
// names the culprit and the fix, and the hosts' disks are compared byte for
// byte before and after.
//
// The agent's content-addressed cache (/opt/zkfleet/agent-<hash>.js) is pushed
// to reachable hosts while observing, as `status` and `apply --check` do; it
// is zkfleet's own read-only tool, not managed state, so it does not count as
// touching a host. It is still checked: it is the ONLY thing allowed to
// appear, it never appears on the host that failed, and no host gets it when
// the inventory itself is refused.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../common/errors.js";
import { type LabHost, type LabState, labDown, labFault, labUp } from "../../lab/lab.js";
import { runCli } from "../helpers/cli.js";
import { sshRun, testLabDir } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";

const DIR = testLabDir("bad-input");
const SUBNET = subnet("bad-input");
/** In our subnet, and no lab host has it: connections are refused at once. */
const UNUSED_ADDRESS = `${SUBNET}.99`;

const scratch = mkdtempSync(join(tmpdir(), "zkfleet-bad-input-"));
const env = { ZKFLEET_JOURNAL: join(scratch, "journal") };
let lab: LabState;
let baseInventory: string;

beforeAll(async () => {
  if (existsSync(join(DIR, "lab.json"))) await labDown(DIR);
  lab = await labUp({ hosts: 3, dir: DIR, subnet: SUBNET });
  baseInventory = readFileSync(lab.inventory, "utf8");
});

afterAll(async () => {
  try {
    if (existsSync(join(DIR, "lab.json"))) await labDown(DIR);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

// --- what a host has on disk -------------------------------------------------

/**
 * Every write a lab host makes to /etc, /var/lib, /var/log or /opt lands in
 * these directories of its state dir (overlay upper layers and bind-mounted
 * disks), so reading them from the machine sees all of it without asking the
 * host.
 */
const HOST_LAYERS = ["etc.upper", "varlib.upper", "varlog.upper", "disk"];
const AGENT_CACHE = join("disk", "opt", "zkfleet");
// The agent bundle and its V8 code cache per node version, and zkfleet's own runtime for a host without node (agent.dir/runtime).
// An agent writes its cache as it exits, after the controller closed its connection, so the snapshot may catch the
// cache's temporary file (its pid appended) before the rename: seen in a CI rehearsal, on a host's first agent run.
const AGENT_CACHE_ENTRY = /^disk\/opt\/zkfleet(\/agent-[0-9a-f]{16}\.js(\.v[0-9.]+\.cache(\.\d+)?)?|\/runtime(\/.*)?)?$/;

type Tree = Record<string, string>;

function hostTree(host: LabHost): Tree {
  const tree: Tree = {};
  const walk = (rel: string) => {
    const abs = join(host.dir, rel);
    const st = lstatSync(abs);
    if (st.isDirectory()) {
      tree[rel] = `dir ${st.mode.toString(8)}`;
      for (const entry of readdirSync(abs).sort()) walk(join(rel, entry));
    } else if (st.isSymbolicLink()) {
      tree[rel] = `link ${readlinkSync(abs)}`;
    } else if (st.isFile()) {
      tree[rel] = `file ${st.mode.toString(8)} ${createHash("sha256").update(readFileSync(abs)).digest("hex")}`;
    } else {
      tree[rel] = `special ${st.mode.toString(8)}`; // overlay whiteouts: a deletion on the host
    }
  };
  for (const layer of HOST_LAYERS) walk(layer);
  return tree;
}

function snapshot(): Map<string, Tree> {
  return new Map(lab.hosts.map((h) => [h.name, hostTree(h)]));
}

function withoutAgentCache(tree: Tree): Tree {
  return Object.fromEntries(Object.entries(tree).filter(([path]) => !AGENT_CACHE_ENTRY.test(path)));
}

/** Nothing changed on any host, except (where allowed) the agent cache appearing. */
function expectUntouched(before: Map<string, Tree>, options: { exactlyOn?: string[]; agentCacheOn?: string[] } = {}) {
  const after = snapshot();
  for (const host of lab.hosts) {
    const was = before.get(host.name)!;
    const now = after.get(host.name)!;
    if (options.agentCacheOn?.includes(host.name)) {
      expect(withoutAgentCache(now), `${host.name}: only the agent cache may change`).toEqual(withoutAgentCache(was));
      const cache = Object.keys(now).filter((p) => p === AGENT_CACHE || p.startsWith(AGENT_CACHE + "/"));
      for (const path of cache) expect(path, `${host.name}: unexpected file in the agent dir`).toMatch(AGENT_CACHE_ENTRY);
    } else {
      expect(now, `${host.name}: nothing may change`).toEqual(was);
    }
  }
  // The managed paths by name, for the reader: none of them exists or changed.
  for (const host of lab.hosts) {
    const now = after.get(host.name)!;
    expect(Object.keys(now).filter((p) => p.startsWith("disk/opt/zookeeper") || p.startsWith("etc.upper/zookeeper"))).toEqual([]);
    expect(now["etc.upper/hosts"]).toBe(before.get(host.name)!["etc.upper/hosts"]);
  }
}

// --- inventories ---------------------------------------------------------------

function writeInventory(name: string, text: string): string {
  const file = join(scratch, `${name}.yml`);
  writeFileSync(file, text);
  return file;
}

/** Replaces text that must occur exactly once, so a changed lab inventory fails loudly here. */
function replaceOnce(text: string, from: string | RegExp, to: string): string {
  const count = typeof from === "string" ? text.split(from).length - 1 : (text.match(new RegExp(from, "gm")) ?? []).length;
  if (count !== 1) throw new Error(`expected ${String(from)} once in the lab inventory, found it ${count} times`);
  return text.replace(from, to);
}

function lineOf(text: string, marker: string): number {
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`marker ${marker} is not in the inventory`);
  return text.slice(0, at).split("\n").length;
}

const ZK_SECTION_END = "  bind_to_address: true\n";
const addToZookeeper = (lines: string) => (t: string) => replaceOnce(t, ZK_SECTION_END, ZK_SECTION_END + lines);

interface BadInventory {
  name: string;
  edit: (text: string) => string;
  /** Text on the line the finding must point at; absent when only file:line:col is checked. */
  at?: string;
  /** The field and what is wrong with it. */
  says: string;
}

/** Replaces text of the lab inventory; the finding must point at the line of the new text. */
function replaceCase(name: string, from: string | RegExp, to: string, says: string): BadInventory {
  return { name, edit: (t) => replaceOnce(t, from, to), at: to, says };
}

/** Adds lines to the zookeeper section; the finding must point at the last key added. */
function zookeeperCase(name: string, lines: string, says: string): BadInventory {
  const lastKey = lines.trimEnd().split("\n").at(-1)!.trim().split(":")[0]!;
  return { name, edit: addToZookeeper(lines), at: `${lastKey}:`, says };
}

const BAD_INVENTORIES: BadInventory[] = [
  { name: "yaml-syntax", edit: (t) => replaceOnce(t, "  version: 3.8.0", "  version: [3.8.0"), says: "YAML syntax error" },
  replaceCase("unknown-key", "bind_to_address: true", "bind_to_adress: true",
    'zookeeper.bind_to_adress: unknown key "bind_to_adress": did you mean bind_to_address?'),
  replaceCase("unknown-version", "version: 3.8.0", "version: 3.8.1",
    'zookeeper.version: unknown ZooKeeper version "3.8.1" (did you mean 3.8.0?)'),
  replaceCase("duplicate-myid", "myid: 2", "myid:  1",
    "host zk2: hosts[1].myid: myid 1 is already used by host zk1; every host needs its own myid"),
  replaceCase("duplicate-address", `address: ${SUBNET}.12`, `address:  ${SUBNET}.11`,
    `host zk2: hosts[1].address: address "${SUBNET}.11" is already used by host zk1`),
  replaceCase("myid-out-of-range", "myid: 3", "myid: 256",
    "host zk3: hosts[2].myid: must be at most 255"),
  replaceCase("hostname-shell", "name: zk1", 'name: "zk1;rm -rf /"',
    "hosts[0].name: must be a valid host name (letters, digits, hyphens, dots)"),
  zookeeperCase("data-dir-shell", "  data_dir: /var/lib/zk;touch /tmp/zkfleet-pwned\n",
    "zookeeper.data_dir: may only contain letters, digits and . _ / @ % + = : , - (no spaces or shell metacharacters)"),
  zookeeperCase("data-dir-dotdot", "  data_dir: /var/lib/../../etc\n",
    "zookeeper.data_dir: must not contain a '..' segment"),
  zookeeperCase("data-dir-space", "  data_dir: /var/lib/zoo keeper\n",
    "zookeeper.data_dir: may only contain letters, digits and . _ / @ % + = : , - (no spaces"),
  zookeeperCase("relative-install-dir", "  install_dir: opt/zookeeper\n",
    "zookeeper.install_dir: must be an absolute path (start with /)"),
  zookeeperCase("managed-setting", "  config:\n    dataDir: /srv/zk\n",
    "zookeeper.config.dataDir: dataDir is written by zkfleet from zookeeper.data_dir; remove it from zookeeper.config"),
  zookeeperCase("newline-in-config", '  config:\n    maxClientCnxns: "60\\nserver.9=evil:2888:3888"\n',
    "zookeeper.config.maxClientCnxns: the value of maxClientCnxns contains a newline"),
  zookeeperCase("ports-collide", "  quorum_port: 2181\n",
    "zookeeper.quorum_port: 2181 is also zookeeper.client_port; ZooKeeper listens on all of them at once, give each its own port"),
  replaceCase("empty-hosts", /^hosts:\n(?: {2}.*\n)+/m, "hosts: []\n", "hosts: must list at least one host"),
  {
    name: "agent-node-shell", edit: (t) => `${t}agent:\n  node: node;touch /tmp/zkfleet-pwned\n`,
    at: "node;touch", says: "agent.node: must be a program name (node) or an absolute path (/usr/bin/node), without spaces",
  },
];

async function applyExpectingFailure(inventory: string, code: number) {
  const r = await runCli(["apply", "-i", inventory, "--yes"], env);
  expect(r.code, r.err).toBe(code);
  return r;
}

// --- the tests ------------------------------------------------------------------

describe("bad input is refused with a clear message and nothing touched", () => {
  it("malformed inventories: check and apply exit 3 naming file:line, the field and what to do; no host is contacted", async () => {
    const before = snapshot();
    for (const bad of BAD_INVENTORIES) {
      const text = bad.edit(baseInventory);
      const file = writeInventory(bad.name, text);
      const position = bad.at === undefined ? `${file}:` : `${file}:${lineOf(text, bad.at)}:`;

      const check = await runCli(["check", "-i", file], env);
      expect(check.code, `${bad.name}: ${check.out}`).toBe(ExitCode.invalid);
      const finding = check.out.split("\n").find((line) => line.includes(bad.says));
      expect(finding, `${bad.name}: check says\n${check.out}`).toBeDefined();
      expect(finding!.startsWith(position), `${bad.name}: ${finding} should start with ${position}`).toBe(true);

      const apply = await applyExpectingFailure(file, ExitCode.invalid);
      expect(apply.err, bad.name).toContain(`${position}`);
      expect(apply.err, bad.name).toContain(bad.says);
      expect(apply.err, bad.name).toContain(`fix:   fix each field listed, then run \`zkfleet check -i ${file}\``);
      expect(apply.out, `${bad.name}: no plan may be shown`).toBe("");
    }

    const missing = join(scratch, "no-such-inventory.yml");
    for (const command of ["check", "apply"]) {
      const r = await runCli([command, "-i", missing, ...(command === "apply" ? ["--yes"] : [])], env);
      expect(r.code).toBe(ExitCode.invalid);
      expect(r.out + r.err).toContain(`${missing}: error: inventory file does not exist; check the path`);
    }
    // Not even the agent cache: a refused inventory opens no connection.
    expectUntouched(before);
  });

  it("agent.node pointing nowhere: apply exits 4 naming every host and the fix; no agent is pushed anywhere", async () => {
    const file = writeInventory("node-nonexistent", `${baseInventory}agent:\n  node: /nonexistent/node\n`);
    const before = snapshot();
    const r = await applyExpectingFailure(file, ExitCode.failed);
    for (const host of lab.hosts) {
      expect(r.err).toContain(`${host.name}: agent error: no usable node at /nonexistent/node on ${host.name}`);
      expect(r.err).toContain(`fix: Install Node.js >= 18 on ${host.name}, or set agent.node in the inventory to its path.`);
    }
    expectUntouched(before);
  });

  it("a host without node: apply --check brings zkfleet's own runtime into zk3's agent dir and touches nothing else", async () => {
    const hide = await sshRun(lab, "zk3", "mount --bind /dev/null /usr/bin/node && ! node --version");
    expect(hide.code, hide.stderr).toBe(0);
    try {
      const before = snapshot();
      const r = await runCli(["apply", "-i", lab.inventory, "--check"], env);
      expect(r.code, r.err).toBe(ExitCode.changed);
      expect(r.err).toMatch(/zk3: no usable node, zkfleet's node v\d+\.\d+\.\d+ pushed to \/opt\/zkfleet\/runtime\//);
      expect(r.err).not.toMatch(/zk[12]: no usable node/);
      // A plan, and nothing of it done: the runtime and the agent are zkfleet's own, in agent.dir.
      expect(r.out).toMatch(/check mode: nothing will be changed/);
      expectUntouched(before, { agentCacheOn: ["zk1", "zk2", "zk3"] });
      expect(Object.keys(hostTree(lab.hosts[2]!)).some((p) => p.startsWith(join(AGENT_CACHE, "runtime", "node-")))).toBe(true);
    } finally {
      await sshRun(lab, "zk3", "umount /usr/bin/node");
    }
    expect((await sshRun(lab, "zk3", "node --version")).stdout).toMatch(/^v\d+\./);
  });

  it("a changed host key: apply and status exit 4 naming zk2, known_hosts, the attack and the ssh-keygen -R fix", async () => {
    const zk2 = lab.hosts[1]!;
    const keyFile = join(zk2.dir, "ssh_host_ed25519_key");
    rmSync(keyFile);
    rmSync(`${keyFile}.pub`);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "zk2-reinstalled", "-f", keyFile]);
    await labFault("power-off", "zk2", DIR);
    await labFault("power-on", "zk2", DIR);

    const knownHostsLine = `${lab.knownHosts}:2`;
    const expectRefusal = (text: string) => {
      expect(text).toContain(`HOST KEY FOR zk2 (${zk2.address}) HAS CHANGED — possible man-in-the-middle attack. ${knownHostsLine} has ssh-ed25519`);
      expect(text).toContain(`ssh-keygen -f '${lab.knownHosts}' -R '${zk2.address}'`);
    };
    const before = snapshot();
    const apply = await applyExpectingFailure(lab.inventory, ExitCode.failed);
    expectRefusal(apply.err);
    // The fix line itself, not only zk2's line above it, gives the command.
    expect(apply.err.split("\n").find((l) => l.startsWith("  fix:"))).toContain(`ssh-keygen -f '${lab.knownHosts}' -R '${zk2.address}'`);
    expect(apply.err).toContain("zk2: ssh error:");
    expect(apply.err).toContain("nothing was changed");
    const status = await runCli(["status", "-i", lab.inventory], env);
    expect(status.code).toBe(ExitCode.failed);
    expectRefusal(status.out);
    expect(status.out).toMatch(/^ {2}zk2 +\S+ +FAIL/m);
    // zk2 was never logged into; zk1 and zk3 have nothing but the agent cache.
    expectUntouched(before, { agentCacheOn: ["zk1", "zk3"] });

    // Trust the new key, as the operator would after checking it out of band.
    const pub = readFileSync(`${keyFile}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
    const lines = readFileSync(lab.knownHosts, "utf8").split("\n");
    writeFileSync(lab.knownHosts, lines.map((l) => (l.startsWith(`${zk2.address} `) ? `${zk2.address} ${pub}` : l)).join("\n"));
    expect((await sshRun(lab, "zk2", "true")).code).toBe(0);
  });

  it("an unreachable host: apply exits 4 naming it and changes nothing; status shows it unreachable and no quorum", async () => {
    const file = writeInventory("unreachable", replaceOnce(baseInventory, `address: ${SUBNET}.13`, `address: ${UNUSED_ADDRESS}`));
    const before = snapshot();
    const apply = await applyExpectingFailure(file, ExitCode.failed);
    expect(apply.err).toContain(`zk3: ssh error: cannot connect to zk3 (root@${UNUSED_ADDRESS}:22): connection refused`);
    expect(apply.err).toContain("fix: check that the host is up, sshd listens on that address and port");
    expect(apply.err).toContain("1 host(s) cannot be observed; nothing was changed");
    expectUntouched(before, { agentCacheOn: ["zk1", "zk2"] });

    const status = await runCli(["status", "-i", file, "--json"], env);
    expect(status.code).toBe(ExitCode.failed);
    const [ensemble] = JSON.parse(status.out).ensembles;
    expect(ensemble.verdict).toBe("no-quorum");
    expect(ensemble.hosts.map((h: { host: string; reachable: boolean }) => [h.host, h.reachable]))
      .toEqual([["zk1", true], ["zk2", true], ["zk3", false]]);
    expect(ensemble.problems).toContain(`zk3: unreachable (${ensemble.hosts[2].error})`);
    expect(ensemble.hosts[2].error).toContain(`${UNUSED_ADDRESS}:22`);
  });

  it("shell metacharacters in a zoo.cfg value reach zoo.cfg verbatim and never a shell", async () => {
    const marker = (n: number) => `/tmp/zkfleet-pwned-${process.pid}-${n}`;
    const value = `a$(touch ${marker(1)})b\`touch ${marker(2)}\`;touch ${marker(3)} && touch ${marker(4)} | "q" 'q' > ${marker(5)}`;
    // metricsProvider.* is a known key whose value ZooKeeper only hands to its
    // (default, no-op) metrics provider: any string is accepted and the server starts.
    const yamlValue = `'${value.replaceAll("'", "''")}'`;
    const file = writeInventory("metachars", addToZookeeper(`  config:\n    metricsProvider.zkfleetNote: ${yamlValue}\n`)(baseInventory));

    const check = await runCli(["check", "-i", file], env);
    expect(check.code, check.out).toBe(ExitCode.ok);
    const apply = await runCli(["apply", "-i", file, "--yes"], env);
    expect(apply.code, apply.err).toBe(ExitCode.changed);

    const markers = [1, 2, 3, 4, 5].map(marker);
    for (const host of lab.hosts) {
      const zooCfg = readFileSync(join(host.dir, "etc.upper", "zookeeper", "conf", "zoo.cfg"), "utf8");
      expect(zooCfg.split("\n")).toContain(`metricsProvider.zkfleetNote=${value}`);
      // The positive control for expectUntouched: a real apply's writes show in the layers it compares.
      expect(Object.keys(hostTree(host)).some((p) => p.startsWith("disk/opt/zookeeper/"))).toBe(true);
      const onHost = await sshRun(lab, host.name, `ls ${markers.join(" ")} 2>/dev/null | wc -l`);
      expect(onHost.stdout.trim(), `${host.name} ran part of the value`).toBe("0");
    }
    for (const m of markers) expect(existsSync(m), `the machine ran part of the value: ${m}`).toBe(false);
  });

  it("status of the running ensemble with one host unreachable names it and is not healthy", async () => {
    const file = join(scratch, "unreachable.yml");
    const status = await runCli(["status", "-i", file, "--json"], env);
    expect(status.code).toBe(ExitCode.failed);
    const [ensemble] = JSON.parse(status.out).ensembles;
    // zk1 and zk2 still form a quorum; the verdict depends on whether zk3 led.
    expect(["degraded", "no-quorum"]).toContain(ensemble.verdict);
    expect(ensemble.hosts[2]).toMatchObject({ host: "zk3", reachable: false });
    expect(ensemble.problems).toContain(`zk3: unreachable (${ensemble.hosts[2].error})`);
    for (const h of ensemble.hosts.slice(0, 2)) expect(["leader", "follower"]).toContain(h.mode);
  });
});
