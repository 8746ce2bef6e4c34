// Two controllers and a killed one. A second apply while one runs is refused,
// naming the run that holds the ensemble's lock. The controller killed with
// SIGKILL in the middle of a configuration roll leaves its lock: a plain
// apply is refused, `runs` shows the run with no end record, and
// `runs resume` sees every server that does not run what its files say (a
// pending restart) and finishes the roll; afterwards every server reports
// the new value itself (`conf`), not only its file.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { packageRoot } from "../../common/paths.js";
import { runCli } from "../helpers/cli.js";
import { canaryWorkers, fourLetterWord, pollUntil, useTestLab } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("killed-roll", subnet("killed-roll"));

async function confValue(address: string, key: string): Promise<string | undefined> {
  const conf = await fourLetterWord(address, 2181, "conf");
  return new RegExp(`^${key}=(.*)$`, "m").exec(conf)?.[1];
}

function withCnxns(n: number): string {
  const path = join(t.lab.dir, `cnxns-${n}.yml`);
  const inv = parseYaml(readFileSync(t.lab.inventory, "utf8")) as { zookeeper: Record<string, unknown> };
  writeFileSync(path, toYaml({ ...inv, zookeeper: { ...inv.zookeeper, config: { maxClientCnxns: n } } }));
  return path;
}

it("a second apply while one runs is refused, naming the run and controller that hold the lock", async () => {
  const first = await runCli(["apply", "-i", t.lab.inventory, "--yes"], t.env);
  expect(first.code, first.err).toBe(2);
  const child = spawn("node", [join(packageRoot(), "bin/zkfleet.js"), "apply", "-i", withCnxns(66), "--yes"], { env: { ...process.env, ...t.env } });
  let out = "";
  const second = new Promise<Awaited<ReturnType<typeof runCli>>>((resolve) => {
    child.stdout.on("data", (d) => {
      if (out === "" ) void runCli(["apply", "-i", withCnxns(67), "--yes"], t.env).then(resolve);
      out += d;
    });
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const refused = await second;
  expect(code, out).toBe(2);
  expect(refused.code, refused.err).toBe(5);
  expect(refused.err).toMatch(new RegExp(`ensemble lab is locked by run \\S+ \\(\\S+@\\S+ pid ${child.pid}\\) since \\S+; nothing was changed`));
  expect(refused.err).toContain("zkfleet runs resume");
}, 240_000);

it("after SIGKILL right after a zoo.cfg was written, runs resume restarts what is pending and converges", async () => {
  const changed = withCnxns(77);
  const child = spawn("node", [join(packageRoot(), "bin/zkfleet.js"), "apply", "-i", changed, "--yes"], { env: { ...process.env, ...t.env } });
  let out = "";
  let killed = false;
  child.stdout.on("data", (d) => {
    out += d;
    // The first zoo.cfg written (its server not yet restarted): pull the plug on the controller.
    if (!killed && /^ {2}changed \S+: update \/etc\/zookeeper\/conf\/zoo\.cfg/m.test(out)) {
      killed = true;
      child.kill("SIGKILL");
    }
  });
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_code, sig) => resolve(sig)));
  expect(killed, out).toBe(true);
  expect(signal).toBe("SIGKILL");

  const written = /^ {2}changed (\S+): update \/etc\/zookeeper\/conf\/zoo\.cfg/m.exec(out)![1]!;
  const writtenAddress = t.lab.hosts.find((h) => h.name === written)!.address;
  // Wherever the kill landed, some server does not run maxClientCnxns=77 yet.
  const before = await Promise.all(t.lab.hosts.map((h) => confValue(h.address, "maxClientCnxns")));
  expect(before.some((v) => v !== "77"), `conf before: ${before.join(",")}`).toBe(true);

  // The killed run still holds the lock: a plain apply is refused and says how to go on.
  const blocked = await runCli(["apply", "-i", changed, "--yes"], t.env);
  expect(blocked.code, blocked.err).toBe(5);
  const runs = JSON.parse((await runCli(["runs", "--json"], t.env)).out) as { run: string; outcome: string }[];
  const killedRun = runs.at(-1)!;
  expect(killedRun.outcome).toBe("no end record (controller killed?)");
  expect(blocked.err).toContain(`locked by run ${killedRun.run}`);

  const again = await runCli(["runs", "resume", killedRun.run, "--yes", "--json"], t.env);
  expect(again.code, again.err).toBe(2);
  const json = JSON.parse(again.out);
  expect(json.final.verdict).toBe("healthy");
  const stepsOn = (host: string) => (json.steps as { kind: string; host: string; reason: string }[]).filter((s) => s.host === host);
  console.log(`killed with ${written} at maxClientCnxns=${before[t.lab.hosts.findIndex((h) => h.name === written)]}`);
  const writtenBefore = before[t.lab.hosts.findIndex((h) => h.name === written)];
  if (writtenBefore !== undefined && writtenBefore !== "77") {
    // Killed before its stop: its file is new, its server old. Only the pending restart shows it.
    expect(stepsOn(written).map((s) => s.kind)).toEqual(["stop", "start"]);
    expect(stepsOn(written)[0]!.reason).toMatch(/^a restart is pending: \/etc\/zookeeper\/conf\/zoo\.cfg changed after the server started/);
  } else {
    // Killed after its stop: it is down and is started with its new file.
    expect(await confValue(writtenAddress, "maxClientCnxns")).toBe("77");
  }
  const after = await pollUntil(async () => {
    const values = await Promise.all(t.lab.hosts.map((h) => confValue(h.address, "maxClientCnxns")));
    return values.every((v) => v === "77") ? values : undefined;
  }, 30_000);
  expect(after, "every server reports maxClientCnxns=77 itself").toEqual(["77", "77", "77"]);

  // Done: the lock is released, and nothing is left to do.
  const third = await runCli(["apply", "-i", changed, "--yes", "--json"], t.env);
  expect(third.code, third.err).toBe(0);
  const listed = JSON.parse((await runCli(["runs", "--json"], t.env)).out) as { run: string; outcome: string; command: string }[];
  expect(listed.find((r) => r.command === "resume")?.outcome).toBe("done");
}, 240_000);

