import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import type { Inventory } from "../../controller/inventory/schema.js";
import { precompileTemplates, renderHostFiles, renderHostsBlock, shellQuote, type RenderedFile } from "../../controller/render/render.js";
import type { PrecompiledTemplate } from "../../controller/render/precompiled.js";
import { expectGolden } from "../golden/golden.js";
import { fixtureYaml, parseValid, type FixtureOptions } from "../golden/fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "zkfleet-render-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function render(options: FixtureOptions, hostName = "zk1", extra = ""): { inv: Inventory; files: RenderedFile[] } {
  const inv = parseValid(fixtureYaml(options) + extra);
  const host = inv.hosts.find((h) => h.name === hostName);
  if (!host) throw new Error(`no host ${hostName}`);
  return { inv, files: renderHostFiles(inv, host) };
}

function file(files: RenderedFile[], path: string): RenderedFile {
  const found = files.find((f) => f.path === path);
  if (!found) throw new Error(`${path} not rendered; got ${files.map((f) => f.path).join(", ")}`);
  return found;
}

const ZOO_CFG = "/etc/zookeeper/conf/zoo.cfg";
const DYNAMIC = "/etc/zookeeper/conf/zoo.cfg.dynamic";

describe.each(["3.4.13", "3.8.0", "3.9.3"])("zoo.cfg for ZooKeeper %s", (version) => {
  it("3 voters + 1 observer, names from the managed hosts file", () => {
    const { files } = render({ version });
    expectGolden(`${version}/zoo.cfg`, file(files, ZOO_CFG).content);
    expect(files.map((f) => f.path)).not.toContain(DYNAMIC);
  });

  it("on the observer", () => {
    const { files } = render({ version }, "zk4");
    const content = file(files, ZOO_CFG).content;
    expectGolden(`${version}/zoo.cfg.observer`, content);
    expect(content).toContain("peerType=observer\n");
  });

  it("bound to the host's address, addresses in server lines (hosts file unmanaged)", () => {
    const { files } = render({ version, bind: true, hostsFile: "unmanaged" }, "zk2");
    const content = file(files, ZOO_CFG).content;
    expectGolden(`${version}/zoo.cfg.bind`, content);
    expect(content).toContain("clientPortAddress=127.94.0.12\n");
  });

  if (version !== "3.4.13") {
    it("with reconfig: membership moves to the dynamic file", () => {
      const { files } = render({ version, reconfig: true });
      const zooCfg = file(files, ZOO_CFG).content;
      expectGolden(`${version}/reconfig/zoo.cfg`, zooCfg);
      expectGolden(`${version}/reconfig/zoo.cfg.dynamic`, file(files, DYNAMIC).content);
      expect(zooCfg).toContain(`dynamicConfigFile=${DYNAMIC}\n`);
      expect(zooCfg).not.toMatch(/^server\./m);
    });
  }
});

