// `zkfleet restore`, before and after the run: the backup is checked whole
// and against the target's version before anything is asked of a host, and
// turned into what the planner needs (plan/restore.ts); the run itself is
// apply's (lock, journal, executor), with the restore stage in its plan.
import { posix } from "node:path";
import { ZkfleetError } from "../../common/errors.js";
import { zooCfgPath } from "../../common/protocol.js";
import type { Inventory } from "../inventory/schema.js";
import type { RestoreSpec } from "../plan/restore.js";
import { compareVersions } from "../agent-client/runtime-platform.js";
import { type Credential, hidesDigestIds, maskCredential, readableWhole } from "../data/auth.js";
import { superDigestFor } from "../inventory/super-user.js";
import { isSystemPath } from "../zk/paths.js";
import { type Manifest, verifyBackup } from "./manifest.js";
import type { RestoreVerification } from "./verify.js";

export const restoreMarkerPath = (inv: Inventory) => posix.join(inv.agent.dir, "state", `restore-${inv.ensemble.replace(/[^A-Za-z0-9._-]/g, "_")}.json`);

/**
 * A backup goes back into the same ZooKeeper version or a newer one: a
 * server reads older snapshots and logs (3.4's included: the backup holds a
 * snapshot, so ZOOKEEPER-3056's logs-only case cannot arise), never the
 * formats of a newer release.
 */
export function versionRefusal(backupVersion: string, target: string): string | undefined {
  return compareVersions(target, backupVersion) < 0
    ? `the backup was taken from ZooKeeper ${backupVersion}; the target runs ${target}, older: a server cannot be trusted to read a newer release's files`
    : undefined;
}

/**
 * The backup checked whole, and against the target: its version, and whether the verification after the
 * restore will be able to read the tree back whole with the credentials given (`creds`).
 */
export async function prepareRestore(inv: Inventory, from: string, creds: readonly Credential[] = []): Promise<{ manifest: Manifest; spec: Omit<RestoreSpec, "lockRun"> }> {
  const superDigest = superDigestFor(inv.zookeeper);
  const hides = hidesDigestIds(inv.zookeeper.version);
  const unreadable: string[] = [];
  const { manifest, id } = await verifyBackup(from, ({ node }) => {
    if (!isSystemPath(node.path) && !readableWhole(node.acl, creds, superDigest, hides)) unreadable.push(node.path);
  });
  const refused = versionRefusal(manifest.zookeeper_version, inv.zookeeper.version);
  if (refused) {
    throw new ZkfleetError("plan", `${refused}; nothing was touched`, {
      where: `${from}: zookeeper_version ${manifest.zookeeper_version}`,
      hint: `restore into an ensemble on ${manifest.zookeeper_version} or newer (set zookeeper.version), or move the data with export/import, which any version takes`,
    });
  }
  if (unreadable.length > 0) {
    const given = creds.length ? creds.map(maskCredential).join(", ") : "none";
    throw new ZkfleetError("usage", `the restored tree is verified by reading it back, and ${unreadable.length} node(s) of the backup would not be readable whole ` +
      `with the credentials given (${given}): ${unreadable.slice(0, 10).join(", ")}${unreadable.length > 10 ? ", ..." : ""}; nothing was touched`, {
      where: `${from}/export.jsonl`,
      hint: `ZooKeeper ${inv.zookeeper.version} needs READ${hides ? ", and ADMIN to show a digest ACL's ids," : ""} on every node: give the credentials of a user who has them, ` +
        "or the super user's, with --auth-file FILE or ZKFLEET_AUTH (digest:USER:PASSWORD lines)",
    });
  }
  const zk = inv.zookeeper;
  const stagingDir = posix.join(inv.agent.dir, "restore", id.slice(0, 16));
  const args = { data_dir: zk.data_dir, ...(zk.data_log_dir ? { data_log_dir: zk.data_log_dir } : {}), config_path: zooCfgPath(zk.config_dir) };
  return {
    manifest,
    spec: {
      backup: from, backupId: id, markerPath: restoreMarkerPath(inv),
      files: [manifest.snapshot, ...manifest.logs].map((f) => ({ name: f.name, size: f.size, sha256: f.sha256 })),
      hosts: Object.fromEntries(inv.hosts.map((h) => [h.name, { stagingDir, args }])),
    },
  };
}

export function formatVerification(v: RestoreVerification): string[] {
  const r = v.report;
  const head = r.equal
    ? `verified: the restored tree equals the backup's export (${r.b.nodes} nodes, ${r.b.digest})`
    : v.ok
      ? `verified: the restored tree is the tree at ${v.lastZxid}; ${v.explained} difference(s) from the export, each on a node the export shows written after the copy (${r.a.digest} vs ${r.b.digest})`
      : `NOT verified: ${v.unexplained.length} difference(s) from the backup's export that no later write explains`;
  return [head, ...v.unexplained.slice(0, 20).map((d) => `  ${d.kind.padEnd(9)} ${d.path}${d.detail ? `  ${d.detail}` : ""}`)];
}
