// Ctrl-C during apply stops between steps, says where, journals it, and a
// second apply finishes the job from what it observes.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type LabState, labDown, labUp } from "../../controller/lab/lab.js";
import { packageRoot } from "../../controller/paths.js";
import { runCli } from "../helpers/cli.js";
import { testLabDir } from "../helpers/lab.js";

const DIR = testLabDir("interrupt-test");
const JOURNAL = mkdtempSync(join(tmpdir(), "zkfleet-interrupt-"));
let lab: LabState;

beforeAll(async () => {
  if (existsSync(join(DIR, "lab.json"))) await labDown(DIR);
  lab = await labUp({ hosts: 3, dir: DIR, subnet: "127.85.0" });
});

afterAll(async () => {
  if (existsSync(join(DIR, "lab.json"))) await labDown(DIR);
  rmSync(JOURNAL, { recursive: true, force: true });
});

it("stops at a safe point on SIGINT and a second apply completes", async () => {
  const child = spawn("node", [join(packageRoot(), "bin/zkfleet.js"), "apply", "-i", lab.inventory, "--yes"], {
    env: { ...process.env, ZKFLEET_JOURNAL: JOURNAL },
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
  expect(code).toBe(3);
  expect(err).toMatch(/interrupted before step \d+ .*every earlier step finished/);
  expect(err).toContain("run apply again");
  const [journalFile] = readdirSync(join(JOURNAL, "lab"));
  const events = readFileSync(join(JOURNAL, "lab", journalFile!), "utf8").trim().split("\n").map((l) => JSON.parse(l).event);
  expect(events).toContain("interrupted");
  // Every step that started also finished: the stop came between steps.
  expect(events.filter((e) => e === "step-start").length).toBe(events.filter((e) => e === "step-done").length);

  const again = await runCli(["apply", "-i", lab.inventory, "--yes", "--json"], { ZKFLEET_JOURNAL: JOURNAL });
  expect(again.code).toBe(2);
  expect(JSON.parse(again.out).final.verdict).toBe("healthy");
}, 180_000);
