// status on a server that is alive but frozen: it must say so, not hang.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ExitCode } from "../../controller/errors.js";
import { type LabState, labDown, labFault, labUp } from "../../controller/lab/lab.js";
import type { FleetStatus } from "../../controller/commands/status.js";
import { runCli } from "../helpers/cli.js";
import { pollUntil, testLabDir } from "../helpers/lab.js";

const DIR = testLabDir("status-frozen-test");
const JOURNAL = mkdtempSync(join(tmpdir(), "zkfleet-status-frozen-"));
const env = { ZKFLEET_JOURNAL: JOURNAL };
let lab: LabState;

beforeAll(async () => {
  if (existsSync(join(DIR, "lab.json"))) await labDown(DIR);
  lab = await labUp({ hosts: 3, dir: DIR, subnet: "127.87.0" });
  expect((await runCli(["apply", "-i", lab.inventory, "--yes"], env)).code).toBe(ExitCode.changed);
}, 180_000);

afterAll(async () => {
  if (existsSync(join(DIR, "lab.json"))) await labDown(DIR);
  rmSync(JOURNAL, { recursive: true, force: true });
});

async function status(): Promise<{ code: number; s: FleetStatus }> {
  const r = await runCli(["status", "-i", lab.inventory, "--json"], env);
  return { code: r.code, s: JSON.parse(r.out) as FleetStatus };
}

it("reports a frozen follower as answering nothing, and healthy again once thawed", async () => {
  const before = await status();
  const follower = before.s.ensembles[0]!.hosts.find((h) => h.mode === "follower")!.host;
  await labFault("freeze", follower, DIR);
  try {
    const frozen = await status();
    expect(frozen.code).toBe(ExitCode.failed);
    expect(frozen.s.ensembles[0]!.verdict).toBe("degraded");
    expect(frozen.s.ensembles[0]!.problems).toContain(
      `${follower}: ZooKeeper accepts connections on its client port but answers nothing (frozen or overloaded?)`);
  } finally {
    await labFault("thaw", follower, DIR);
  }
  const healthy = await pollUntil(async () => ((await status()).s.ensembles[0]!.verdict === "healthy" ? true : undefined), 60_000);
  expect(healthy).toBe(true);
}, 180_000);