describe("version-dependent lines", () => {
  it("3.4 has neither roles, client addresses, whitelist nor AdminServer", () => {
    const content = file(render({ version: "3.4.13", bind: true }).files, ZOO_CFG).content;
    expect(content).toMatch(/^server\.4=zk4:2888:3888:observer$/m);
    expect(content).toMatch(/^server\.1=zk1:2888:3888$/m);
    expect(content).not.toMatch(/4lw|admin\.|reconfigEnabled|;/);
  });

  it("3.5+ server lines carry role and client address, IPv6 in brackets", () => {
    const text = fixtureYaml({ version: "3.9.3", bind: true, hostsFile: "unmanaged" }).replace("127.94.0.14", '"::1"');
    const inv = parseValid(text);
    const content = file(renderHostFiles(inv, inv.hosts[0]!), ZOO_CFG).content;
    expect(content).toContain("server.1=127.94.0.11:2888:3888:participant;127.94.0.11:2181\n");
    expect(content).toContain("server.4=[::1]:2888:3888:observer;[::1]:2181\n");
    expect(content).toContain("admin.serverAddress=127.94.0.11\n");
  });

  it("ignores reconfig on 3.4 (lint reports it) rather than writing keys 3.4 does not know", () => {
    const { files } = render({ version: "3.4.13", reconfig: true });
    expect(files.map((f) => f.path)).not.toContain(DYNAMIC);
    expect(file(files, ZOO_CFG).content).not.toContain("reconfigEnabled");
  });

  it("a user whitelist replaces the default one instead of adding a second line", () => {
    const content = file(render({ extraZookeeper: ['  4lw.commands.whitelist: "*"'] }).files, ZOO_CFG).content;
    expect(content.match(/^4lw\.commands\.whitelist=/gm)).toEqual(["4lw.commands.whitelist="]);
    expect(content).toContain("4lw.commands.whitelist=*\n");
  });

  it("writes dataLogDir only when data_log_dir is set", () => {
    expect(file(render({}).files, ZOO_CFG).content).not.toContain("dataLogDir");
    const inv = parseValid(fixtureYaml().replace("  heap_mb: 512", "  heap_mb: 512\n  data_log_dir: /srv/txlog"));
    expect(file(renderHostFiles(inv, inv.hosts[0]!), ZOO_CFG).content).toContain("dataDir=/var/lib/zookeeper\ndataLogDir=/srv/txlog\n");
  });

  it("pass-through settings are sorted whatever their inventory order", () => {
    const a = render({ extraZookeeper: ["  syncLimit: 7", "  cnxTimeout: 9"] }).files;
    const b = render({ extraZookeeper: ["  cnxTimeout: 9", "  syncLimit: 7"] }).files;
    expect(file(a, ZOO_CFG).content).toBe(file(b, ZOO_CFG).content);
  });
});

describe("other host files", () => {
  it("myid, env file, log4j and hosts block match their golden files", () => {
    const { inv, files } = render({ version: "3.8.0" }, "zk3");
    expect(files.map((f) => [f.path, f.mode])).toEqual([
      [ZOO_CFG, 0o644],
      // No secret in it without reconfig, but its neighbour with reconfig names the digest's file: private either way.
      ["/etc/zookeeper/conf/zookeeper-env.sh", 0o600],
      ["/etc/zookeeper/conf/log4j.properties", 0o644],
      ["/var/lib/zookeeper/myid", 0o644],
    ]);
    expect(file(files, "/var/lib/zookeeper/myid").content).toBe("3\n");
    expectGolden("common/myid", file(files, "/var/lib/zookeeper/myid").content);
    expectGolden("common/zookeeper-env.sh", file(files, "/etc/zookeeper/conf/zookeeper-env.sh").content);
    expectGolden("common/log4j.properties", file(files, "/etc/zookeeper/conf/log4j.properties").content);
    expectGolden("common/hosts-block", renderHostsBlock(inv));
  });

  it("under systemd the log also goes to the console (journald)", () => {
    const { files } = render({ service: "systemd" });
    expect(file(files, "/etc/zookeeper/conf/log4j.properties").content).toContain("log4j.rootLogger=INFO, ROLLINGFILE, CONSOLE\n");
    expect(file(files, "/etc/zookeeper/conf/zookeeper-env.sh").content).toContain("ZOO_LOG4J_PROP='INFO,ROLLINGFILE,CONSOLE'\n");
  });

  it("the env file gives sh exactly the inventory's values", () => {
    const { files } = render({}, "zk1", "");
    const envFile = join(dir, "zookeeper-env.sh");
    writeFileSync(envFile, file(files, "/etc/zookeeper/conf/zookeeper-env.sh").content);
    const out = execFileSync("sh", ["-c", '. "$1"; printf "%s|%s|%s" "$ZOO_LOG_DIR" "$ZOO_LOG4J_PROP" "$SERVER_JVMFLAGS"', "sh", envFile], {
      encoding: "utf8",
    });
    expect(out).toBe("/var/log/zookeeper|INFO,ROLLINGFILE|-Xms512m -Xmx512m");
  });

  it("shellQuote survives quotes, $() and newlines through a real sh", () => {
    const nasty = `it's "$(touch ${dir}/pwned)" \`id\` $HOME\nnext line`;
    const out = execFileSync("sh", ["-c", `printf %s ${shellQuote(nasty)}`], { encoding: "utf8" });
    expect(out).toBe(nasty);
    expect(() => execFileSync("test", ["-e", join(dir, "pwned")])).toThrow();
  });
});

