// What makes two znodes the same for a copy: data, ACL (in order, as the
// server keeps it) and whether a session owns it. Versions, times and zxids
// are the target's own and never compared.
import type { Acl } from "../zk/protocol.js";

export type Difference = "data" | "acl" | "ephemeral";

export const OPEN_ACL: Acl[] = [{ perms: 31, scheme: "world", id: "anyone" }];

export function sameAcl(a: readonly Acl[], b: readonly Acl[]): boolean {
  return a.length === b.length && a.every((x, i) => x.perms === b[i]!.perms && x.scheme === b[i]!.scheme && x.id === b[i]!.id);
}

type Compared = { data: Buffer; acl: Acl[]; ephemeral: boolean; textOnly?: true };

/** A side read from a text-only file (zktreeutil's XML) knows no ACL: it is not compared. */
export function differences(want: Compared, have: Compared): Difference[] {
  const out: Difference[] = [];
  if (!want.data.equals(have.data)) out.push("data");
  if (!want.textOnly && !have.textOnly && !sameAcl(want.acl, have.acl)) out.push("acl");
  if (want.ephemeral !== have.ephemeral) out.push("ephemeral");
  return out;
}

export function formatAcl(acl: readonly Acl[]): string {
  const letters = (p: number) => ["c", "d", "r", "w", "a"].filter((_, i) => p & [4, 8, 1, 2, 16][i]!).join("") || "-";
  return acl.map((a) => `${a.scheme}:${a.id}:${letters(a.perms)}`).join(",");
}
