// An undo is gated like any other step, and a check tells its own server's
// failure from another's. The leader frozen (SIGSTOP) right after the roll
// stopped its first server: the restarted server and the third one elect a
// new leader and serve, so the check times out only because the frozen one
// answers nothing. The run must halt naming the frozen server, never stop
// the restarted one (which would leave 1 of 3), and once thawed, resume
// finishes the roll.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { labFault } from "../../lab/lab.js";
import { runCli } from "../helpers/cli.js";
import { canaryWorkers, deriveInventory, fourLetterWord, modeOf, pollUntil, useTestLab } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";
import { zkCli } from "../helpers/zkcli.js";

const t = useTestLab("undo-gated", subnet("undo-gated"));

/**
 * The lab's inventory with `config` laid over a quicker failure detection: followers give up on a frozen leader
 * after syncLimit x tickTime = 2 s instead of 10 s. With 10 s, the election the freeze itself forces ends so late
 * that a canary client (10 s sessions) which tries the frozen server again on its way round the connect string
 * can come back after its session expired, whatever zkfleet does (seen here: 1 of 3 runs, its gap 33.8 s).
 */
const inventory = (name: string, config: Record<string, unknown> = {}) => deriveInventory(t.lab, name, { config: { tickTime: 1000, syncLimit: 2, ...config } });

interface Rec { event: string; [k: string]: unknown }

/** The records of the newest run of the lab's ensemble. */
function newestRun(): Rec[] {
  const dir = join(t.env.ZKFLEET_JOURNAL!, "lab");
  const file = readdirSync(dir).filter((f) => f.endsWith(".jsonl")).sort().at(-1)!;
  return readFileSync(join(dir, file), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Rec);
}

