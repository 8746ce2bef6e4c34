// Membership changes in the lab, shared by the dynamic (3.9.3, reconfig) and
// the static (3.4.13) test files. Each change is checked from outside
// zkfleet: the servers' own `conf`/`srvr` answers, the tree digest from
// ZooKeeper's Java client before and after, and the canary's figures.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { javaDigest } from "../data/independent.js";
import { runCli } from "../helpers/cli.js";
import { type TestLab, fourLetterWord, modeOf } from "../helpers/lab.js";
import { writeNodes } from "../helpers/zkcli.js";

export const LOAD = 300;

export interface HostWant { name: string; myid: number; role?: "participant" | "observer"; state?: "absent" }

/** The lab's inventory with these hosts (in this order), each with its myid, role and state. */
export function membershipInventory(t: TestLab, file: string, hosts: HostWant[], zookeeper: Record<string, unknown> = {}): string {
  const inv = parseYaml(readFileSync(t.lab.inventory, "utf8")) as { zookeeper: Record<string, unknown>; hosts: { name: string; address: string }[] };
  const byName = new Map(inv.hosts.map((h) => [h.name, h]));
  const path = join(t.lab.dir, file);
  writeFileSync(path, toYaml({
    ...inv,
    zookeeper: { ...inv.zookeeper, ...zookeeper },
    hosts: hosts.map((h) => ({ name: h.name, address: byName.get(h.name)!.address, myid: h.myid, ...(h.role ? { role: h.role } : {}), ...(h.state ? { state: h.state } : {}) })),
  }));
  return path;
}

export async function apply(t: TestLab, inventory: string, ...flags: string[]) {
  const r = await runCli(["apply", "-i", inventory, ...flags], t.env);
  return { ...r, json: flags.includes("--json") && r.out ? JSON.parse(r.out) : undefined };
}

/** Each server's mode, as it says itself. */
export async function modes(t: TestLab): Promise<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {};
  for (const h of t.lab.hosts) out[h.name] = modeOf(await fourLetterWord(h.address, 2181, "srvr", 1500));
  return out;
}

/** The server lines a server reports (`conf`, 3.5+), as "id:role", sorted. */
export async function reportedMembers(address: string): Promise<string[]> {
  const conf = await fourLetterWord(address, 2181, "conf");
  return [...conf.matchAll(/^server\.(\d+)=[^:]+:\d+:\d+:(participant|observer)/gm)].map((m) => `${m[1]}:${m[2]}`).sort();
}

export async function load(t: TestLab): Promise<string> {
  const server = `${t.lab.hosts[0]!.address}:2181`;
  await writeNodes(server, "/members", LOAD);
  return server;
}

/**
 * One membership change by `apply`, checked: it acted, the ensemble ends
 * healthy, the canary lost nothing and no session expired, the tree is the
 * same, and a second apply has nothing to do.
 */
export async function change(
  t: TestLab, inventory: string, via: { before: string; after: string }, expectKinds: string[],
): Promise<{ json: Record<string, unknown> & { results: { kind: string; host: string; changed: boolean }[] } }> {
  const before = await javaDigest(via.before, "/members");
  expect(before.nodes).toBe(LOAD + 1);
  const r = await apply(t, inventory, "--yes", "--json");
  expect(r.code, r.err).toBe(2);
  expect(r.json.final.verdict).toBe("healthy");
  const kinds = (r.json.results as { kind: string }[]).map((x) => x.kind);
  for (const k of expectKinds) expect(kinds, `a ${k} step`).toContain(k);
  expect(r.json.canary.total).toMatchObject({ lost: 0, expired: 0 });
  expect(r.json.canary.total.ops).toBeGreaterThan(20);
  expect(await javaDigest(via.after, "/members")).toMatchObject({ nodes: before.nodes, digest: before.digest });
  const again = await apply(t, inventory, "--yes", "--json");
  expect(again.code, again.err).toBe(0);
  return r;
}
