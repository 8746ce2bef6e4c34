// zkfleet backup and restore (issue 8): a hot backup of a 3-server 3.8.0
// ensemble while a client writes, restored into a second, new 3-server
// ensemble in the same lab, every member from the same files; verified by
// zkfleet (the restored tree against the backup's export), by zkfleet diff,
// and by ZooKeeper's own Java client on each member (test/data/TreeDigest.java).
// A corrupt backup (a flipped byte, a truncated log) is refused before any
// host is contacted, and a restore into a running ensemble is refused.
// The source holds a node with a digest ACL (issue 19): the backup takes the
// credentials of its admin from a file (and without them stops before
// copying anything), the restore's verification from ZKFLEET_AUTH, and the
// password shows in no output and no journal.
import { createHash } from "node:crypto";
import { cpSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { sshRun, useTestLab } from "../helpers/lab.js";
import { writeNodes } from "../helpers/zkcli.js";
import { javaDigest } from "../data/independent.js";
import { ZkClient } from "../../controller/zk/client.js";
import { connectOf, ensembleInventory, filesOn, serverPid, srvr } from "./backup-scenario.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("backup-restore", subnet("backup-restore"), 9, "3.8.0");
const SRC = ["zk1", "zk2", "zk3"];
const DST = ["zk4", "zk5", "zk6"];
let src = "";
let dst = "";
const backupDir = () => join(t.lab.dir, "backup");
/** Writes the hot writer had acknowledged when the backup started. */
let ackedBefore = 0;
/** /secret's admin: world may read it, only admin may see its ACL whole (3.8.0 shows others admin:x). */
const PASSWORD = "s3cret-pw-19";
const ADMIN = { scheme: "digest", credential: `admin:${PASSWORD}` };
const ADMIN_ID = `admin:${createHash("sha1").update(`admin:${PASSWORD}`).digest("base64")}`;
const SECRET_ACL = [{ perms: 1, scheme: "world", id: "anyone" }, { perms: 31, scheme: "digest", id: ADMIN_ID }];
const authFile = () => join(t.lab.dir, "admin.auth");
const withAuth = () => ({ ...t.env, ZKFLEET_AUTH: `digest:admin:${PASSWORD}` });
/** Every word zkfleet printed, for the password never to be among them. */
const printed: string[] = [];
const cli = async (args: string[], env: Record<string, string> = t.env) => {
  const r = await runCli(args, env);
  printed.push(r.out, r.err);
  return r;
};

it("backs up a live ensemble while a client writes, from a synced follower", async () => {
  src = ensembleInventory(t, "src", SRC);
  dst = ensembleInventory(t, "dst", DST);
  const up = await runCli(["apply", "-i", src, "--yes"], t.env);
  expect(up.code, up.err).toBe(2);
  await writeNodes(connectOf(t, SRC), "/corpus", 300);

  const client = await ZkClient.open({ connect: connectOf(t, SRC), label: "writer" });
  await client.create("/secret", Buffer.from("only admin sees the ACL"));
  await client.setAcl("/secret", SECRET_ACL);
  writeFileSync(authFile(), `# the admin of /secret\ndigest:admin:${PASSWORD}\n`, { mode: 0o600 });
  // Without credentials the export could not record /secret's ACL: refused before a byte is copied.
  const refused = await cli(["backup", "-i", src, "-o", backupDir()]);
  expect(refused.code, refused.err).toBe(4);
  expect(refused.err).toContain("the backup's export could not read the tree: the source hides the digest ACL of /secret (it shows admin:x)");
  expect(refused.err).toContain("nothing was copied");
  expect(refused.err).toMatch(/fix: +give the credentials of a user with ADMIN on the node .*--auth-file FILE or ZKFLEET_AUTH/);
  expect(refused.err).not.toMatch(/copied snapshot\./);
  expect(readdirSync(t.lab.dir).filter((n) => n.startsWith("backup"))).toEqual([]);
  await client.create("/hot", Buffer.from("hot"));
  let stop = false;
  let acked = 0;
  const writer = (async () => {
    while (!stop) {
      await client.create(`/hot/w-${String(acked).padStart(6, "0")}`, Buffer.from(`write ${acked}`));
      acked++;
    }
  })();
  try {
    while (acked < 50) await new Promise((r) => setTimeout(r, 20));
    ackedBefore = acked;
    const r = await cli(["backup", "-i", src, "-o", backupDir(), "--json", "--auth-file", authFile()]);
    expect(r.code, r.err).toBe(0);
    const during = acked - ackedBefore;
    stop = true;
    await writer;
    const { manifest, bytes, ms } = JSON.parse(r.out) as { manifest: Record<string, any>; bytes: number; ms: number };
    console.log(`backup: ${bytes} bytes copied in ${ms} ms, ${during} writes acknowledged meanwhile, ${manifest.logs.length} log(s), last zxid ${manifest.last_zxid}, export ${manifest.export.nodes} nodes`);
    // Never the leader of a 3-server ensemble; a follower that had caught up.
    expect((await srvr(t, manifest.source.host)).mode).toBe("follower");
    expect(manifest.source.mode).toBe("follower");
    expect(BigInt(manifest.source.zxid)).toBeGreaterThanOrEqual(BigInt(manifest.source.leader_zxid));
    expect(during).toBeGreaterThan(0);
    const names = readdirSync(join(backupDir(), "files")).sort();
    expect(names).toEqual([manifest.snapshot.name, ...manifest.logs.map((l: { name: string }) => l.name)].sort());
    expect(readdirSync(t.lab.dir).filter((n) => n.startsWith("backup.partial"))).toEqual([]);
    // The export holds /secret's real ACL, and every file of the backup (the export's data and ACL ids too) is its owner's alone.
    expect(readFileSync(join(backupDir(), "export.jsonl"), "utf8")).toContain(`"id":"${ADMIN_ID}"`);
    const modes = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const p = join(dir, e.name);
      const mode = `${relative(backupDir(), p)} ${(statSync(p).mode & 0o777).toString(8)}`;
      return e.isDirectory() ? [mode, ...modes(p)] : [mode];
    });
    expect((statSync(backupDir()).mode & 0o777).toString(8)).toBe("700");
    for (const m of modes(backupDir())) expect(m).toMatch(m.startsWith("files ") ? / 700$/ : / 600$/);
    // A second backup into the same directory is refused, the first left whole.
    const again = await runCli(["backup", "-i", src, "-o", backupDir()], t.env);
    expect(again.code).toBe(3);
    expect(again.err).toContain("exists and is not empty");
    expect(JSON.parse(readFileSync(join(backupDir(), "manifest.json"), "utf8")).finished).toBe(manifest.finished);
  } finally {
    stop = true;
    await writer.catch(() => undefined);
    await client.close();
  }
}, 150_000);

