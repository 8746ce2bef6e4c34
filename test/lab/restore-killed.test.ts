// A restore whose controller is killed (issue 8's interrupted form). SIGKILL
// as the backup's files go out to the members, before any server starts: another
// restore is refused, naming the run that holds the ensemble's lock and
// `runs resume`; the resume is killed in turn once one server has started on
// the restored data; a second resume finishes: it leaves what that run
// restored (the marker names the run) and restores the rest, starts every
// member, and the tree verifies, by zkfleet and by ZooKeeper's Java client
// on each member. 3.9.3.
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { labFault } from "../../lab/lab.js";
import { runCli } from "../helpers/cli.js";
import { sshRun, useTestLab } from "../helpers/lab.js";
import { writeNodes } from "../helpers/zkcli.js";
import { javaDigest } from "../data/independent.js";
import { connectOf, ensembleInventory, serverPid, srvr } from "./backup-scenario.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("restore-killed", subnet("restore-killed"), 6, "3.9.3");
const SRC = ["zk1", "zk2", "zk3"];
const DST = ["zk4", "zk5", "zk6"];

/** Runs the CLI as a process of its own and SIGKILLs it when its output matches `when`; its output and whether it was killed. */
function killWhen(args: string[], when: RegExp, act?: (out: string) => void): Promise<{ out: string; killed: boolean; code: number | null }> {
  const child = spawn("node", [join(packageRoot(), "bin/zkfleet.js"), ...args], { env: { ...process.env, ...t.env } });
  let out = "";
  let killed = false;
  const seen = (d: Buffer) => {
    out += d;
    if (!killed && when.test(out)) {
      killed = true;
      if (act) act(out);
      else child.kill("SIGKILL");
    }
  };
  child.stdout.on("data", seen);
  child.stderr.on("data", seen);
  return new Promise((resolve) => child.on("close", (code) => resolve({ out, killed, code })));
}

