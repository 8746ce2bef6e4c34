// Two 3-server ensembles in one lab for the sync tests (apply does not run
// a single server: it expects a quorum member, and ZooKeeper runs one server
// standalone): a source on zk1..zk3, a target on zk4..zk6, each with an
// inventory of its own; and sync run as a child process, so it can be
// killed or signalled like an operator would.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect } from "vitest";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { packageRoot } from "../../common/paths.js";
import { runCli } from "../helpers/cli.js";
import { type TestLab, useTestLab } from "../helpers/lab.js";

export interface SyncLab {
  t: TestLab;
  /** Connect strings (host:2181,...). */
  src: string;
  dst: string;
  srcInventory: string;
  dstInventory: string;
}

export function useSyncLab(name: string, subnet: string): SyncLab {
  const t = useTestLab(name, subnet, 6);
  const ctx = { t } as SyncLab;
  beforeAll(async () => {
    const doc = parseYaml(readFileSync(t.lab.inventory, "utf8")) as { hosts: { name: string; myid: number }[] };
    const three = (ensemble: string, hosts: string[]) => {
      const file = join(t.lab.dir, `${ensemble}.yml`);
      writeFileSync(file, toYaml({ ...doc, ensemble, hosts: doc.hosts.filter((h) => hosts.includes(h.name)).map((h, i) => ({ ...h, myid: i + 1 })) }));
      return file;
    };
    ctx.srcInventory = three("src", ["zk1", "zk2", "zk3"]);
    ctx.dstInventory = three("dst", ["zk4", "zk5", "zk6"]);
    for (const inv of [ctx.srcInventory, ctx.dstInventory]) {
      const r = await runCli(["apply", "-i", inv, "--yes"], t.env);
      expect(r.code, r.err).toBe(2);
    }
    const connect = (hosts: { address: string }[]) => hosts.map((h) => `${h.address}:2181`).join(",");
    ctx.src = connect(t.lab.hosts.slice(0, 3));
    ctx.dst = connect(t.lab.hosts.slice(3, 6));
  }, 300_000);
  return ctx;
}

export interface Child {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

/** `zkfleet ARGS` from the built dist, in its own process. */
export function spawnCli(args: string[], env: Record<string, string>): Child {
  const proc = spawn("node", [join(packageRoot(), "bin/zkfleet.js"), ...args], { env: { ...process.env, ...env } });
  let out = "";
  let err = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<number | string>((resolve) => proc.on("close", (code, signal) => resolve(code ?? signal ?? "none")));
  return { proc, out: () => out, err: () => err, exited };
}

/** Polls until `check` answers true; fails with `what` after `limitMs` (a bound on a wait, not a timed assertion). */
export async function until(what: string, check: () => boolean | Promise<boolean>, limitMs = 60_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
