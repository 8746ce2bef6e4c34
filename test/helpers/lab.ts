// Test helpers for the lab: run commands on lab hosts with the real OpenSSH
// client (strict host-key checking, the lab's own identity) and talk to
// ZooKeeper's client port directly.
import { execFile } from "node:child_process";
import { connect } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterAll, beforeAll } from "vitest";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { defaultArtifactsDir } from "../../common/paths.js";
import { type LabState, labDown, labSshArgs, labUp } from "../../lab/lab.js";

const execFileP = promisify(execFile);

/**
 * Each test file owns its lab directory and loopback /24, so files never
 * collide. Not under the checkout: a clone may live under /tmp, which every
 * lab host replaces with its own.
 */
export function testLabDir(name: string): string {
  return join(process.env.ZKFLEET_TEST_LABS ?? "/var/tmp/zkfleet-test-labs", name);
}

export const sshArgs = labSshArgs;

export async function sshRun(state: LabState, host: string, script: string, timeoutMs = 60_000) {
  try {
    const r = await execFileP("ssh", [...sshArgs(state, host), script], { timeout: timeoutMs, maxBuffer: 16 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === "number" ? err.code : -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

/** Sends a four-letter word and returns the whole answer ("" when nothing listens). */
export function fourLetterWord(address: string, port: number, word: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect({ host: address, port });
    let out = "";
    const done = () => {
      sock.destroy();
      resolve(out);
    };
    sock.setTimeout(timeoutMs, done);
    sock.on("connect", () => sock.write(word));
    sock.on("data", (d) => (out += d.toString()));
    sock.on("end", done);
    sock.on("error", done);
  });
}

export function modeOf(srvr: string): string | undefined {
  return /^Mode: (\S+)/m.exec(srvr)?.[1];
}

export async function pollUntil<T>(fn: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 500): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) return undefined;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface TestLab {
  dir: string;
  /** Environment for runCli: journals go to a temporary directory, removed afterwards. */
  env: Record<string, string>;
  lab: LabState;
}

/** A copy of the lab's inventory with some zookeeper fields changed, written beside it; its path. */
export function deriveInventory(lab: LabState, fileName: string, zookeeper: Record<string, unknown>): string {
  const path = join(lab.dir, fileName);
  const inv = parseYaml(readFileSync(lab.inventory, "utf8")) as { zookeeper: Record<string, unknown> };
  writeFileSync(path, toYaml({ ...inv, zookeeper: { ...inv.zookeeper, ...zookeeper } }));
  return path;
}

export interface TestLabOptions {
  /** Install this ZooKeeper version by hand and start it (`lab up --preinstall`): no inventory is written. */
  preinstall?: string;
  /** No node is found on the hosts over SSH (`lab up --no-node`). */
  noNode?: boolean;
  /** systemd is each host's pid 1 (`lab up --systemd`). */
  systemd?: boolean;
}

/** A lab for one test file: up before its tests (after clearing a leftover), down after them. */
export function useTestLab(name: string, subnet: string, hosts = 3, version?: string, options: TestLabOptions = {}): TestLab {
  const dir = testLabDir(name);
  const journal = mkdtempSync(join(tmpdir(), `zkfleet-${name}-`));
  // `lab` is set in beforeAll, before any test can read it.
  const ctx: TestLab = { dir, env: { ZKFLEET_JOURNAL: journal }, lab: undefined as unknown as LabState };
  beforeAll(async () => {
    if (existsSync(join(dir, "lab.json"))) await labDown(dir);
    const dists = version || options.preinstall ? { dists: defaultArtifactsDir(process.env) } : {};
    ctx.lab = await labUp({
      hosts, dir, subnet, ...dists, ...(version ? { version } : {}), ...(options.preinstall ? { preinstall: options.preinstall } : {}),
      ...(options.noNode ? { noNode: true } : {}), ...(options.systemd ? { systemd: true } : {}),
    });
  });
  afterAll(async () => {
    if (existsSync(join(dir, "lab.json"))) await labDown(dir);
    rmSync(journal, { recursive: true, force: true });
  });
  return ctx;
}

/** Canary worker processes started by this test process: pid and label. */
export function canaryWorkers(): { pid: number; label: string }[] {
  const found: { pid: number; label: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
      if (ppid === process.pid && argv.some((a) => a.endsWith("canary/worker.js"))) found.push({ pid: Number(entry), label: JSON.parse(argv.at(-2) || argv.at(-1)!).label });
    } catch {
      // Gone while listing.
    }
  }
  return found;
}
