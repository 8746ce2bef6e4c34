// Which hosts of an inventory are members, the name each server line gives
// a host, and the names that move to another host. Pure: render/ and plan/
// both ask.
import type { HostSpec } from "../inventory/schema.js";

/**
 * The name a server line gives a host where /etc/hosts is managed: its own,
 * or, for the old half of a move, the name it keeps serving under until it
 * leaves; a membership change may also set its address (a new server whose
 * name is still another's).
 */
export const lineName = (host: HostSpec): string => host.server_name ?? host.name;

/** The members the inventory asks for: hosts marked absent are leaving and get no server line. */
export function presentHosts(inv: { hosts: readonly HostSpec[] }): HostSpec[] {
  return inv.hosts.filter((h) => h.state === "present");
}

/** The moves nameMoves marked, by the kept name (lower case): the leaving entry and the one that takes its name. */
export function movesOf(inv: { hosts: readonly HostSpec[] }): Map<string, { from: HostSpec; to: HostSpec }> {
  const moves = new Map<string, { from: HostSpec; to: HostSpec }>();
  for (const from of inv.hosts) {
    if (from.server_name === undefined) continue;
    const to = inv.hosts.find((h) => h.state === "present" && h.name.toLowerCase() === from.server_name!.toLowerCase());
    if (to) moves.set(to.name.toLowerCase(), { from, to });
  }
  return moves;
}
