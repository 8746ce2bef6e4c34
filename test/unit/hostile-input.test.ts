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

  it("300 hosts in a small file: the same, before any of them is validated", async () => {
    const hosts = Array.from({ length: 300 }, (_, i) => `  - name: h${i}\n    address: 10.0.${i >> 8}.${i & 255}\n    myid: ${i + 1}`);
    const text = ["ensemble: big", "zookeeper:", "  version: 3.8.0", "hosts:", ...hosts, ""].join("\n");
    const r = await runCli(["check", "-i", write("300.yml", text)]);
    expect(r.out.split("\n").filter((l) => l.includes(": error: "))).toHaveLength(1);
    await expectRefusedAt(join(dir, "300.yml"), lineOf(text, "name: h255"), /this is host 256/);
  });

  it("a file past 1 MiB without a long host list: refused at the first line not read", async () => {
    const text = `ensemble: big\n${"# padding\n".repeat(120_000)}`;
    const file = write("padded.yml", text);
    const read = Buffer.from(text).subarray(0, 1 << 20).toString().split("\n").length;
    await expectRefusedAt(file, read, /larger than 1048576 bytes, the most zkfleet reads of an inventory/);
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

  it("a key written twice in one mapping is named at its second line (found without yaml's quadratic check)", async () => {
    const text = fixtureYaml().replace("  heap_mb: 512\n", "  heap_mb: 512\n  heap_mb: 1024\n");
    await expectRefusedAt(write("twice.yml", text), lineOf(text, "heap_mb: 1024"), /key "heap_mb" is written twice in one mapping \(first on line \d+\)/);
  });

  it("collections nested 300,000 deep: a located YAML error", async () => {
    const text = `ensemble: deep\nzookeeper: ${"[".repeat(300_000)}${"]".repeat(300_000)}\n`;
    await expectRefusedAt(write("deep.yml", text), 2, /YAML syntax error: collections nested too deeply/);
  });
});