it("the leader frozen during a roll: the run halts naming it, the restarted server is never stopped again, quorum holds; thawed, resume finishes", async () => {
  const up = await runCli(["apply", "-i", inventory("fast.yml"), "--yes"], t.env);
  expect(up.code, up.err).toBe(2);
  const status = JSON.parse((await runCli(["status", "-i", t.lab.inventory, "--json"], t.env)).out);
  const leader: string = status.ensembles[0].leader;
  expect(leader).toBeDefined();
  const change = inventory("cnxns-71.yml", { maxClientCnxns: 71 });

  const child = spawn("node", [join(packageRoot(), "bin/zkfleet.js"), "apply", "-i", change, "--yes", "--settle-timeout", "45"], { env: { ...process.env, ...t.env } });
  let out = "";
  let err = "";
  let frozen: Promise<string> | undefined;
  let first: string | undefined;
  child.stdout.on("data", (d) => {
    out += d;
    // The roll's first stop is done (a follower: the leader goes last): freeze the leader now.
    const stopped = /^ {2}changed (\S+): stop ZooKeeper/m.exec(out);
    if (stopped && !frozen) {
      first = stopped[1];
      frozen = labFault("freeze", leader, t.dir);
    }
  });
  child.stderr.on("data", (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  try {
    await frozen;
    expect(first, out).toBeDefined();
    expect(first).not.toBe(leader);
    const recs = newestRun();
    const events = recs.map((r) => r.event);
    expect(code, err).toBe(4);
    // No undo: the server that came back serves, and stopping it would leave one of three.
    expect(events).not.toContain("undo-start");
    expect(recs.filter((r) => r.event === "step-start" && r.kind === "stop").map((r) => r.host)).toEqual([first]);
    // The run names the frozen server and says what to do.
    expect(err).toMatch(new RegExp(`${first} came back and serves \\(.*\\), but ${leader} failed during its check: ` +
      `${leader}: ZooKeeper accepts connections on its client port but answers nothing \\(frozen or overloaded\\?\\); ${first} is left as it is`));
    expect(err).toMatch(new RegExp(`fix: .*${leader}.*zkfleet runs resume \\S+\` checks ${first} first`));
    // Frozen is not stopped: never "not running", however many looks and client retries filled its accept queue.
    expect(err).not.toMatch(new RegExp(`${leader}: ZooKeeper is not running`));
    // status says the same of it (it said "not running" once the frozen process's accept queue was full).
    const frozenStatus = JSON.parse((await runCli(["status", "-i", t.lab.inventory, "--json"], t.env)).out);
    expect(frozenStatus.ensembles[0].problems).toContain(`${leader}: ZooKeeper accepts connections on its client port but answers nothing (frozen or overloaded?)`);
    // The restarted server still serves (with the third), while the leader is still frozen.
    expect(modeOf(await fourLetterWord(t.lab.hosts.find((h) => h.name === first)!.address, 2181, "srvr"))).toMatch(/^(leader|follower)$/);
    const canary = recs.find((r) => r.event === "canary")?.report as { total: Record<string, number | null> } | undefined;
    expect(canary?.total, JSON.stringify(canary)).toMatchObject({ lost: 0, expired: 0 });
    expect(canary!.total.ops).toBeGreaterThan(20);
    console.log(`canary while ${leader} was frozen: ${JSON.stringify(canary!.total)}`);
  } finally {
    await labFault("thaw", leader, t.dir);
  }

  // Thawed: the halted run is resumed and finishes, at quorum throughout.
  const run = (JSON.parse((await runCli(["runs", "--json"], t.env)).out) as { run: string }[]).at(-1)!.run;
  const resumed = await runCli(["runs", "resume", run, "--yes", "--json"], t.env);
  expect(resumed.code, resumed.err).toBe(2);
  const json = JSON.parse(resumed.out);
  // The server the halted run started is checked before anything else, its undo behind the check (not needed).
  expect(json.stages[0]).toMatchObject({ title: `check ${first}, started by run ${run} and never seen serving`, resumes: first });
  expect(json.results[0]).toMatchObject({ kind: "await_healthy", message: expect.stringContaining(`${first} caught up`) });
  expect(json.final.verdict).toBe("healthy");
  expect(json.canary.total).toMatchObject({ lost: 0, expired: 0 });
  const again = await runCli(["apply", "-i", change, "--yes"], t.env);
  expect(again.code, again.err).toBe(0);
}, 300_000);

it("Ctrl-C between a server's start and its check: the run says it was not checked, and runs resume checks it before anything else", async () => {
  const change = inventory("cnxns-72.yml", { maxClientCnxns: 72 });
  const child = spawn("node", [join(packageRoot(), "bin/zkfleet.js"), "apply", "-i", change, "--yes"], { env: { ...process.env, ...t.env } });
  let out = "";
  let err = "";
  let started: string | undefined;
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => {
    err += d;
    // While the roll's first start runs: the executor finishes that step, then stops before the check.
    const m = /^ {2}\.\.\. (\S+): start ZooKeeper/m.exec(err);
    if (m && !started) {
      started = m[1];
      child.kill("SIGINT");
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  expect(started, out).toBeDefined();
  expect(code, err).toBe(130);
  expect(err).toMatch(new RegExp(`interrupted before step \\d+ \\(await_healthy on \\*\\); every earlier step finished; ${started} was started and has not been checked yet`));
  expect(err).toMatch(new RegExp(`run \`zkfleet runs resume \\S+\`: it checks ${started} before anything else`));

  const run = (JSON.parse((await runCli(["runs", "--json"], t.env)).out) as { run: string }[]).at(-1)!.run;
  const resumed = await runCli(["runs", "resume", run, "--yes", "--json"], t.env);
  expect(resumed.code, resumed.err).toBe(2);
  const json = JSON.parse(resumed.out);
  expect(json.stages[0]).toMatchObject({ title: `check ${started}, started by run ${run} and never seen serving`, resumes: started });
  expect(json.stages[0].undo[0]).toMatchObject({ kind: "await_healthy", role: "gate", quorumWithout: started });
  expect(json.results[0]).toMatchObject({ index: 0, kind: "await_healthy", message: expect.stringContaining(`${started} caught up`) });
  expect(json.final.verdict).toBe("healthy");
  expect(json.canary.total).toMatchObject({ lost: 0, expired: 0 });
  const again = await runCli(["apply", "-i", change, "--yes"], t.env);
  expect(again.code, again.err).toBe(0);
}, 300_000);

it("a run that halts while a canary client is gone says its figures are unknown too, with the halt's own exit code", async () => {
  const up = await runCli(["apply", "-i", inventory("cnxns-72.yml", { maxClientCnxns: 72 }), "--yes"], t.env);
  expect([0, 2], up.err).toContain(up.code);
  const status = JSON.parse((await runCli(["status", "-i", t.lab.inventory, "--json"], t.env)).out);
  const follower: string = status.ensembles[0].hosts.find((h: { mode?: string }) => h.mode === "follower").host;
  await labFault("freeze", follower, t.dir);
  try {
    // In this process, so that its canary's clients are this process's children; the gate refuses after 30 s.
    const running = runCli(["apply", "-i", inventory("cnxns-73.yml", { maxClientCnxns: 73 }), "--yes", "--gate-timeout", "30"], t.env);
    // A client that has written is past the canary's start (one killed before would stop the canary from starting).
    const leader = `${t.lab.hosts.find((h) => h.name === status.ensembles[0].leader)!.address}:2181`;
    const victim = await pollUntil(async () => {
      const pinned = canaryWorkers().filter((w) => w.label !== "all");
      if (pinned.length === 0) return undefined;
      const tree = await zkCli(leader, ["ls -R /zkfleet-canary"]);
      return pinned.find((w) => new RegExp(`^/zkfleet-canary/[^/]+/${w.label}/w-`, "m").test(tree));
    }, 20_000, 200);
    expect(victim).toBeDefined();
    process.kill(victim!.pid, "SIGKILL");
    const r = await running;
    expect(r.code, r.err).toBe(5);
    expect(r.err).toMatch(new RegExp(`not going on: .*${follower}: ZooKeeper accepts connections on its client port but answers nothing.*` +
      `; and the canary's figures are unknown \\(canary client ${victim!.label} exited \\(SIGKILL\\) without its report`));
  } finally {
    await labFault("thaw", follower, t.dir);
  }
}, 300_000);
