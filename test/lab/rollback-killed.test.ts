// Rolling back a run that was killed, and a rollback that was killed. An
// upgrade 3.8.0 -> 3.9.3 killed in its push and finished by `runs resume`
// is rolled back by `runs rollback` of the run the operator started (its
// resume did the switching). Then a rollback of a second upgrade is killed
// with SIGKILL (the controller and its canary clients, as a lost machine
// would) right after its first switch, its resume is killed once a server
// is back, and a second resume finishes: every server ends on 3.8.0, the
// release it had before the upgrade, never back on 3.9.3. The data is read
// by ZooKeeper's own Java client, and no canary znode of a killed run is
// left in the tree: the next run's canary removes them, sparing a subtree
// still written to and one holding what the canary never writes.
import { describe, expect, it } from "vitest";
import { javaDigest } from "../data/independent.js";
import { runCli, runKilledAt } from "../helpers/cli.js";
import { deriveInventory, fourLetterWord, pollUntil, sshRun, useTestLab } from "../helpers/lab.js";
import { writeNodes, zkCli, zkCliSession } from "../helpers/zkcli.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("rollback-killed", subnet("rollback-killed"), 3, "3.8.0");
const NODES = 30;
const v393 = () => deriveInventory(t.lab, "inventory-3.9.3.yml", { version: "3.9.3" });
const server = () => `${t.lab.hosts[0]!.address}:2181`;

/** The CLI SIGKILLed as a whole (controller and canary clients) once its output matches: nothing of it gets to clean up. */
async function killedAt(args: string[], at: RegExp): Promise<string> {
  const { out, signal } = await runKilledAt(args, t.env, at, { group: true });
  expect(signal, `never reached ${at}:\n${out}`).toBe("SIGKILL");
  return out;
}

interface RunRow { run: string; outcome: string; command: string }
const runs = async (): Promise<RunRow[]> => JSON.parse((await runCli(["runs", "--json"], t.env)).out);

async function resume(run: string): Promise<{ final: { verdict: string }; canary?: { total: { lost: number; expired: number }; sweepNotes?: string[] }; results: { kind: string; host: string }[] }> {
  const r = await runCli(["runs", "resume", run, "--yes", "--json"], t.env);
  expect(r.code, r.err).toBe(2);
  return JSON.parse(r.out);
}

/** Each server's version as it reports it, and where its `current` link points; the ensemble healthy on that version. */
async function versions(version: "3.8.0" | "3.9.3"): Promise<string[]> {
  const s = JSON.parse((await runCli(["status", "-i", version === "3.8.0" ? t.lab.inventory : v393(), "--json"], t.env)).out);
  expect(s.ensembles[0].verdict).toBe("healthy");
  const running = s.ensembles[0].hosts.map((h: { version: string }) => h.version.split("-")[0]);
  const links = await Promise.all(t.lab.hosts.map(async (h) => (await sshRun(t.lab, h.name, "readlink /opt/zookeeper/current")).stdout.trim()));
  return running.map((v: string, i: number) => `${v} ${links[i]!.split("/").at(-1)}`);
}

/** The runs whose canary znodes are in the tree (children of /zkfleet-canary), read through every server (one may be down). */
async function canaryRuns(): Promise<string[]> {
  let out = "";
  // zkCli may land on a server that is going away (the run was killed mid-roll): ask again.
  const list = await pollUntil(async () => {
    out = await zkCli(t.lab.hosts.map((h) => `${h.address}:2181`).join(","), ["ls /zkfleet-canary"]);
    return /^\[(.*)\]$/m.exec(out)?.[1] ?? undefined;
  }, 60_000, 1000);
  expect(list, out.slice(-1500)).toBeDefined();
  return list!.trim() !== "" ? list!.split(",").map((x) => x.trim()) : [];
}

let created: Promise<void> | undefined;
/** The ensemble on 3.8.0 with data under /rb, made once for the tests (each may run alone). */
function ensemble(): Promise<void> {
  return created ??= (async () => {
    const first = await runCli(["apply", "-i", t.lab.inventory, "--yes"], t.env);
    expect(first.code, first.err).toBe(2);
    await writeNodes(server(), "/rb", NODES);
  })();
}

