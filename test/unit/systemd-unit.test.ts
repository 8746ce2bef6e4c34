// The unit rendered for service: systemd: golden files, and systemd's own
// parser (systemd-analyze verify, from Debian's systemd package) run on each
// against a root tree holding what the unit names, so that a key systemd does
// not know, a value it cannot parse or a command that is not there fails here
// rather than on a host.
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Inventory } from "../../controller/inventory/schema.js";
import { lintInventory } from "../../controller/inventory/lint.js";
import { SYSTEMD_UNIT, renderHostFiles } from "../../controller/render/render.js";
import { unitOfCgroup } from "../../agent/systemd.js";
import { expectGolden } from "../golden/golden.js";
import { fixtureYaml, parseValid } from "../golden/fixtures.js";

const scratch = mkdtempSync(join(tmpdir(), "zkfleet-unit-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The fixture ensemble under systemd, with zookeeper-level keys and whole sections added. */
function inventory(version: string, zookeeper: string[] = [], tail = ""): Inventory {
  const text = fixtureYaml({ version, service: "systemd" }).replace("  heap_mb: 512", ["  heap_mb: 512", ...zookeeper].join("\n"));
  return parseValid(text + tail);
}

function unitOf(inv: Inventory, host = "zk1"): string {
  const files = renderHostFiles(inv, inv.hosts.find((h) => h.name === host)!);
  const unit = files.find((f) => f.path === SYSTEMD_UNIT.path);
  if (!unit) throw new Error(`no unit among ${files.map((f) => f.path).join(", ")}`);
  return unit.content;
}

/** A unit file's Key=value lines of one key, in order. */
const values = (unit: string, key: string) => unit.split("\n").filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));

const CASES = {
  "3.4.13": inventory("3.4.13"),
  "3.8.0.user-txlog": inventory("3.8.0", ["  user: zookeeper", "  data_log_dir: /srv/zk-txlog"]),
  "3.9.3.become": inventory("3.9.3", ["  user: zk", "  install_dir: /srv/zk%releases"], "ssh:\n  user: deploy\n  become: true\n"),
  "3.8.0.preinstalled": inventory("3.8.0", ["  preinstalled: { version: 3.8.0, home: /opt/apache-zookeeper-3.8.0-bin }", "  install_dir: /opt/zkfleet/zookeeper"]),
};

/** systemd's unit directory of this machine, copied once: verify wants the targets a unit pulls in. */
let unitDir: string | undefined;
function systemUnits(): string {
  if (unitDir === undefined) {
    unitDir = join(scratch, "system-units");
    cpSync("/usr/lib/systemd/system", unitDir, { recursive: true, verbatimSymlinks: true });
  }
  return unitDir;
}

function executable(root: string, path: string): void {
  mkdirSync(join(root, dirname(path)), { recursive: true });
  writeFileSync(join(root, path), "#!/bin/sh\nexit 0\n");
  chmodSync(join(root, path), 0o755);
}

/**
 * A root tree with the unit installed where zkfleet installs it, systemd's own
 * units, the users and every command the unit runs (the unit's paths with %%
 * unescaped), unless `omit` names one; then `systemd-analyze verify --root`.
 * Returns what verify printed: systemd 252 prints parse warnings yet exits 0,
 * so anything printed counts as a finding.
 */