it("a restore killed twice is finished by runs resume, every member from the same backup", async () => {
  const src = ensembleInventory(t, "src", SRC);
  const dst = ensembleInventory(t, "dst", DST);
  expect((await runCli(["apply", "-i", src, "--yes"], t.env)).code).toBe(2);
  await writeNodes(connectOf(t, SRC), "/corpus", 200);
  const backup = join(t.lab.dir, "backup");
  const b = await runCli(["backup", "-i", src, "-o", backup], t.env);
  expect(b.code, b.err).toBe(0);

  // Killed as the first member's files start to go out (the push comes before the agent's op).
  const first = await killWhen(["restore", "-i", dst, "--from", backup, "--yes"], /^ {2}\.\.\. zk\d: move the data directory's state aside/m);
  expect(first.killed, first.out).toBe(true);
  const runs = await runCli(["runs", "--ensemble", "dst", "--json"], t.env);
  const list = JSON.parse(runs.out) as { run: string; command: string; outcome: string }[];
  expect(list.map((r) => `${r.command}:${r.outcome}`)).toEqual(["restore:no end record (controller killed?)"]);
  const id = list[0]!.run;
  const markedAtFirstKill = await Promise.all(DST.map(async (h) => (await sshRun(t.lab, h, "cat /opt/zkfleet/state/restore-dst.json 2>/dev/null")).stdout.includes(`"run":"${id}"`)));
  console.log(`first kill: ${markedAtFirstKill.filter(Boolean).length} of 3 members restored`);

  // A fresh restore meets the lock the killed one left, and is told how to go on.
  const again = await runCli(["restore", "-i", dst, "--from", backup, "--yes"], t.env);
  expect(again.code, again.err).toBe(5);
  expect(again.err).toContain(`ensemble dst is locked by run ${id}`);
  expect(again.err).toContain(`zkfleet runs resume ${id}`);

  const second = await killWhen(["runs", "resume", id, "--yes"], /^ {2}changed zk\d: start ZooKeeper/m);
  expect(second.killed, second.out).toBe(true);
  const running = (await Promise.all(DST.map((h) => serverPid(t, h)))).filter((p) => p !== "");
  expect(running.length, second.out).toBeGreaterThanOrEqual(1);

  // What the killed runs finished on each host: its marker names the run, written after the files.
  const marked = await Promise.all(DST.map(async (h) => (await sshRun(t.lab, h, "cat /opt/zkfleet/state/restore-dst.json 2>/dev/null")).stdout.includes(`"run":"${id}"`)));
  const last = await runCli(["runs", "resume", id, "--yes"], t.env);
  expect(last.code, `${last.out}\n${last.err}`).toBe(2);
  // The resume restores exactly the members without the marker, and leaves the others (one of them running) as they are.
  const restoredNow = DST.filter((h) => new RegExp(`^ {2}changed ${h}: move the data directory's state aside`, "m").test(last.out));
  expect(restoredNow).toEqual(DST.filter((_, i) => !marked[i]));
  console.log(`before the last resume: ${marked.filter(Boolean).length} member(s) restored by the killed runs, ${running.length} running; the resume restored ${restoredNow.join(", ") || "none"}`);
  expect(last.out).toMatch(/^verified: the restored tree equals the backup's export/m);
  const states = await Promise.all(DST.map((h) => srvr(t, h)));
  expect(states.map((s) => s.mode).sort()).toEqual(["follower", "follower", "leader"]);
  expect(new Set(states.map((s) => s.zxid)).size).toBe(1);
  const source = await javaDigest(connectOf(t, ["zk1"]), "/");
  for (const h of DST) {
    expect((await javaDigest(connectOf(t, [h]), "/")).digest, h).toBe(source.digest);
    // Each member's marker names the run that restored it: the killed one's id, resumed.
    expect((await sshRun(t.lab, h, "cat /opt/zkfleet/state/restore-dst.json")).stdout).toContain(`"run":"${id}"`);
    // Restored once: a second restore of a member would have moved the first one's files aside.
    expect((await sshRun(t.lab, h, "ls -A /var/lib/zookeeper/.zkfleet-moved 2>/dev/null")).stdout.trim(), h).toBe("");
  }
}, 170_000);

it("a backup killed, or whose source host is powered off, leaves no directory that looks whole", async () => {
  const src = join(t.lab.dir, "src.yml");
  const dir = join(t.lab.dir, "backup-2");
  const partials = () => readdirSync(t.lab.dir).filter((n) => n.startsWith("backup-2.partial-"));
  // SIGKILL once the files start to come: the partial directory stays (nothing could remove it), DIR does not exist.
  const killed = await killWhen(["backup", "-i", src, "-o", dir], /^ {2}zk\d \(follower\): snapshot/m);
  expect(killed.killed, killed.out).toBe(true);
  expect(existsSync(dir)).toBe(false);
  expect(partials().length).toBe(1);

  // The source host powered off mid-copy: the backup fails (exit 4), removes its partial directory, writes no DIR.
  let victim = "";
  let off: Promise<string> | undefined;
  const lost = await killWhen(["backup", "-i", src, "-o", dir], /^ {2}(zk\d) \(follower\): snapshot/m, (out) => {
    victim = /^ {2}(zk\d) \(follower\): snapshot/m.exec(out)![1]!;
    off = labFault("power-off", victim, t.lab.dir);
  });
  await off;
  console.log(`source ${victim} powered off mid-copy:\n${lost.out.split("\n").filter((l) => /error|where|fix/.test(l)).join("\n")}`);
  expect(lost.code, lost.out).toBe(4);
  expect(lost.out).toContain(`the backup stopped while copying`);
  expect(lost.out).toContain(`from ${victim}`);
  expect(existsSync(dir)).toBe(false);
  expect(partials().length).toBe(1);
  // The other two still serve; a backup then comes from the follower left.
  const serving = await Promise.all(SRC.filter((h) => h !== victim).map((h) => srvr(t, h)));
  expect(serving.map((s) => s.mode).sort()).toEqual(["follower", "leader"]);
  const again = await runCli(["backup", "-i", src, "-o", dir, "--json"], t.env);
  expect(again.code, again.err).toBe(0);
  expect(JSON.parse(again.out).manifest.source.host).not.toBe(victim);
  await labFault("power-on", victim, t.lab.dir);
}, 120_000);