describe("templates compiled ahead (what the bundle carries)", () => {
  // As scripts/bundle-controller.mjs puts them into the bundle: each spec's source as code.
  const ahead = (): Record<string, PrecompiledTemplate> => Object.fromEntries(Object.entries(precompileTemplates())
    .map(([name, t]) => [name, { sha256: t.sha256, spec: new Function(`return ${t.spec}`)() as TemplateSpecification }]));

  it.each([
    ["3.4.13", {}], ["3.8.0", {}], ["3.9.3", { reconfig: true }], ["3.8.0", { bind: true, hostsFile: "unmanaged" }], ["3.9.3", { service: "systemd" }],
  ] as const)("render %s %o exactly as templates compiled at run time", (version, options) => {
    const inv = parseValid(fixtureYaml({ version, ...options }));
    const precompiled = ahead();
    expect(Object.keys(precompiled)).toEqual(expect.arrayContaining(["zoo.cfg.hbs", "_server-lines.hbs", "hosts-block.hbs", "myid.hbs"]));
    for (const host of inv.hosts) {
      const files = renderHostFiles(inv, host, { precompiled });
      expect(files.length).toBeGreaterThan(2);
      expect(files).toEqual(renderHostFiles(inv, host, { precompiled: {} }));
    }
    expect(renderHostsBlock(inv, { precompiled })).toBe(renderHostsBlock(inv, { precompiled: {} }));
  });

  it("are used only for the text they were compiled from", () => {
    const inv = parseValid(fixtureYaml());
    // A spec that renders something else: used, it would show; the text on disk differs from its hash, so it is not.
    const wrong = { ...ahead()["myid.hbs"]!, spec: ahead()["hosts-block.hbs"]!.spec };
    const myid = (pre: Record<string, PrecompiledTemplate>) => file(renderHostFiles(inv, inv.hosts[1]!, { precompiled: pre }), "/var/lib/zookeeper/myid").content;
    expect(myid({ "myid.hbs": wrong })).not.toBe("2\n");
    expect(myid({ "myid.hbs": { ...wrong, sha256: "0".repeat(64) } })).toBe("2\n");
  });
});

describe("user templates", () => {
  it("override the built-in ones file by file", () => {
    const templates = join(dir, "my-templates");
    mkdirSync(templates, { recursive: true });
    writeFileSync(join(templates, "myid.hbs"), "{{host.myid}}\n# custom {{host.name}}\n");
    const { files } = render({}, "zk2", `templates: ${templates}\n`);
    expect(file(files, "/var/lib/zookeeper/myid").content).toBe("2\n# custom zk2\n");
    expect(file(files, ZOO_CFG).content).toContain("# managed by zkfleet, do not edit\n");
  });

  it("a template using a field that does not exist fails naming the template", () => {
    const templates = join(dir, "broken-templates");
    mkdirSync(templates, { recursive: true });
    writeFileSync(join(templates, "zoo.cfg.hbs"), "dataDir={{zookeeper.datadir}}\n");
    const inv = parseValid(fixtureYaml() + `templates: ${templates}\n`);
    expect(() => renderHostFiles(inv, inv.hosts[0]!)).toThrow(ZkfleetError);
    expect(() => renderHostFiles(inv, inv.hosts[0]!)).toThrow(/broken-templates\/zoo\.cfg\.hbs failed.*datadir/);
  });

  it("a missing templates directory is an inventory error naming the key", () => {
    const inv = parseValid(fixtureYaml() + `templates: ${join(dir, "absent")}\n`);
    try {
      renderHostFiles(inv, inv.hosts[0]!);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ZkfleetError);
      expect((error as ZkfleetError).source).toBe("inventory");
      expect((error as ZkfleetError).where).toBe("templates");
    }
  });
});