it("refuses a corrupt backup before touching anything on the target", async () => {
  const before = await Promise.all(DST.map((h) => filesOn(t, h)));
  const manifest = JSON.parse(readFileSync(join(backupDir(), "manifest.json"), "utf8"));

  const flipped = join(t.lab.dir, "backup-flipped");
  cpSync(backupDir(), flipped, { recursive: true });
  const snap = join(flipped, "files", manifest.snapshot.name);
  const bytes = readFileSync(snap);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  writeFileSync(snap, bytes);
  const r1 = await runCli(["restore", "-i", dst, "--from", flipped, "--yes"], t.env);
  expect(r1.code, r1.err).toBe(3);
  expect(r1.err).toContain(`files/${manifest.snapshot.name} has sha256`);
  expect(r1.err).toContain("nothing was touched");

  const truncated = join(t.lab.dir, "backup-truncated");
  cpSync(backupDir(), truncated, { recursive: true });
  const log = join(truncated, "files", manifest.logs.at(-1).name);
  truncateSync(log, statSync(log).size - 100);
  const r2 = await runCli(["restore", "-i", dst, "--from", truncated, "--yes"], t.env);
  expect(r2.code, r2.err).toBe(3);
  expect(r2.err).toContain(`files/${manifest.logs.at(-1).name} has ${statSync(log).size} bytes, the manifest says ${manifest.logs.at(-1).size}`);

  const noExport = join(t.lab.dir, "backup-no-export");
  cpSync(backupDir(), noExport, { recursive: true });
  rmSync(join(noExport, "export.jsonl"));
  const r3 = await runCli(["restore", "-i", dst, "--from", noExport, "--yes"], t.env);
  expect(r3.code, r3.err).toBe(3);
  expect(r3.err).toContain("export.jsonl is missing");

  // A 3.8.0 backup into 3.4.13 servers: backward, refused.
  const older = ensembleInventory(t, "dst-old", DST, { version: "3.4.13" });
  const r4 = await runCli(["restore", "-i", older, "--from", backupDir(), "--yes"], t.env);
  expect(r4.code, r4.err).toBe(5);
  expect(r4.err).toContain("the backup was taken from ZooKeeper 3.8.0; the target runs 3.4.13, older");

  expect(await Promise.all(DST.map((h) => filesOn(t, h)))).toEqual(before);
  for (const d of [flipped, truncated, noExport]) rmSync(d, { recursive: true, force: true });
}, 60_000);

