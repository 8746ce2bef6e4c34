// zoo.cfg as ZooKeeper reads it: key=value settings, comments and order
// meaningless. Needed because a running 3.5+ server with reconfig rewrites
// its own zoo.cfg (drops comments, reorders, points dynamicConfigFile at
// zoo.cfg.dynamic.<version>): comparing text would plan a restart on every
// run and, worse, write back a dynamic file name that is no longer current.
// Pure.

/** Settings of a config text; server.N/group.N/weight.N lines are membership and kept apart. */
export function parseSettings(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    if (/^(server|group|weight)\.\d+$/.test(key)) continue;
    out.set(key, line.slice(eq + 1).trim());
  }
  return out;
}

/**
 * Keys ZooKeeper itself rewrites once reconfig is on, so a difference there
 * is not drift: it points dynamicConfigFile at the versioned file, and moves
 * the client port and address into the dynamic file's server lines (seen in
 * the lab on 3.8.0 and 3.9.3), where membership is compared instead; an
 * observer's peerType goes the same way (its role is in its server line).
 */
const OWNED_BY_ZOOKEEPER = new Set(["dynamicConfigFile", "clientPort", "clientPortAddress", "secureClientPort", "secureClientPortAddress", "peerType"]);

/** Settings that differ, as "key: was -> now" lines; empty when the two configs mean the same. */
export function settingsDiff(observed: string, desired: string, reconfig: boolean): string[] {
  const a = parseSettings(observed);
  const b = parseSettings(desired);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys
    .filter((k) => !(reconfig && OWNED_BY_ZOOKEEPER.has(k)) && a.get(k) !== b.get(k))
    .map((k) => `${k}: ${a.get(k) ?? "(unset)"} -> ${b.get(k) ?? "(unset)"}`);
}

/** The desired zoo.cfg with its dynamicConfigFile pointed at the file the server uses now. */
export function withDynamicConfigFile(desired: string, path: string): string {
  return desired.replace(/^dynamicConfigFile=.*$/m, `dynamicConfigFile=${path}`);
}
