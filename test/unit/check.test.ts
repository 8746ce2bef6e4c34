import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { lintInventories } from "../../controller/usecases/check.js";
import { formatFinding } from "../../controller/inventory/findings.js";
import { fixtureYaml, lineOf } from "../golden/fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "zkfleet-check-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe("lintInventories", () => {
  it("passes the shipped example without a single finding", async () => {
    // check reads the super password file it names: here it is, as its user would have it.
    const home = join(dir, "home");
    mkdirSync(join(home, ".zkfleet"), { recursive: true });
    writeFileSync(join(home, ".zkfleet", "orders-zk.super"), "example-secret\n", { mode: 0o600 });
    const result = await lintInventories([new URL("../../inventories/example.yml", import.meta.url).pathname], { homeDir: home });
    expect(result.findings.map(formatFinding)).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it("places lint findings on their line and host; warnings alone do not fail", async () => {
    const text = fixtureYaml().replace("myid: 4, role: observer", "myid: 4").replace("    autopurge.purgeInterval: 24\n", "");
    const file = write("warn.yml", text);
    const result = await lintInventories([file]);
    expect(result.ok).toBe(true);
    expect(result.findings.map((f) => [f.code, f.file, f.line])).toEqual([
      ["even-voters", file, lineOf(text, "hosts:") + 1],
      ["no-autopurge", file, lineOf(text, "  config:") + 1],
    ]);
  });

  it("fails on load problems and lint errors from several files, reporting each", async () => {
    const brokenText = fixtureYaml().replace("myid: 2 }", "myid: two }");
    const brokenLine = brokenText.split("\n")[lineOf(brokenText, "name: zk2") - 1] ?? "";
    const broken = write("broken.yml", brokenText);
    const text = fixtureYaml({ version: "3.4.13", reconfig: true });
    const old = write("old.yml", text.replace("ensemble: orders-zk", "ensemble: legacy").replace(/127\.94\.0\./g, "127.94.1."));
    const result = await lintInventories([broken, old, join(dir, "absent.yml")]);
    expect(result.ok).toBe(false);
    expect(result.findings.map(formatFinding)).toEqual([
      `${broken}:${lineOf(brokenText, "name: zk2")}:${brokenLine.indexOf("two") + 1}: error: host zk2: hosts[1].myid: must be a whole number from 1 to 255`,
      `${old}:${lineOf(text, "reconfig:")}:13: error: zookeeper.reconfig: ZooKeeper 3.4.13 has no dynamic reconfiguration (3.5.3+); set reconfig: false`,
      `${join(dir, "absent.yml")}: error: inventory file does not exist; check the path (inventories/example.yml shows the format)`,
    ]);
  });

  it("detects two inventories listening on the same address and port", async () => {
    const a = write("a.yml", fixtureYaml());
    const bText = fixtureYaml({ version: "3.9.3" })
      .replace("ensemble: orders-zk", "ensemble: payments-zk")
      .replace(/127\.94\.0\.1([1-3])/g, "127.94.2.1$1")
      .replace("  heap_mb: 512", "  heap_mb: 512\n  client_port: 2281\n  admin_port: 8081");
    const b = write("b.yml", bText);
    const result = await lintInventories([a, b]);
    expect(result.ok).toBe(false);
    expect(result.findings).toHaveLength(1);
    const [finding] = result.findings;
    expect(finding).toMatchObject({ code: "shared-listener", file: b, host: "zk4", line: lineOf(bText, "name: zk4") });
    expect(finding?.message).toBe(
      `127.94.0.14 port 2888 (quorum_port), 3888 (election_port) is also used there by host zk4 of ensemble orders-zk (${a}); change the address or the ports in one of them`,
    );
  });

  it("does not count an AdminServer that is switched off, nor ports on other addresses", async () => {
    const a = write("c.yml", fixtureYaml({ extraZookeeper: ["  admin.enableServer: false"] }));
    const bText = fixtureYaml()
      .replace("ensemble: orders-zk", "ensemble: other-zk")
      .replace(/127\.94\.0\.1([1-3])/g, "127.94.3.1$1")
      .replace("  heap_mb: 512", "  heap_mb: 512\n  client_port: 8080\n  admin_port: 8081\n  quorum_port: 2889\n  election_port: 3889");
    const b = write("d.yml", bText);
    expect((await lintInventories([a, b])).findings).toEqual([]);
  });

  it("refuses the same ensemble name in two inventories", async () => {
    const a = write("e.yml", fixtureYaml());
    const b = write("f.yml", fixtureYaml().replace(/127\.94\.0\./g, "127.94.4."));
    const result = await lintInventories([a, b]);
    expect(result.findings.map((f) => [f.code, f.file, f.line])).toEqual([["duplicate-ensemble", b, 1]]);
    expect(result.findings[0]?.message).toContain(`also defined in ${a}`);
  });
});
