// Inventories a hostile or careless hand could write: each is refused as
// invalid input (exit 3) with the file and line to fix, in bounded time and
// memory, never a crash of the controller.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../common/errors.js";
import { ZOOKEEPER_VERSIONS } from "../../common/versions.js";
import { SETTING_TYPES } from "../../controller/inventory/setting-types.js";
import { runCli } from "../helpers/cli.js";
import { fixtureYaml, lineOf } from "../golden/fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "zkfleet-hostile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** The one line of `check` output that starts at file:line: and says `says`. */
async function expectRefusedAt(file: string, line: number, says: string | RegExp) {
  const r = await runCli(["check", "-i", file]);
  expect(r.code, r.out + r.err).toBe(ExitCode.invalid);
  const finding = r.out.split("\n").find((l) => l.startsWith(`${file}:${line}:`));
  expect(finding, r.out.slice(0, 2000) + r.err).toBeDefined();
  expect(finding).toMatch(says);
  return finding!;
}

describe("a huge host list", () => {
  it("150,000 hosts: refused at the first host past the limit, not a stack overflow", async () => {
    const hosts = Array.from({ length: 150_000 }, (_, i) => `  - { name: h${i}, address: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}, myid: ${(i % 255) + 1} }`);
    const text = ["ensemble: big", "zookeeper:", "  version: 3.8.0", "hosts:", ...hosts, ""].join("\n");
    const file = write("big.yml", text);
    await expectRefusedAt(file, lineOf(text, "name: h255,"), /hosts\[255\]: .*at most 255 hosts/);
  });

  it("40,000 bad settings in one mapping: each reported, with no stack overflow and no pass over the mapping per key", async () => {
    const keys = Array.from({ length: 40_000 }, (_, i) => `    bad${i}: "a\\nb"`);
    const text = ["ensemble: x", "zookeeper:", "  version: 3.8.0", "  config:", ...keys, "hosts:", "  - { name: zk1, address: 10.0.0.1, myid: 1 }", ""].join("\n");
    const file = write("wide.yml", text);
    const r = await runCli(["check", "-i", file]);
    expect(r.code).toBe(ExitCode.invalid);
    expect(r.out).toContain(`${file}:${lineOf(text, "bad39999:")}:`);
    expect(r.out).toMatch(/40000 error\(s\)/);
  });

  it("collections nested 300,000 deep: a located YAML error", async () => {
    const text = `ensemble: deep\nzookeeper: ${"[".repeat(300_000)}${"]".repeat(300_000)}\n`;
    await expectRefusedAt(write("deep.yml", text), 2, /YAML syntax error: collections nested too deeply/);
  });
});

describe("addresses that name no host", () => {
  const withAddress = (address: string) => fixtureYaml({ hostsFile: "unmanaged" }).replace("address: 127.94.0.12,", `address: "${address}",`);
  // Refusals, each at its line: bad-input.test.ts; more spellings of them here.
  it.each(["0:0::0", "239.255.0.9", "FF05::1:3", "::ffff:224.0.0.5"])("%s is refused too", async (address) => {
    const r = await runCli(["check", "-i", write("not-a-host.yml", withAddress(address))]);
    expect(r.code).toBe(ExitCode.invalid);
    expect(r.out).toContain(`hosts[1].address: address ${address} is `);
  });


  it("unicast addresses, loopback ones included (the lab's hosts have them), pass", async () => {
    for (const address of ["10.0.0.12", "127.0.0.1", "::1", "2001:db8::12", "fe80::12", "192.168.1.255"]) {
      const r = await runCli(["check", "-i", write("ok.yml", withAddress(address))]);
      expect(r.code, `${address}: ${r.out}`).toBe(ExitCode.ok);
    }
  });
});

describe("zookeeper.super_password_file, checked by check", () => {
  const withPasswordFile = (path: string) => fixtureYaml({ version: "3.9.3", reconfig: true, extraZookeeper: [`super_password_file: ${path}`] });
  const secret = (name: string, content: string, mode = 0o600) => {
    const file = join(dir, name);
    writeFileSync(file, content);
    chmodSync(file, mode);
    return file;
  };

  it("readable by group or others: a warning at its line; 0600: nothing to say", async () => {
    for (const mode of [0o640, 0o604, 0o620]) {
      const text = withPasswordFile(secret(`open-${mode.toString(8)}.pw`, "s3cret\n", mode));
      const file = write("open.yml", text);
      const r = await runCli(["check", "-i", file]);
      expect(r.code, r.out).toBe(ExitCode.ok);
      expect(r.out).toContain(`${file}:${lineOf(text, "super_password_file:")}:`);
      expect(r.out).toMatch(new RegExp(`warning: zookeeper\\.super_password_file: .*has mode 0${mode.toString(8)}: users other than its owner .*chmod 600`));
    }
    const r = await runCli(["check", "-i", write("closed.yml", withPasswordFile(secret("closed.pw", "s3cret\n")))]);
    expect(r.out).not.toContain("super_password_file");
  });
});

