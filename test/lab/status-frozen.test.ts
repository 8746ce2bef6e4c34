// status on a server that is alive but frozen: it must say so, not hang.
import { beforeAll, expect, it } from "vitest";
import { ExitCode } from "../../common/errors.js";
import { labFault } from "../../lab/lab.js";
import type { FleetStatus } from "../../controller/commands/status.js";
import { runCli } from "../helpers/cli.js";
import { pollUntil, useTestLab } from "../helpers/lab.js";

const t = useTestLab("status-frozen-test", "127.87.0");

beforeAll(async () => {
  expect((await runCli(["apply", "-i", t.lab.inventory, "--yes"], t.env)).code).toBe(ExitCode.changed);
}, 180_000);

async function status(): Promise<{ code: number; s: FleetStatus }> {
  const r = await runCli(["status", "-i", t.lab.inventory, "--json"], t.env);
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
