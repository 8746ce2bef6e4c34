// A line outside zkfleet's /etc/hosts block that maps an ensemble name to
// another address would win over the block; apply refuses before touching anything.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ExitCode } from "../../controller/errors.js";
import { type LabState, labDown, labUp } from "../../controller/lab/lab.js";
import { runCli } from "../helpers/cli.js";
import { sshRun, testLabDir } from "../helpers/lab.js";

const DIR = testLabDir("hosts-conflict-test");
const JOURNAL = mkdtempSync(join(tmpdir(), "zkfleet-hosts-conflict-"));
let lab: LabState;

beforeAll(async () => {
  if (existsSync(join(DIR, "lab.json"))) await labDown(DIR);
  lab = await labUp({ hosts: 3, dir: DIR, subnet: "127.86.0" });
});

afterAll(async () => {
  if (existsSync(join(DIR, "lab.json"))) await labDown(DIR);
  rmSync(JOURNAL, { recursive: true, force: true });
});

it("refuses when /etc/hosts maps an ensemble name elsewhere, naming host, line and fix, and changes nothing", async () => {
  await sshRun(lab, "zk2", "printf '127.0.1.1\\tzk2\\n' >> /etc/hosts");
  const hostsBefore = (await sshRun(lab, "zk2", "cat /etc/hosts")).stdout;

  const r = await runCli(["apply", "-i", lab.inventory, "--yes"], { ZKFLEET_JOURNAL: JOURNAL });
  expect(r.code).toBe(ExitCode.unsafe);
  expect(r.err).toMatch(/zk2: \/etc\/hosts:4 "127\.0\.1\.1\s+zk2" maps zk2, which the ensemble needs at 127\.86\.0\.12/);
  expect(r.err).toContain("remove or correct those lines");
  // Nothing of ZooKeeper anywhere (the agent's own cache in /opt/zkfleet is allowed).
  for (const h of ["zk1", "zk2", "zk3"]) {
    const left = await sshRun(lab, h, "for p in /opt/zookeeper /etc/zookeeper /var/lib/zookeeper/myid; do test -e $p && echo $p; done; grep -c 'BEGIN zkfleet' /etc/hosts || true");
    expect(left.stdout.trim()).toBe("0");
  }
  expect((await sshRun(lab, "zk2", "cat /etc/hosts")).stdout).toBe(hostsBefore);

  // With the line removed, apply goes ahead.
  await sshRun(lab, "zk2", "sed -i '/^127.0.1.1/d' /etc/hosts");
  const ok = await runCli(["apply", "-i", lab.inventory, "--yes", "--json"], { ZKFLEET_JOURNAL: JOURNAL });
  expect(ok.code).toBe(ExitCode.changed);
  expect(JSON.parse(ok.out).final.verdict).toBe("healthy");
}, 180_000);
