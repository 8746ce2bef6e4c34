// The controller killed with SIGKILL at three points of a version change:
// during the push of the new release, in the middle of a server's restart
// (after its stop), and between two servers' restarts. Each time `runs
// resume` finishes the change; the ensemble keeps its quorum and its data
// (read back by zkCli), and the resumed run's canary loses nothing.
import { expect, it } from "vitest";
import { runCli, runKilledAt } from "../helpers/cli.js";
import { deriveInventory, useTestLab } from "../helpers/lab.js";
import { readNodes, writeNodes } from "../helpers/zkcli.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("upgrade-killed", subnet("upgrade-killed"), 3, "3.4.13");
const ENV = t.env;
const NODES = 20;
const inventoryFor = (version: string) => deriveInventory(t.lab, `inventory-${version}.yml`, { version });

/** Runs apply as its own process and kills it with SIGKILL as soon as a line of its output matches. */
async function applyKilledAt(inventory: string, at: RegExp): Promise<string> {
  const { out, signal } = await runKilledAt(["apply", "-i", inventory, "--yes"], ENV, at);
  expect(signal, `never reached ${at}:\n${out}`).toBe("SIGKILL");
  return out;
}

async function resumeLast(): Promise<{ canary: { total: { lost: number; expired: number } } | undefined; final: { verdict: string } }> {
  const runs = JSON.parse((await runCli(["runs", "--json"], ENV)).out) as { run: string; outcome: string }[];
  const killed = runs.at(-1)!;
  expect(killed.outcome).toBe("no end record (controller killed?)");
  const r = await runCli(["runs", "resume", killed.run, "--yes", "--json"], ENV);
  expect(r.code, r.err).toBe(2);
  return JSON.parse(r.out);
}

async function versions(inventory: string): Promise<string[]> {
  const s = JSON.parse((await runCli(["status", "-i", inventory, "--json"], ENV)).out);
  expect(s.ensembles[0].verdict).toBe("healthy");
  return s.ensembles[0].hosts.map((h: { version: string }) => h.version.split("-")[0]);
}

it("SIGKILL during the push, in the middle of a restart and between restarts: runs resume finishes each, nothing lost", async () => {
  const lab = t.lab;
  const first = await runCli(["apply", "-i", lab.inventory, "--yes"], ENV);
  expect(first.code, first.err).toBe(2);
  const server = `${lab.hosts[0]!.address}:2181`;
  await writeNodes(server, "/killed", NODES);
  const data = await readNodes(server, "/killed", NODES);

  // 1. During the push of 3.8.0: some hosts have it unpacked, none restarted.
  await applyKilledAt(inventoryFor("3.8.0"), /\.\.\. zk\d: unpack ZooKeeper 3\.8\.0/);
  let resumed = await resumeLast();
  expect(resumed.final.verdict).toBe("healthy");
  expect(resumed.canary?.total).toMatchObject({ lost: 0, expired: 0 });
  expect(await versions(inventoryFor("3.8.0"))).toEqual(["3.8.0", "3.8.0", "3.8.0"]);

  // 2. In the middle of a restart: a server stopped, not yet started on 3.9.3.
  await applyKilledAt(inventoryFor("3.9.3"), /^ {2}changed zk\d: stop ZooKeeper/m);
  resumed = await resumeLast();
  expect(resumed.final.verdict).toBe("healthy");
  expect(resumed.canary?.total).toMatchObject({ lost: 0, expired: 0 });
  expect(await versions(inventoryFor("3.9.3"))).toEqual(["3.9.3", "3.9.3", "3.9.3"]);

  // 3. Between two restarts (back to 3.8.0): one server done and checked, the others untouched.
  await applyKilledAt(inventoryFor("3.8.0"), /^ {2}ok {6}settle: .* caught up/m);
  resumed = await resumeLast();
  expect(resumed.final.verdict).toBe("healthy");
  expect(resumed.canary?.total).toMatchObject({ lost: 0, expired: 0 });
  expect(await versions(inventoryFor("3.8.0"))).toEqual(["3.8.0", "3.8.0", "3.8.0"]);

  expect(await readNodes(server, "/killed", NODES)).toEqual(data);
}, 480_000);
