// restore as a use case: the backup checked whole before any host is
// contacted, then apply with a restore stage in its plan (usecases/acting.ts),
// then the restored tree verified against the backup's export. (backup itself
// is backup/backup.ts: it reads and changes nothing on the hosts.)
import { resolve } from "node:path";
import type { ApplyResult } from "./apply.js";
import type { Manifest } from "../backup/manifest.js";
import { prepareRestore } from "../backup/restore.js";
import { type RestoreVerification, verifyRestored } from "../backup/verify.js";
import type { ClusterOptions } from "../data/cluster.js";
import type { FleetOptions } from "../fleet/fleet.js";
import { loadInventory } from "../inventory/load.js";
import type { RestoreSpec } from "../plan/restore.js";

/** What restore hands apply: the backup to put in, and how to verify it once the run is over (for apply's report). */
export interface Restoring {
  spec: Omit<RestoreSpec, "lockRun">;
  /** Undefined when nothing was restored by this run (check mode, a plan refused or with nothing to do). */
  verify: (result: ApplyResult) => Promise<RestoreVerification | undefined>;
}

export async function prepareRestoring(request: {
  inventory: string; from: string; check: boolean; auth: ClusterOptions["auth"]; fleet: FleetOptions; retryReads: number;
}): Promise<{ manifest: Manifest; restoring: Restoring }> {
  // The backup is checked whole before any host is contacted: a bad one touches nothing.
  const { manifest, spec } = await prepareRestore(await loadInventory(request.inventory), resolve(request.from), request.auth);
  return {
    manifest,
    restoring: {
      spec,
      verify: async (result) => {
        if (request.check || !result.executed && result.plan.stages.length > 0) return undefined;
        return verifyRestored(request.inventory, request.from, manifest, { fleet: request.fleet, retryReads: request.retryReads, auth: request.auth });
      },
    },
  };
}