it("a canary client that crashes never stops the run, but its figures are unknown, not 0: the run finishes its steps and exits 4 saying so", async () => {
  const running = runCli(["apply", "-i", withCnxns(55), "--yes", "--json"], t.env);
  // Once the run acts (a step other than a health wait has started: a gate may look while the canary starts), the
  // canary is past its start: then kill one of its clients.
  const journalDir = join(t.env.ZKFLEET_JOURNAL!, "lab");
  const acting = () => readdirSync(journalDir).some((f) => {
    const text = readFileSync(join(journalDir, f), "utf8");
    return text.includes("maxClientCnxns=55") && /"event":"step-start","index":\d+,"kind":"(?!await_healthy")/.test(text);
  });
  const victim = await pollUntil(async () => (acting() ? canaryWorkers().find((w) => w.label !== "all") : undefined), 60_000, 100);
  expect(victim).toBeDefined();
  process.kill(victim!.pid, "SIGKILL");
  const r = await running;
  expect(r.code, r.err).toBe(4);
  expect(r.err).toMatch(new RegExp(`every step ran, but the canary's figures are unknown \\(canary client ${victim!.label} exited \\(SIGKILL\\) without its report\\)`));
  const recs = readFileSync(join(journalDir, readdirSync(journalDir).filter((f) => readFileSync(join(journalDir, f), "utf8").includes("maxClientCnxns=55")).sort().at(-1)!), "utf8")
    .trim().split("\n").map((l) => JSON.parse(l) as { event: string; report?: { total: Record<string, unknown>; clients: { label: string; problem?: string }[] } });
  expect(recs.map((x) => x.event)).toContain("done");
  const report = recs.find((x) => x.event === "canary")!.report!;
  expect(report.clients.find((c) => c.label === victim!.label)!.problem).toMatch(/exited \(SIGKILL\) without its report/);
  // The victim's acknowledged writes were never checked: lost is unknown. The others' lost none.
  expect(report.total.lost).toBeNull();
  expect(report.clients.filter((c) => c.label !== victim!.label).map((c) => (c as unknown as { lost: number }).lost)).toEqual([0, 0, 0]);
  expect(canaryWorkers()).toEqual([]);
}, 240_000);
