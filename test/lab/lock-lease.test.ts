// The ensemble's lock is a lease its holder renews, and a fence (issue 19,
// FAIL 2). With one apply rolling, `apply --break-lock` from the same machine
// is refused (exit 5) naming the live holder, which finishes its roll alone.
// A holder stuck past its lease (SIGSTOP) is taken over once the lease has
// lapsed, and the run that takes it says so; when the stuck one is continued,
// the agents refuse its next step that acts and it halts, acting no more. The
// canaries of both runs lose nothing and no session expires: quorum held.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { LEASE_MS } from "../../common/lease.js";
import { packageRoot } from "../../common/paths.js";
import { runCli } from "../helpers/cli.js";
import { fourLetterWord, pollUntil, useTestLab } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("lock-lease", subnet("lock-lease"));

function withCnxns(n: number): string {
  const path = join(t.lab.dir, `cnxns-${n}.yml`);
  const inv = parseYaml(readFileSync(t.lab.inventory, "utf8")) as { zookeeper: Record<string, unknown> };
  writeFileSync(path, toYaml({ ...inv, zookeeper: { ...inv.zookeeper, config: { maxClientCnxns: n } } }));
  return path;
}

const confValues = () => Promise.all(t.lab.hosts.map(async (h) => /^maxClientCnxns=(.*)$/m.exec(await fourLetterWord(h.address, 2181, "conf"))?.[1]));

/** An apply as an operator starts it in another terminal: a process of its own on this machine. */
function applyElsewhere(inventory: string, ...more: string[]) {
  const child = spawn("node", [join(packageRoot(), "bin/zkfleet.js"), "apply", "-i", inventory, "--yes", ...more], { env: { ...process.env, ...t.env } });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const done = new Promise<number | null>((resolve) => child.on("close", resolve));
  return { child, pid: child.pid!, out: () => out, err: () => err, done };
}

interface Rec { event: string; run: string; [k: string]: unknown }
/** A run's journal records, found by its run id. */
async function journalOf(run: string): Promise<Rec[]> {
  const runs = JSON.parse((await runCli(["runs", "--json"], t.env)).out) as { run: string; file: string }[];
  const file = runs.find((r) => r.run === run)!.file;
  return readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Rec);
}
const canaryOf = (recs: Rec[]) => (recs.find((r) => r.event === "canary") as { report?: { total: Record<string, number> } } | undefined)?.report?.total;
/** The newest run in the journal: the spawned apply's, once it has planned (a refused run journals nothing). */
const newestRun = async () => (JSON.parse((await runCli(["runs", "--json"], t.env)).out) as { run: string }[]).map((r) => r.run).at(-1)!;

it("apply --break-lock while another apply from this machine rolls is refused (exit 5), naming the live holder; the roll finishes alone", async () => {
  const first = await runCli(["apply", "-i", t.lab.inventory, "--yes"], t.env);
  expect(first.code, first.err).toBe(2);
  const a = applyElsewhere(withCnxns(66));
  // Once it rolls: its first step that acts has finished.
  expect(await pollUntil(async () => (/^ {2}changed /m.test(a.out()) ? true : undefined), 180_000, 50), a.err()).toBe(true);
  const b = await runCli(["apply", "-i", withCnxns(67), "--yes", "--break-lock"], t.env);
  const code = await a.done;
  expect(b.code, `${b.err}\n--- the rolling apply:\n${a.err()}`).toBe(5);
  expect(b.err).toMatch(new RegExp(`ensemble lab is locked by run \\S+ \\(\\S+@\\S+ pid ${a.pid}\\) since \\S+, and its controller still runs on this machine ` +
    `\\(pid ${a.pid}\\): --break-lock does not take a lock from a live run; nothing was changed`));
  expect(b.err).not.toMatch(/took over/);
  expect(code, a.err()).toBe(2);
  expect(a.err()).not.toMatch(/no-quorum/);
  expect(await confValues()).toEqual(["66", "66", "66"]);
  const recs = await journalOf(await newestRun());
  expect(recs.map((r) => r.event)).toContain("done");
  expect(canaryOf(recs)).toMatchObject({ lost: 0, expired: 0 });
}, 300_000);