describe("rollback of killed runs, and a killed rollback resumed", () => {
  it("an upgrade killed in its push and finished by its resume is rolled back by `runs rollback` of the run the operator started", async () => {
    await ensemble();
    const before = await javaDigest(server(), "/rb");

    await killedAt(["apply", "-i", v393(), "--yes"], /\.\.\. zk\d: unpack ZooKeeper 3\.9\.3/);
    const upgrade = (await runs()).at(-1)!;
    expect(upgrade.outcome).toBe("no end record (controller killed?)");
    const resumed = await resume(upgrade.run);
    expect(resumed.results.filter((x) => x.kind === "switch_release")).toHaveLength(3);
    expect(await versions("3.9.3")).toEqual(["3.9.3 3.9.3", "3.9.3 3.9.3", "3.9.3 3.9.3"]);

    const back = await runCli(["runs", "rollback", upgrade.run, "--yes", "--json"], t.env);
    expect(back.code, back.err).toBe(2);
    const json = JSON.parse(back.out);
    expect(json.final.verdict).toBe("healthy");
    expect(json.canary.total).toMatchObject({ lost: 0, expired: 0 });
    expect(await versions("3.8.0")).toEqual(["3.8.0 3.8.0", "3.8.0 3.8.0", "3.8.0 3.8.0"]);
    expect(await javaDigest(server(), "/rb")).toMatchObject({ nodes: before.nodes, digest: before.digest });
  }, 420_000);

  it("a rollback killed after its first switch, its resume killed mid-way: the second resume ends every server on 3.8.0; no killed run's canary znodes stay", async () => {
    await ensemble();
    const before = await javaDigest(server(), "/rb");
    const up = await runCli(["apply", "-i", v393(), "--yes", "--json"], t.env);
    expect(up.code, up.err).toBe(2);
    const upgrade = JSON.parse(up.out).run as string;
    expect(await versions("3.9.3")).toEqual(["3.9.3 3.9.3", "3.9.3 3.9.3", "3.9.3 3.9.3"]);

    // 1. The first server switched back to 3.8.0 and not started yet.
    await killedAt(["runs", "rollback", upgrade, "--yes"], /^ {2}changed zk\d: switch current from 3\.9\.3 to 3\.8\.0/m);
    const rollback = (await runs()).at(-1)!;
    expect(rollback).toMatchObject({ command: "rollback", outcome: "no end record (controller killed?)" });
    // Killed with its clients: the canary's znodes are still in the tree.
    expect(await canaryRuns()).toContain(rollback.run);

    // 2. Its resume, killed once it has moved a server and checked it back.
    const check = await runCli(["runs", "resume", rollback.run, "--check", "--json"], t.env);
    expect(check.code, check.err).toBe(2);
    const planned = JSON.parse(check.out) as { steps: { kind: string; version?: string }[] };
    expect(planned.steps.filter((s) => s.kind === "switch_release").map((s) => s.version)).toEqual(["3.8.0", "3.8.0"]);
    await killedAt(["runs", "resume", rollback.run, "--yes"], /^ {2}ok {6}settle: .* caught up/m);
    const resumeKilled = (await runs()).at(-1)!;
    expect(resumeKilled).toMatchObject({ command: "resume", outcome: "no end record (controller killed?)" });
    expect(await canaryRuns()).toContain(resumeKilled.run);

    // 3. The resume of that resume finishes the rollback.
    const done = await resume(resumeKilled.run);
    expect(done.final.verdict).toBe("healthy");
    expect(done.canary?.total).toMatchObject({ lost: 0, expired: 0 });
    expect(await versions("3.8.0")).toEqual(["3.8.0 3.8.0", "3.8.0 3.8.0", "3.8.0 3.8.0"]);
    expect(await javaDigest(server(), "/rb")).toMatchObject({ nodes: before.nodes, digest: before.digest });
    const left = await canaryRuns();
    // The sweep's own notes say why it left a run, should it leave one.
    const why = `canary znodes of killed runs; the sweep said: ${JSON.stringify(done.canary?.sweepNotes ?? [])}`;
    expect(left, why).not.toContain(rollback.run);
    expect(left, why).not.toContain(resumeKilled.run);
    // Resumed once more, the killed resume finds nothing left to do: the ensemble is where the rollback was going.
    const again = await runCli(["runs", "resume", resumeKilled.run, "--yes"], t.env);
    expect(again.code, again.err).toBe(0);
  }, 420_000);

  it("the canary znodes of a run killed with SIGKILL are removed by its resume; another run's still written to, and anything not the canary's, stay", async () => {
    await ensemble();
    const every = t.lab.hosts.map((h) => `${h.address}:2181`).join(",");
    // Two subtrees the sweep must leave: one a live run's canary is writing to (a znode every 200 ms, all through
    // the resume), one holding a znode the canary never writes.
    const live = "2026-01-01T00-00-00-000Z-a1b2c3";
    const foreign = "2026-01-01T00-00-00-000Z-d4e5f6";
    const made = await zkCli(every, ["create /zkfleet-canary x", `create /zkfleet-canary/${live} x`, `create /zkfleet-canary/${live}/all x`,
      `create /zkfleet-canary/${foreign} x`, `create /zkfleet-canary/${foreign}/all x`, `create /zkfleet-canary/${foreign}/all/user-data keep`]);
    expect(made, made.slice(-1500)).toContain(`Created /zkfleet-canary/${foreign}/all/user-data`);
    const writer = await zkCliSession(every);
    let seq = 0;
    const timer = setInterval(() => writer.send(`create /zkfleet-canary/${live}/all/w-${String(seq++).padStart(10, "0")} ${seq}`), 200);
    try {
      const cnxns = deriveInventory(t.lab, "cnxns.yml", { config: { maxClientCnxns: 77 } });
      await killedAt(["apply", "-i", cnxns, "--yes"], /^ {2}changed zk\d: stop ZooKeeper/m);
      const killed = (await runs()).at(-1)!;
      expect(await canaryRuns()).toContain(killed.run);
      const resumed = await resume(killed.run);
      expect(resumed.final.verdict).toBe("healthy");
      expect(resumed.canary?.total).toMatchObject({ lost: 0, expired: 0 });
      const left = await canaryRuns();
      expect(left, `the killed run's canary znodes; the sweep said: ${JSON.stringify(resumed.canary?.sweepNotes ?? [])}`).not.toContain(killed.run);
      expect(left).toEqual(expect.arrayContaining([live, foreign]));
      // Every server runs the new setting: the resume finished the roll the kill interrupted.
      const confs = await pollUntil(async () => {
        const values = await Promise.all(t.lab.hosts.map(async (h) => /^maxClientCnxns=(\d+)$/m.exec(await fourLetterWord(h.address, 2181, "conf"))?.[1]));
        return values.every((v) => v === "77") ? values : undefined;
      }, 30_000);
      expect(confs).toEqual(["77", "77", "77"]);
    } finally {
      clearInterval(timer);
      await writer.close();
    }
    const after = await zkCli(every, [`ls /zkfleet-canary/${live}/all`, `get /zkfleet-canary/${foreign}/all/user-data`]);
    expect(after.split("\n").map((l) => l.trim())).toContain("keep");
    expect(after).toMatch(/\[w-0000000000, w-0000000001/);
  }, 420_000);
});
