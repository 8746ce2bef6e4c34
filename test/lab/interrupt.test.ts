// Ctrl-C during apply stops between steps, says where, journals it, and a
// second apply finishes the job from what it observes.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { runCli } from "../helpers/cli.js";
import { useTestLab } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("interrupt-test", subnet("interrupt"));

it("stops at a safe point on SIGINT and a second apply completes", async () => {
  const child = spawn("node", [join(packageRoot(), "bin/zkfleet.js"), "apply", "-i", t.lab.inventory, "--yes"], {
    env: { ...process.env, ...t.env },
  });
  let out = "";
  let err = "";
  let sent = false;
  child.stdout.on("data", (d) => {
    out += d;
    // Interrupt as soon as the first step has finished.
    if (!sent && /^ {2}(changed|ok)/m.test(out)) {
      sent = true;
      child.kill("SIGINT");
    }
  });
  child.stderr.on("data", (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));

  expect(sent).toBe(true);
  // Steps ran: not "invalid input, nothing touched" (3) but interrupted (130, as shells report SIGINT).
  expect(code).toBe(130);
  expect(err).toMatch(/interrupted before step \d+ .*every earlier step finished/);
  expect(err).toContain("run apply again");
  const [journalFile] = readdirSync(join(t.env.ZKFLEET_JOURNAL!, "lab"));
  const events = readFileSync(join(t.env.ZKFLEET_JOURNAL!, "lab", journalFile!), "utf8").trim().split("\n").map((l) => JSON.parse(l).event);
  expect(events).toContain("interrupted");
  // Every step that started also finished: the stop came between steps.
  expect(events.filter((e) => e === "step-start").length).toBe(events.filter((e) => e === "step-done").length);

  const again = await runCli(["apply", "-i", t.lab.inventory, "--yes", "--json"], t.env);
  expect(again.code).toBe(2);
  expect(JSON.parse(again.out).final.verdict).toBe("healthy");
}, 180_000);