it("restores into a new ensemble, every member from the same backup, and the tree verifies", async () => {
  // The verification reads the restored tree back: without /secret's admin it could not, and that is said before anything is touched.
  const before = await Promise.all(DST.map((h) => filesOn(t, h)));
  const unverifiable = await cli(["restore", "-i", dst, "--from", backupDir(), "--yes"]);
  expect(unverifiable.code, unverifiable.err).toBe(3);
  expect(unverifiable.err).toContain("1 node(s) of the backup would not be readable whole with the credentials given (none): /secret; nothing was touched");
  expect(await Promise.all(DST.map((h) => filesOn(t, h)))).toEqual(before);

  const check = await cli(["restore", "-i", dst, "--from", backupDir(), "--check"], withAuth());
  expect(check.code, check.err).toBe(2);
  expect(check.out).toContain("put the backup into every member's data directory");
  expect((await Promise.all(DST.map((h) => serverPid(t, h))))).toEqual(["", "", ""]);

  const r = await cli(["restore", "-i", dst, "--from", backupDir(), "--yes"], withAuth());
  expect(r.code, `${r.out}\n${r.err}`).toBe(2);
  expect(r.out).toMatch(/^verified: /m);
  const manifest = JSON.parse(readFileSync(join(backupDir(), "manifest.json"), "utf8"));
  // /secret came back with its ACL, as its admin sees it.
  const admin = await ZkClient.open({ connect: connectOf(t, DST), label: "admin", auth: [ADMIN] });
  try {
    expect((await admin.getAcl("/secret")).acl).toEqual(SECRET_ACL);
  } finally {
    await admin.close();
  }

  // Every member holds the backup's own files: the snapshot byte for byte, and the marker naming the backup.
  for (const h of DST) {
    const sum = await sshRun(t.lab, h, `sha256sum /var/lib/zookeeper/version-2/${manifest.snapshot.name} && cat /opt/zkfleet/state/restore-dst.json`);
    expect(sum.stdout.split(" ")[0], h).toBe(manifest.snapshot.sha256);
  }
  // One leader, the others following, all at the same zxid (no client has written to it).
  const states = await Promise.all(DST.map((h) => srvr(t, h)));
  expect(states.map((s) => s.mode).sort()).toEqual(["follower", "follower", "leader"]);
  expect(new Set(states.map((s) => s.zxid)).size).toBe(1);

  console.log(r.out.split("\n").filter((l) => /^verified|^dst:/.test(l)).join("\n"));
  // zkfleet diff: the corpus, which nobody wrote during the backup, is equal on the source and the restored ensemble.
  const diff = await runCli(["diff", `inventory:${src}`, `inventory:${dst}`, "--path", "/corpus"], t.env);
  expect(diff.code, diff.out + diff.err).toBe(0);
  // The whole tree differs from the export only where the hot writer wrote after the copy (restore's own verification said so).
  const whole = await cli(["diff", join(backupDir(), "export.jsonl"), `inventory:${dst}`, "--json", "--auth-file", authFile()]);
  const report = JSON.parse(whole.out) as { differences: number; byKind: Record<string, number> };
  expect(Object.keys(report.byKind).every((k) => k === "missing" || k === "counter"), whole.out.slice(0, 2000)).toBe(true);

  // An independent reader on each member: the corpus as on the source, the same on every member.
  const source = await javaDigest(connectOf(t, ["zk1"]), "/corpus");
  for (const h of DST) {
    const restored = await javaDigest(connectOf(t, [h]), "/corpus");
    expect(restored.digest, h).toBe(source.digest);
    expect(restored.nodes, h).toBe(301);
  }
  // Hot writes: everything acknowledged before the backup started is there, nothing that the source never had.
  const reader = await ZkClient.open({ connect: connectOf(t, DST), label: "reader" });
  const origin = await ZkClient.open({ connect: connectOf(t, SRC), label: "origin" });
  try {
    const restoredHot = new Set((await reader.children("/hot")).children);
    const sourceHot = new Set((await origin.children("/hot")).children);
    for (let i = 0; i < ackedBefore; i++) expect(restoredHot.has(`w-${String(i).padStart(6, "0")}`), `w-${i}`).toBe(true);
    for (const n of restoredHot) expect(sourceHot.has(n), n).toBe(true);
    console.log(`hot writes: ${ackedBefore} acknowledged before the backup, ${restoredHot.size} restored, ${sourceHot.size} on the source`);
  } finally {
    await reader.close();
    await origin.close();
  }
  // The password was given by file and environment, never shown, and no journal holds it.
  const journals = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? journals(join(dir, e.name)) : [readFileSync(join(dir, e.name), "utf8")]);
  expect(journals(t.env.ZKFLEET_JOURNAL!).length).toBeGreaterThan(0);
  for (const text of [...printed, ...journals(t.env.ZKFLEET_JOURNAL!)]) expect(text).not.toContain(PASSWORD);
}, 200_000);