function verify(name: string, unit: string, omit?: string): { code: number | null; output: string } {
  const root = join(scratch, name);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, "usr/lib/systemd"), { recursive: true });
  cpSync(systemUnits(), join(root, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(root, dirname(SYSTEMD_UNIT.path)), { recursive: true });
  writeFileSync(join(root, SYSTEMD_UNIT.path), unit);
  const users = [...new Set(["root", ...values(unit, "User")])];
  mkdirSync(join(root, "etc"), { recursive: true });
  writeFileSync(join(root, "etc/passwd"), users.map((u, i) => `${u}:x:${i === 0 ? 0 : 900 + i}:${i === 0 ? 0 : 900 + i}::/nonexistent:/usr/sbin/nologin\n`).join(""));
  writeFileSync(join(root, "etc/group"), users.map((u, i) => `${u}:x:${i === 0 ? 0 : 900 + i}:\n`).join(""));
  const commands = [...values(unit, "ExecStart"), ...values(unit, "ExecStartPre")].map((line) => line.replace(/^[-+@:!]+/, "").split(" ")[0]!.replace(/%%/g, "%"));
  for (const command of commands) if (command !== omit) executable(root, command);
  const result = spawnSync("systemd-analyze", ["verify", `--root=${root}`, SYSTEMD_UNIT.name], { encoding: "utf8" });
  return { code: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

describe("the zookeeper.service unit", () => {
  it.each(Object.keys(CASES))("%s matches its golden file and passes systemd-analyze verify without a word", (name) => {
    const unit = unitOf(CASES[name as keyof typeof CASES]);
    expectGolden(`systemd/zookeeper.service.${name}`, unit);
    expect(verify(name, unit)).toEqual({ code: 0, output: "" });
  });

  it("starts the current release in the foreground with the config dir in ZOOCFGDIR, so an upgrade is a link switch and a restart", () => {
    const unit = unitOf(CASES["3.4.13"]);
    expect(values(unit, "ExecStart")).toEqual(["/opt/zookeeper/current/bin/zkServer.sh start-foreground"]);
    expect(values(unit, "Environment")).toEqual(["ZOOCFGDIR=/etc/zookeeper/conf"]);
    expect(values(unit, "Type")).toEqual(["simple"]);
    expect(values(unit, "User")).toEqual(["root"]);
    // Root writes its own directories: nothing to hand over.
    expect(values(unit, "ExecStartPre")).toEqual([]);
    expect(values(unit, "EnvironmentFile")).toEqual(["-/etc/zookeeper/conf/zookeeper-env.sh"]);
    // The same file whatever the version: only `current` moves.
    expect(unitOf(inventory("3.9.3"))).toBe(unit);
  });

  it("an adopted release runs where it lies until an upgrade moves the unit to current", () => {
    const adopted = CASES["3.8.0.preinstalled"];
    expect(values(unitOf(adopted), "ExecStart")[0]).toMatch(/^\/opt\/apache-zookeeper-3\.8\.0-bin\/bin\/zkServer\.sh /);
    const upgraded = inventory("3.9.3", ["  preinstalled: { version: 3.8.0, home: /opt/apache-zookeeper-3.8.0-bin }", "  install_dir: /opt/zkfleet/zookeeper"]);
    expect(values(unitOf(upgraded), "ExecStart")[0]).toMatch(/^\/opt\/zkfleet\/zookeeper\/current\/bin\/zkServer\.sh /);
  });

  it("a dedicated user gets the directories the server writes; % in a path is escaped", () => {
    const unit = unitOf(CASES["3.9.3.become"]);
    expect(values(unit, "User")).toEqual(["zk"]);
    expect(values(unit, "ExecStartPre")).toEqual([
      "+/usr/bin/install -d /var/lib/zookeeper /var/log/zookeeper",
      "+/bin/chown -R zk: /var/lib/zookeeper /var/log/zookeeper",
      // The environment file is 0600, and zkEnv.sh sources it again as zk.
      "+/bin/chown zk: /etc/zookeeper/conf/zookeeper-env.sh",
    ]);
    expect(values(unit, "ExecStart")[0]).toMatch(/^\/srv\/zk%%releases\/current\/bin\/zkServer\.sh /);
    expect(values(unitOf(CASES["3.8.0.user-txlog"]), "ExecStartPre")[0]).toBe("+/usr/bin/install -d /var/lib/zookeeper /srv/zk-txlog /var/log/zookeeper");
  });

  it("is rendered only under service: systemd", () => {
    const inv = parseValid(fixtureYaml({ service: "script" }));
    expect(renderHostFiles(inv, inv.hosts[0]!).map((f) => f.path)).not.toContain(SYSTEMD_UNIT.path);
  });
});

describe("systemd-analyze verify catches a broken unit", () => {
  const good = unitOf(CASES["3.8.0.user-txlog"]);

  it("a command that is not there", () => {
    const { code, output } = verify("missing-release", good, "/opt/zookeeper/current/bin/zkServer.sh");
    expect(code).not.toBe(0);
    expect(output).toMatch(/zkServer\.sh is not executable: No such file or directory/);
  });

  it("a misspelt key and an unparsable value (verify exits 0, the words are the finding)", () => {
    const broken = good.replace("LimitNOFILE=", "LimitNOFILES=").replace("RestartSec=5", "RestartSec=5x");
    const { output } = verify("typos", broken);
    expect(output).toMatch(/Unknown key 'LimitNOFILES' in section \[Service\]/);
    expect(output).toMatch(/Failed to parse sec value.*5x/);
  });

  it("an unescaped % is read as a specifier", () => {
    const broken = unitOf(CASES["3.9.3.become"]).replaceAll("%%", "%");
    expect(verify("specifier", broken).output).toMatch(/is not executable|Failed to resolve|specifier/i);
  });
});

describe("who may run a unit", () => {
  const lintCodes = (inv: Inventory) => lintInventory(inv).map((f) => `${f.severity}:${f.code}`);

  it("service: systemd needs root on the host (connected as root, or become)", () => {
    expect(lintCodes(inventory("3.8.0", [], "ssh:\n  user: deploy\n"))).toContain("error:systemd-needs-root");
    expect(lintCodes(inventory("3.8.0", [], "ssh:\n  user: deploy\n  become: true\n"))).toEqual([]);
    expect(lintCodes(inventory("3.8.0"))).toEqual([]);
  });

  it("zookeeper.user only means something to a unit", () => {
    const inv = parseValid(fixtureYaml({ service: "script" }).replace("  heap_mb: 512", "  heap_mb: 512\n  user: zookeeper"));
    expect(lintCodes(inv)).toEqual(["error:user-needs-systemd"]);
  });
});

describe("the unit a process runs under, from /proc/PID/cgroup", () => {
  it("reads cgroup v2 and v1's name=systemd hierarchy, ignores the other controllers", () => {
    expect(unitOfCgroup("0::/system.slice/zookeeper.service\n")).toBe("zookeeper.service");
    expect(unitOfCgroup("4:memory:/system.slice/other.service\n1:name=systemd:/system.slice/zookeeper.service\n0::/\n")).toBe("zookeeper.service");
    expect(unitOfCgroup("0::/user.slice/user-0.slice/session-3.scope\n")).toBeNull();
    expect(unitOfCgroup("4:memory:/process_api/abc\n0::/\n")).toBeNull();
  });

});
