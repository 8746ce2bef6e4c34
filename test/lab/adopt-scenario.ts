// The adoption scenario of issue 7's acceptance, shared by the 3- and the
// 5-server test files (each owns its lab): a 3.4.13 ensemble installed by
// hand from the Apache tarball, adopted, then upgraded along the safe hops under
// load. What is checked comes from outside zkfleet: process ids and file
// hashes over ssh, the tree through ZooKeeper's own Java client.
import { expect } from "vitest";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defaultArtifactsDir } from "../../common/paths.js";
import { javaDigest } from "../data/independent.js";
import { runCli } from "../helpers/cli.js";
import { type TestLab, fourLetterWord, modeOf, sshRun } from "../helpers/lab.js";
import { writeNodes, zkCli } from "../helpers/zkcli.js";

const HOME = "/opt/zookeeper";
const LOAD = 2000;

async function apply(t: TestLab, inventory: string, ...flags: string[]) {
  const r = await runCli(["apply", "-i", inventory, ...flags], t.env);
  return { ...r, json: flags.includes("--json") && r.out ? JSON.parse(r.out) : undefined };
}

/** What must not change when zkfleet says it changes nothing: each server's pid and its files, byte for byte. */
async function fingerprint(t: TestLab): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const h of t.lab.hosts) {
    const r = await sshRun(t.lab, h.name, `cat ${HOME}/data/zookeeper_server.pid; md5sum ${HOME}/conf/* /etc/hosts ${HOME}/data/myid; ls /opt | grep -vx zkfleet`);
    out[h.name] = r.stdout;
  }
  return out;
}

async function leaderOf(t: TestLab): Promise<string> {
  for (const h of t.lab.hosts) {
    if (modeOf(await fourLetterWord(h.address, 2181, "srvr")) === "leader") return h.name;
  }
  throw new Error("no server answered srvr as the leader");
}

export async function adoptExactly(t: TestLab): Promise<string> {
  const inventory = join(t.lab.dir, "adopted.yml");
  const before = await fingerprint(t);
  const r = await runCli([
    "adopt", "--ensemble", "hand", "--identity-file", t.lab.identityFile, "--known-hosts", t.lab.knownHosts, "-o", inventory,
    ...t.lab.hosts.map((h) => h.address), "--json",
  ], t.env);
  expect(r.code, r.err).toBe(0);
  const adopted = JSON.parse(r.out);
  expect(adopted.exact).toBe(true);
  expect(adopted.inventory.zookeeper).toMatchObject({
    version: "3.4.13", preinstalled: { version: "3.4.13", home: HOME }, config_dir: `${HOME}/conf`, data_dir: `${HOME}/data`,
    quorum_port: 4000, election_port: 5000,
  });
  // What the inventory cannot say is listed, in the file too.
  expect(adopted.notes.length).toBeGreaterThan(0);
  expect(readFileSync(inventory, "utf8")).toContain(adopted.notes[0]);

  const check = await apply(t, inventory, "--check", "--json");
  expect(check.code, check.err).toBe(0);
  expect(check.json.steps).toEqual([]);
  const again = await apply(t, inventory, "--yes", "--json");
  expect(again.code, again.err).toBe(0);
  expect(again.json.changed).toBe(0);
  // Nothing restarted, nothing written: same pids, same bytes, no release of zkfleet's unpacked (its agent in /opt/zkfleet aside).
  expect(await fingerprint(t)).toEqual(before);
  return inventory;
}

export async function loadTree(t: TestLab): Promise<{ server: string; logsOnly: string[] }> {
  const server = `${t.lab.hosts[0]!.address}:2181`;
  await writeNodes(server, "/load", LOAD);
  const acl = await zkCli(server, ["setAcl /load/n1 world:anyone:r", "setAcl /load/n2 ip:127.0.0.1:cdrwa,world:anyone:r", "getAcl /load/n2"]);
  expect(acl).toContain("ip");
  const logsOnly: string[] = [];
  for (const h of t.lab.hosts) {
    const ls = (await sshRun(t.lab, h.name, `ls ${HOME}/data/version-2 ${HOME}/logs/version-2`)).stdout;
    if (/^log\./m.test(ls) && !/^snapshot\./m.test(ls)) logsOnly.push(h.name);
  }
  // The trap of the 3.4 -> 3.5+ hop (ZOOKEEPER-3056) is really laid: some server holds logs and no snapshot.
  expect(logsOnly.length).toBeGreaterThan(0);
  return { server, logsOnly };
}

/** The adopted inventory at another version (the distributions from zkfleet's cache). */
export function atVersion(t: TestLab, adopted: string, version: string): string {
  const inv = parseYaml(readFileSync(adopted, "utf8")) as { zookeeper: Record<string, unknown> };
  const path = join(t.lab.dir, `adopted-${version}.yml`);
  writeFileSync(path, toYaml({ ...inv, zookeeper: { ...inv.zookeeper, version, dists: defaultArtifactsDir(process.env) } }));
  return path;
}

/** One hop of a rolling upgrade, with everything the acceptance asks to see. */
export async function upgradeHop(t: TestLab, inventory: string, version: string, server: string, logsOnly: string[] = []): Promise<void> {
  const digest = await javaDigest(server, "/load");
  expect(digest.nodes).toBe(LOAD + 1);
  const leader = await leaderOf(t);
  const r = await apply(t, inventory, "--yes", "--json");
  expect(r.code, r.err).toBe(2);
  expect(r.json.final.verdict).toBe("healthy");
  const results = r.json.results as { kind: string; host: string; changed: boolean; message: string }[];
  const stops = results.filter((x) => x.kind === "stop").map((x) => x.host);
  expect(stops).toHaveLength(t.lab.hosts.length);
  expect(stops.at(-1)).toBe(leader);
  // Every stop had a gate before it (and, after its start, a check that is the next stop's gate's predecessor).
  let gated = false;
  for (const x of results) {
    if (x.kind === "await_healthy") gated = true;
    if (x.kind === "stop") {
      expect(gated, `${x.host} stopped without a gate`).toBe(true);
      gated = false;
    }
  }
  expect(results.filter((x) => x.kind === "await_healthy")).toHaveLength(2 * t.lab.hosts.length);
  const moved = results.filter((x) => x.kind === "clean_data" && x.changed).map((x) => x.host);
  for (const h of logsOnly) expect(moved, `${h} held logs and no snapshot`).toContain(h);
  expect(r.json.canary.total).toMatchObject({ lost: 0, expired: 0 });
  expect(r.json.canary.total.ops).toBeGreaterThan(50);
  for (const h of t.lab.hosts) {
    expect(await fourLetterWord(h.address, 2181, "srvr"), h.name).toContain(`Zookeeper version: ${version}-`);
  }
  expect(await javaDigest(server, "/load")).toMatchObject({ nodes: digest.nodes, digest: digest.digest });
  const again = await apply(t, inventory, "--yes", "--json");
  expect(again.code, again.err).toBe(0);
}