describe("an inventory given twice to a command that takes one", () => {
  it.each([
    ["apply", ["apply", "-i", "a.yml", "-i", "b.yml", "--yes"], "-i"],
    ["backup", ["backup", "-i", "a.yml", "-i", "b.yml", "-o", "out"], "-i"],
    ["restore", ["restore", "-i", "a.yml", "-i", "b.yml", "--from", "out"], "-i"],
    ["export", ["export", "-i", "a.yml", "-i", "b.yml"], "-i"],
    ["import", ["import", "-i", "a.yml", "-i", "b.yml", "-f", "x.jsonl"], "-i"],
    ["sync --from", ["sync", "--from", "a.yml", "--from", "b.yml", "--to", "c.yml"], "--from"],
    ["sync --to", ["sync", "--from", "a.yml", "--to", "b.yml", "--to", "c.yml"], "--to"],
  ])("%s: exit 3 saying so, before reading either", async (_name, args, flag) => {
    const r = await runCli(args.map((a) => (a.endsWith(".yml") || a === "out" ? join(dir, "absent", a) : a)));
    expect(r.code, r.err).toBe(ExitCode.invalid);
    const [first, second] = args.flatMap((a, i) => (a === flag ? [join(dir, "absent", args[i + 1]!)] : []));
    expect(r.err).toContain(`usage error: ${flag} is given twice (${first}, then ${second}); this command takes one`);
    expect(r.err).not.toContain("does not exist");
  });

  it("check and status still take several", async () => {
    const file = write("one.yml", fixtureYaml());
    const r = await runCli(["check", "-i", file, "-i", write("two.yml", fixtureYaml().replace("orders-zk", "billing-zk").replaceAll("127.94.0.1", "127.94.0.2"))]);
    expect(r.out).toContain("2 inventories: ");
  });
});

describe("YAML aliases", () => {
  it("255 hosts sharing one aliased value pass (yaml's own limit, 100, would refuse them)", async () => {
    const hosts = Array.from({ length: 255 }, (_, i) => `  - { name: h${i}, address: 10.0.${i >> 8}.${i & 255}, myid: ${i + 1}, ssh_port: ${i === 0 ? "&port 2222" : "*port"} }`);
    const text = ["ensemble: wide", "zookeeper:", "  version: 3.8.0", "hosts_file: unmanaged", "hosts:", ...hosts, ""].join("\n");
    const r = await runCli(["check", "-i", write("aliased.yml", text)]);
    expect(r.out).toMatch(/0 error\(s\)/);
  });
});

describe("zoo.cfg values of the settings zkfleet knows", () => {
  const withSetting = (key: string, value: string) => {
    const text = fixtureYaml({ version: "3.9.3" });
    const line = new RegExp(`^    ${key.replace(/\./g, "\\.")}: .*\n`, "m");
    return line.test(text) ? text.replace(line, `    ${key}: ${value}\n`) : text.replace("    maxClientCnxns: 100\n", `    maxClientCnxns: 100\n    ${key}: ${value}\n`);
  };

  it.each([["tickTime", "3000"], ["minSessionTimeout", "-1"], ["sslQuorum", "true"], ["forceSync", "no"], ["snapshot.compression.method", "snappy"], ["txnLogSizeLimitInKb", "-1"], ["4lw.commands.whitelist", "'*'"]])(
    "%s: %s passes", async (key, value) => {
      const r = await runCli(["check", "-i", write("setting-ok.yml", withSetting(key, value))]);
      expect(r.code, r.out).toBe(ExitCode.ok);
    });

  it("every setting of every version has a type (a new one needs one)", () => {
    const untyped = Object.values(ZOOKEEPER_VERSIONS).flatMap((v) => v.knownSettings).filter((k) => !k.endsWith(".*") && SETTING_TYPES[k] === undefined);
    expect(untyped).toEqual([]);
    const unknown = Object.keys(SETTING_TYPES).filter((k) => !Object.values(ZOOKEEPER_VERSIONS).some((v) => (v.knownSettings as readonly string[]).includes(k)));
    expect(unknown).toEqual([]);
  });
});
