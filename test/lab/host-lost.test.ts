// A host powered off in the middle of a roll: the next gate sees it as
// unreachable (not as a frozen server behind a connection that is gone),
// refuses to stop another server, and the ensemble keeps its quorum. Once
// the host is back, the run is resumed: the lock it could not release on the
// host that was off says so, and `runs resume` finishes the roll.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { packageRoot } from "../../common/paths.js";
import { labFault } from "../../lab/lab.js";
import { runCli } from "../helpers/cli.js";
import { useTestLab } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("host-lost", subnet("host-lost"));

it("stops at the next gate naming the lost host unreachable; quorum holds; apply finishes once it is back", async () => {
  const first = await runCli(["apply", "-i", t.lab.inventory, "--yes"], t.env);
  expect(first.code, first.err).toBe(2);
  const changed = join(t.lab.dir, "changed.yml");
  const inv = parseYaml(readFileSync(t.lab.inventory, "utf8")) as { zookeeper: Record<string, unknown> };
  writeFileSync(changed, toYaml({ ...inv, zookeeper: { ...inv.zookeeper, config: { maxClientCnxns: 88 } } }));

  const child = spawn("node", [join(packageRoot(), "bin/zkfleet.js"), "apply", "-i", changed, "--yes", "--gate-timeout", "15"], {
    env: { ...process.env, ...t.env },
  });
  let out = "";
  let err = "";
  let victim: string | undefined;
  const poweredOff: Promise<string>[] = [];
  child.stdout.on("data", (d) => {
    out += d;
    // When the first server has been rolled and checked, pull the plug on the next one in line.
    if (victim === undefined && /^ {2}ok {6}settle: /m.test(out)) {
      victim = / stage 2\/3: roll (\S+) \(follower\)/.exec(out)?.[1] ?? "none";
      if (victim !== "none") poweredOff.push(labFault("power-off", victim, t.lab.dir));
    }
  });
  child.stderr.on("data", (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  await Promise.all(poweredOff);

  expect(victim, out).toMatch(/^zk\d$/);
  // The gate before the victim's stop now passes in tens of milliseconds, so the plug can be pulled
  // either before it (the gate refuses: exit 5, the host named unreachable) or on the write right
  // after it (exit 4, the connection to that host lost). Either way nothing of the victim changed.
  expect([4, 5], `${out}\n${err}`).toContain(code);
  if (code === 5) expect(err).toMatch(new RegExp(`not going on: .*${victim}: unreachable`));
  else expect(err).toMatch(new RegExp(`connection to ${victim} \\(.*\\) was lost`));
  expect(err).not.toMatch(/frozen or overloaded/);
  // Nothing was done to the lost host, and the other two still form the ensemble.
  expect(out).not.toMatch(new RegExp(`changed ${victim}:`));
  const status = JSON.parse((await runCli(["status", "-i", changed, "--json"], t.env)).out);
  expect(status.ensembles[0].verdict).toBe("degraded");
  expect(status.ensembles[0].votersUp).toBe(2);

  await labFault("power-on", victim!, t.lab.dir);
  // Its lock could not be released on the host that was off: apply says which run holds it.
  const blocked = await runCli(["apply", "-i", changed, "--yes"], t.env);
  expect(blocked.code, blocked.err).toBe(5);
  const run = /locked by run (\S+)/.exec(blocked.err)?.[1];
  expect(run, blocked.err).toBeDefined();
  const again = await runCli(["runs", "resume", run!, "--yes", "--json"], t.env);
  expect(again.code, again.err).toBe(2);
  expect(JSON.parse(again.out).final.verdict).toBe("healthy");
}, 240_000);
