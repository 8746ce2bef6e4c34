// A line outside zkfleet's /etc/hosts block that maps an ensemble name to
// another address would win over the block; apply refuses before touching anything.
import { expect, it } from "vitest";
import { ExitCode } from "../../common/errors.js";
import { runCli } from "../helpers/cli.js";
import { sshRun, useTestLab } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("hosts-conflict-test", subnet("hosts-conflict"));

it("refuses when /etc/hosts maps an ensemble name elsewhere, naming host, line and fix, and changes nothing", async () => {
  await sshRun(t.lab, "zk2", "printf '127.0.1.1\\tzk2\\n' >> /etc/hosts");
  const hostsBefore = (await sshRun(t.lab, "zk2", "cat /etc/hosts")).stdout;

  const r = await runCli(["apply", "-i", t.lab.inventory, "--yes"], t.env);
  expect(r.code).toBe(ExitCode.unsafe);
  expect(r.err).toMatch(/zk2: \/etc\/hosts:4 "127\.0\.1\.1\s+zk2" maps zk2, which the ensemble needs at 127\.86\.0\.12/);
  expect(r.err).toContain("remove or correct those lines");
  // Nothing of ZooKeeper anywhere (the agent's own cache in /opt/zkfleet is allowed).
  for (const h of ["zk1", "zk2", "zk3"]) {
    const left = await sshRun(t.lab, h, "for p in /opt/zookeeper /etc/zookeeper /var/lib/zookeeper/myid; do test -e $p && echo $p; done; grep -c 'BEGIN zkfleet' /etc/hosts || true");
    expect(left.stdout.trim()).toBe("0");
  }
  expect((await sshRun(t.lab, "zk2", "cat /etc/hosts")).stdout).toBe(hostsBefore);

  // With the line removed, apply goes ahead.
  await sshRun(t.lab, "zk2", "sed -i '/^127.0.1.1/d' /etc/hosts");
  const ok = await runCli(["apply", "-i", t.lab.inventory, "--yes", "--json"], t.env);
  expect(ok.code).toBe(ExitCode.changed);
  expect(JSON.parse(ok.out).final.verdict).toBe("healthy");
}, 180_000);
