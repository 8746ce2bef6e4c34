// status on a server that is alive but frozen: it must say so, not hang; and
// --write-probe, which tells an ensemble that commits from one whose leader
// still says "leader" but has no quorum behind it.
import { beforeAll, expect, it } from "vitest";
import { ExitCode } from "../../common/errors.js";
import { labFault } from "../../lab/lab.js";
import type { FleetStatus } from "../../controller/usecases/status.js";
import { runCli } from "../helpers/cli.js";
import { zkCli } from "../helpers/zkcli.js";
import { pollUntil, useTestLab } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("status-frozen-test", subnet("status-frozen"));

beforeAll(async () => {
  expect((await runCli(["apply", "-i", t.lab.inventory, "--yes"], t.env)).code).toBe(ExitCode.changed);
}, 180_000);

async function status(...more: string[]): Promise<{ code: number; s: FleetStatus }> {
  const r = await runCli(["status", "-i", t.lab.inventory, "--json", ...more], t.env);
  return { code: r.code, s: JSON.parse(r.out) as FleetStatus };
}

it("reports a frozen follower as answering nothing, and healthy again once thawed", async () => {
  const before = await status();
  const follower = before.s.ensembles[0]!.hosts.find((h) => h.mode === "follower")!.host;
  await labFault("freeze", follower, t.dir);
  try {
    const frozen = await status();
    expect(frozen.code).toBe(ExitCode.failed);
    expect(frozen.s.ensembles[0]!.verdict).toBe("degraded");
    expect(frozen.s.ensembles[0]!.problems).toContain(
      `${follower}: ZooKeeper accepts connections on its client port but answers nothing (frozen or overloaded?)`);
  } finally {
    await labFault("thaw", follower, t.dir);
  }
  const healthy = await pollUntil(async () => ((await status()).s.ensembles[0]!.verdict === "healthy" ? true : undefined), 60_000);
  expect(healthy).toBe(true);
}, 180_000);

it("--write-probe: a write commits and leaves nothing; with both followers frozen the leader still says leader, and no write commits", async () => {
  const ok = await status("--write-probe");
  expect(ok.code).toBe(ExitCode.ok);
  const commit = ok.s.ensembles[0]!.commit!;
  expect(commit).toMatchObject({ committed: true, path: expect.stringMatching(/^\/zkfleet-probe-\d{10}$/) });
  const leader = ok.s.ensembles[0]!.leader!;
  const leaderAddress = ok.s.ensembles[0]!.hosts.find((h) => h.host === leader)!.address;
  expect(await zkCli(`${leaderAddress}:2181`, ["ls /"])).not.toMatch(/zkfleet-probe/);
  const human = await runCli(["status", "-i", t.lab.inventory, "--write-probe"], t.env);
  expect(human.out).toMatch(/^ {2}OK: leader .*\n {2}a write committed in \d+ ms$/m);

  const followers = ok.s.ensembles[0]!.hosts.filter((h) => h.mode === "follower").map((h) => h.host);
  expect(followers).toHaveLength(2);
  for (const f of followers) await labFault("freeze", f, t.dir);
  try {
    // Within syncLimit x tickTime (10 s) of losing its followers the leader goes on saying so.
    const stuck = await status("--write-probe");
    expect(stuck.code).toBe(ExitCode.failed);
    expect(stuck.s.ensembles[0]!.leader).toBe(leader);
    expect(stuck.s.ensembles[0]!.commit).toMatchObject({ committed: false, error: expect.stringMatching(/no write committed within 5s|connection|session|closing/i) });
  } finally {
    for (const f of followers) await labFault("thaw", f, t.dir);
  }
  const healthy = await pollUntil(async () => ((await status("--write-probe")).s.ensembles[0]!.commit?.committed ? true : undefined), 90_000);
  expect(healthy).toBe(true);
}, 180_000);
