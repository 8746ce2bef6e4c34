// What apply, runs resume, runs rollback and restore share once their
// arguments are parsed: the inventory linted and loaded, the hosts contacted,
// the run carried out. Loaded only by those commands; the agent protocol, the
// planner, renderer, executor and canary only once the hosts' SSH handshakes
// (and then their agents) are under way: those take a few hundred
// milliseconds on the hosts, which the controller spends loading its modules
// instead of waiting.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ZkfleetError } from "../../common/errors.js";
import { sshConnector } from "../fleet/host-connector.js";
import type { FleetOptions } from "../fleet/fleet.js";
import type { Finding } from "../inventory/findings.js";
import { inventoryError } from "../inventory/load.js";
import type { ApplyInput, ApplyResult } from "./apply.js";
import { lintInventories } from "./check.js";
import type { RollbackFiles } from "../plan/assemble.js";

/** The run a `runs resume` continues: its lock is taken back, and the inventory must be the one it was planned from. */
export type ResumeOf = { run: string; lockRun: string; inventoryHash: string };

/** A rollback (`runs rollback`): the files and release an earlier run replaced, per host and path. */
export type RollbackOf = { run: string; files: RollbackFiles; version?: string };

/** What a command that acts asks for: apply's input less what this module works out (the inventory, the fleet). */
export type ActingRequest = Omit<ApplyInput, "inventory" | "inventoryHash" | "opened" | "resume" | "rollback" | "fleet" | "onLockTakenOver"> & {
  resume?: ResumeOf;
  rollback?: RollbackOf;
  fleet: FleetOptions;
  /** Lint's warnings about the inventory (errors refuse the run). */
  onFindings?: (findings: Finding[]) => void;
  /** Told as soon as the lock was taken over from other runs (--break-lock): the ensemble, who held it, the generation now held. */
  onLockTakenOver?: (ensemble: string, ...taken: Parameters<NonNullable<ApplyInput["onLockTakenOver"]>>) => void;
  /** Told once the hosts are being reached and apply is about to begin (before that, nothing needs stopping safely). */
  onOpened?: () => void;
  /** Told when a round of membership changes is done and the next is planned afresh. */
  onRound?: (round: number, remaining: string[]) => void;
};

/** Lints and loads the inventory, opens the fleet (handshakes first), and runs apply until it is done. */
export async function act(request: ActingRequest): Promise<ApplyResult> {
  const { resume, rollback, onFindings, onRound, onLockTakenOver, onOpened, ...rest } = request;
  // apply refuses what check calls an error, so the two never disagree.
  const checked = await lintInventories([request.file]);
  if (!checked.ok) throw inventoryError(request.file, checked.findings.filter((f) => f.severity === "error"));
  onFindings?.(checked.findings);
  const loaded = checked.inventories[0]!.inventory;
  // A rollback asks for the release the run replaced; everything else comes from the inventory as it is.
  const inventory = rollback?.version ? { ...loaded, zookeeper: { ...loaded.zookeeper, version: rollback.version as typeof loaded.zookeeper.version } } : loaded;
  const inventoryHash = createHash("sha256").update(await readFile(request.file)).digest("hex");
  if (resume && resume.inventoryHash !== inventoryHash) {
    throw new ZkfleetError("usage", `${request.file} changed since run ${resume.run} was planned; nothing was changed`, {
      where: request.file, hint: "resume continues a run as it was asked for: run `zkfleet apply` with the inventory as it is now instead",
    });
  }
  // The hosts' SSH handshakes start first and their agents as soon as the agent protocol is loaded: the hosts
  // work while the controller loads the rest of apply.
  const connect = await sshConnector(request.fleet);
  const early = new Map(inventory.hosts.map((spec) => [spec.name, connect({ inventory, spec, key: spec.name })]));
  for (const pending of early.values()) pending.catch(() => undefined);
  const { Fleet } = await import("../fleet/fleet.js").catch(async (err: unknown) => {
    await Promise.allSettled([...early.values()].map(async (c) => (await c).close()));
    throw err;
  });
  const fleet = await Fleet.open([inventory], {
    ...request.fleet,
    // Each early connection serves once; a host whose handshake failed is connected afresh when next asked.
    connect: (h) => {
      const pending = early.get(h.key);
      early.delete(h.key);
      return pending ?? connect(h);
    },
  });
  try {
    fleet.warm(inventory.hosts.map((h) => h.name));
    const { runApplyUntilDone } = await import("./apply.js");
    onOpened?.();
    return await runApplyUntilDone({
      ...rest, inventory, inventoryHash, opened: fleet,
      ...(onLockTakenOver ? { onLockTakenOver: (previous, generation) => onLockTakenOver(inventory.ensemble, previous, generation) } : {}),
      ...(resume ? { resume: { run: resume.run, lockRun: resume.lockRun } } : {}),
      ...(rollback ? { rollback: { run: rollback.run, files: rollback.files } } : {}),
    }, onRound);
  } finally {
    // apply closes the fleet it was handed; this is for a refusal before it took it (closing twice is harmless).
    await fleet.close();
  }
}