it("refuses to restore into an ensemble that runs, stopping nothing", async () => {
  const pids = await Promise.all(DST.map((h) => serverPid(t, h)));
  const before = await Promise.all(DST.map((h) => sshRun(t.lab, h, "ls -R /var/lib/zookeeper").then((x) => x.stdout)));
  const r = await cli(["restore", "-i", dst, "--from", backupDir(), "--yes", "--auth-file", authFile()]);
  expect(r.code, r.err).toBe(5);
  expect(r.err).toContain("restore_target_running");
  expect(r.err).toContain("zk4: ZooKeeper is running there");
  expect(await Promise.all(DST.map((h) => serverPid(t, h)))).toEqual(pids);
  expect(await Promise.all(DST.map((h) => sshRun(t.lab, h, "ls -R /var/lib/zookeeper").then((x) => x.stdout)))).toEqual(before);
}, 60_000);

it("restores a 3.4.13 backup into the 3.8.0 ensemble once it is stopped", async () => {
  const OLD = ["zk7", "zk8", "zk9"];
  // 3.4 followers write no snapshot before snapCount transactions (randomized between half and all of it): a small one makes them write some.
  const old = ensembleInventory(t, "old", OLD, { version: "3.4.13", config: { snapCount: 40 } });
  const up = await runCli(["apply", "-i", old, "--yes"], t.env);
  expect(up.code, up.err).toBe(2);
  await writeNodes(connectOf(t, OLD), "/old", 200);
  const dir = join(t.lab.dir, "backup-34");
  const b = await runCli(["backup", "-i", old, "-o", dir, "--json"], t.env);
  expect(b.code, b.err).toBe(0);
  const manifest = JSON.parse(b.out).manifest;
  expect(manifest.zookeeper_version).toBe("3.4.13");
  expect(["follower", "observer"]).toContain(manifest.source.mode);

  // The target is stopped by hand (restore never stops a live ensemble).
  for (const h of DST) {
    const pid = await serverPid(t, h);
    await sshRun(t.lab, h, `kill ${pid}; while kill -0 ${pid} 2>/dev/null; do sleep 0.1; done`);
  }
  const r = await runCli(["restore", "-i", dst, "--from", dir, "--yes", "--json"], t.env);
  expect(r.code, `${r.out}\n${r.err}`).toBe(2);
  // One JSON document: apply's report with the verification in it.
  const report = JSON.parse(r.out) as { run: string; verification: { ok: boolean; unexplained: unknown[]; backup: { digest: string }; restored: { digest: string } } };
  expect(report.verification.ok).toBe(true);
  expect(report.verification.unexplained).toEqual([]);
  expect(report.verification.restored.digest).toBe(report.verification.backup.digest);
  // The previous restore's files were moved aside, not deleted.
  for (const h of DST) expect((await sshRun(t.lab, h, "ls /var/lib/zookeeper/.zkfleet-moved/*/version-2")).stdout, h).toContain("snapshot.");
  const source = await javaDigest(connectOf(t, ["zk7"]), "/");
  for (const h of DST) expect((await javaDigest(connectOf(t, [h]), "/")).digest, h).toBe(source.digest);
}, 170_000);