it("a holder stuck past its lease is taken over with --break-lock, which says so; continued while the new holder rolls, it is refused at its next step that acts and halts", async () => {
  const a = applyElsewhere(withCnxns(71));
  const rolling = await pollUntil(async () => (/^ {2}changed \S+: update \/etc\/zookeeper\/conf\/zoo\.cfg/m.test(a.out()) ? true : undefined), 180_000, 50);
  a.child.kill("SIGSTOP");
  let b: ReturnType<typeof applyElsewhere> | undefined;
  let aRun: string;
  try {
    expect(rolling, a.err()).toBe(true);
    aRun = await newestRun();
    // Stopped, not gone: while its lease runs, --break-lock is refused.
    const early = await runCli(["apply", "-i", withCnxns(72), "--yes", "--break-lock"], t.env);
    expect(early.code, early.err).toBe(5);
    expect(early.err).toMatch(new RegExp(`locked by run ${aRun} .*, and its lease is still running \\(last renewed \\S+, \\d+s left by zk\\d's clock\\): ` +
      `its controller is stopped \\(pid ${a.pid}\\), not gone; nothing was changed`));
    // Asked again until the lease has lapsed (at most LEASE_MS after its last renewal); the one that takes the lock rolls on.
    b = await pollUntil(async () => {
      const attempt = applyElsewhere(withCnxns(72), "--break-lock", "--json");
      const took = await Promise.race([
        attempt.done.then(() => false),
        pollUntil(async () => (/took over the lock/.test(attempt.err()) ? true : undefined), 120_000, 50),
      ]);
      if (took) return attempt;
      expect(attempt.err()).toMatch(/its lease is still running/);
      return undefined;
    }, LEASE_MS * 3, 3000);
  } finally {
    // Continued as soon as the lock was taken over: it wakes while the new holder acts.
    a.child.kill("SIGCONT");
  }
  expect(b, "the lease lapsed").toBeDefined();
  expect(b!.err()).toMatch(new RegExp(`took over the lock of ensemble lab from run ${aRun!} \\(\\S+ pid ${a.pid}, since \\S+, generation 1\\): ` +
    `its lease had lapsed \\(last renewed \\S+; its controller pid ${a.pid} is stopped\\); this run holds generation 2, and that run is refused at its next step that acts`));

  // The stuck run meets the fence at its next step that acts and stops there.
  const code = await a.done;
  expect(code, a.err()).toBe(5);
  const bCode = await b!.done;
  expect(bCode, b!.err()).toBe(2);
  const json = JSON.parse(b!.out());
  expect(json.lock_taken_over).toMatchObject({ generation: 2, previous: [{ run: aRun!, process_state: "stopped", generation: 1 }] });
  expect(json.final.verdict).toBe("healthy");
  expect(json.canary.total).toMatchObject({ lost: 0, expired: 0 });
  expect(a.err()).toMatch(new RegExp(`the lock of ensemble lab was taken over by run ${json.run} \\(\\S+ pid ${b!.pid}\\) at \\S+; ` +
    `this run stopped before step \\d+; nothing more was changed by it`));
  const recs = await journalOf(aRun!);
  const end = recs.findIndex((r) => r.event === "lock-taken-over" || (r.event === "step-failed" && /was taken over by run/.test(String(r.error))));
  expect(end, JSON.stringify(recs.map((r) => r.event))).toBeGreaterThan(0);
  console.log(`the stuck run halted by ${recs[end]!.event === "lock-taken-over" ? "its own renewal's finding" : "an agent's fence"}, ` +
    `before ${String(recs[end]!.kind)} on ${String(recs[end]!.host)}`);
  // Nothing of it finished after that, nor was anything undone.
  expect(recs.slice(end).map((r) => r.event).filter((e) => e !== "canary")).toEqual([recs[end]!.event]);
  expect(recs.map((r) => r.event)).not.toContain("undo-start");
  expect(canaryOf(recs)).toMatchObject({ lost: 0, expired: 0 });
  expect(a.err()).not.toMatch(/no-quorum/);
  // Every server runs what the run that holds the lock now asked for.
  expect(await confValues()).toEqual(["72", "72", "72"]);
  const again = await runCli(["apply", "-i", withCnxns(72), "--yes", "--json"], t.env);
  expect(again.code, again.err).toBe(0);
}, 420_000);