describe("addresses that name no host", () => {
  const withAddress = (address: string) => fixtureYaml({ hostsFile: "unmanaged" }).replace("address: 127.94.0.12,", `address: "${address}",`);
  const notHosts = ["0.0.0.0", "::", "0:0::0", "::ffff:0.0.0.0", "0.1.2.3", "255.255.255.255", "224.0.0.1", "239.255.0.9", "240.0.0.1", "ff02::1", "FF05::1:3", "::ffff:224.0.0.5"];

  it.each(notHosts)("%s: check and apply exit 3 at its line; apply contacts nothing", async (address) => {
    const text = withAddress(address);
    const file = write(`address-${address.replace(/[^0-9a-f]/gi, "_")}.yml`, text);
    const finding = await expectRefusedAt(file, lineOf(text, `"${address}"`), /host zk2: hosts\[1\]\.address: address .* is .*not the address of a host/);
    expect(finding).toContain(`address ${address} is `);
    const apply = await runCli(["apply", "-i", file, "--yes"], { ZKFLEET_JOURNAL: join(dir, "journal") });
    expect(apply.code, apply.err).toBe(ExitCode.invalid);
    expect(apply.err).toContain(finding);
    expect(apply.out).toBe("");
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

  it.each([
    ["missing", () => join(dir, "absent.pw"), /absent\.pw does not exist/],
    ["empty", () => secret("empty.pw", "\n"), /empty\.pw is empty/],
    ["a directory", () => dir, /cannot be read \(EISDIR\)/],
    ["unusable", () => secret("spaces.pw", "two words\n"), /may contain only printable ASCII characters other than spaces/],
  ])("%s: an error at its line, from check and from apply", async (_name, make, says) => {
    const text = withPasswordFile(make());
    const file = write("password.yml", text);
    const finding = await expectRefusedAt(file, lineOf(text, "super_password_file:"), says);
    expect(finding).toContain("error: zookeeper.super_password_file: ");
    expect(finding).not.toContain("two words");
    const apply = await runCli(["apply", "-i", file, "--yes"], { ZKFLEET_JOURNAL: join(dir, "journal") });
    expect(apply.code, apply.err).toBe(ExitCode.invalid);
    expect(apply.err).toContain(finding);
  });

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
  it("a billion-laughs file: exit 3 at the alias whose expansion goes past the limit", async () => {
    const levels = "abcdefghi".split("");
    const text = [
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      ...levels.slice(1).map((l, i) => `${l}: &${l} [${Array(9).fill(`*${levels[i]}`).join(",")}]`),
      "ensemble: lol",
      "",
    ].join("\n");
    // yaml counts *d in line e as 2 x 729 nodes, the first count past 1000.
    await expectRefusedAt(write("lol.yml", text), lineOf(text, "e: &e"), /YAML syntax error: alias \*d expands past 1000 nodes, as a "billion laughs" file does/);
  });

  it("255 hosts sharing one aliased value pass (yaml's own limit, 100, would refuse them)", async () => {
    const hosts = Array.from({ length: 255 }, (_, i) => `  - { name: h${i}, address: 10.0.${i >> 8}.${i & 255}, myid: ${i + 1}, ssh_port: ${i === 0 ? "&port 2222" : "*port"} }`);
    const text = ["ensemble: wide", "zookeeper:", "  version: 3.8.0", "hosts_file: unmanaged", "hosts:", ...hosts, ""].join("\n");
    const r = await runCli(["check", "-i", write("aliased.yml", text)]);
    expect(r.out).toMatch(/0 error\(s\)/);
  });

  it("an alias before its anchor: exit 3 at the alias", async () => {
    const text = fixtureYaml().replace("ensemble: orders-zk", "ensemble: *name");
    await expectRefusedAt(write("unresolved.yml", text), 1, /Unresolved alias .*: name/);
  });
});

describe("zoo.cfg values of the settings zkfleet knows", () => {
  const withSetting = (key: string, value: string) => {
    const text = fixtureYaml({ version: "3.9.3" });
    const line = new RegExp(`^    ${key.replace(/\./g, "\\.")}: .*\n`, "m");
    return line.test(text) ? text.replace(line, `    ${key}: ${value}\n`) : text.replace("    maxClientCnxns: 100\n", `    maxClientCnxns: 100\n    ${key}: ${value}\n`);
  };

  it.each([
    ["tickTime", "abc", /tickTime must be a whole number \(ZooKeeper reads it as a Java int\); got "abc"/],
    ["initLimit", "2.5", /initLimit must be a whole number/],
    ["syncLimit", "0", /syncLimit must be at least 1; got 0/],
    ["maxClientCnxns", "3000000000", /maxClientCnxns must be a whole number \(ZooKeeper reads it as a Java int\)/],
    ["autopurge.snapRetainCount", "1", /must be at least 3 \(ZooKeeper keeps at least 3\)/],
    ["preAllocSize", "64M", /preAllocSize must be a whole number \(ZooKeeper reads it as a Java long\); got "64M"/],
    ["secureClientPort", "70000", /secureClientPort must be a port, 1 to 65535; got "70000"/],
    ["observerMasterPort", "x", /observerMasterPort must be a port/],
    ["sslQuorum", "yes", /sslQuorum must be true or false \(ZooKeeper takes any other word for false\); got "yes"/],
    ["admin.enableServer", '"False"', /admin\.enableServer must be true or false/],
    ["forceSync", "false", /forceSync must be yes or no .*got "false"/],
    ["snapshot.compression.method", "zip", /must be one of "gz", "snappy", ""; got "zip"/],
  ])("%s: %s is refused at its line", async (key, value, says) => {
    const text = withSetting(key, value);
    await expectRefusedAt(write("setting.yml", text), lineOf(text, `    ${key}: ${value}`), says);
  });

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
