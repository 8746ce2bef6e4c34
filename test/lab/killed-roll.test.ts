// The controller killed with SIGKILL in the middle of a configuration roll:
// the next apply sees every server that does not run what its files say (a
// pending restart) and finishes the roll, leader last; afterwards every
// server reports the new value itself (`conf`), not only its file.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { packageRoot } from "../../common/paths.js";
import { runCli } from "../helpers/cli.js";
import { fourLetterWord, pollUntil, useTestLab } from "../helpers/lab.js";

const t = useTestLab("killed-roll", "127.80.1");

async function confValue(address: string, key: string): Promise<string | undefined> {
  const conf = await fourLetterWord(address, 2181, "conf");
  return new RegExp(`^${key}=(.*)$`, "m").exec(conf)?.[1];
}

it("after SIGKILL right after a zoo.cfg was written, the next apply restarts what is pending and converges", async () => {
  const first = await runCli(["apply", "-i", t.lab.inventory, "--yes"], t.env);
  expect(first.code, first.err).toBe(2);
  const changed = join(t.lab.dir, "changed.yml");
  const inv = parseYaml(readFileSync(t.lab.inventory, "utf8")) as { zookeeper: Record<string, unknown> };
  writeFileSync(changed, toYaml({ ...inv, zookeeper: { ...inv.zookeeper, config: { maxClientCnxns: 77 } } }));

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

  const again = await runCli(["apply", "-i", changed, "--yes", "--json"], t.env);
  expect(again.code, again.err).toBe(2);
  const json = JSON.parse(again.out);
  expect(json.final.verdict).toBe("healthy");
  const stepsOn = (host: string) => (json.steps as { kind: string; host: string; reason: string }[]).filter((s) => s.host === host);
  console.log(`killed with ${written} at maxClientCnxns=${before[t.lab.hosts.findIndex((h) => h.name === written)]}`);
  if (before[t.lab.hosts.findIndex((h) => h.name === written)] === "60") {
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

  const third = await runCli(["apply", "-i", changed, "--yes", "--json"], t.env);
  expect(third.code, third.err).toBe(0);
}, 240_000);
