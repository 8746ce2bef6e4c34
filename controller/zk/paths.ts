// Znode paths and the one order every tree stream follows: depth first,
// parents before children, siblings by name (UTF-16 code units, as Java's
// String.compareTo). Two streams in this order can be compared by merging
// them, holding nothing but the current paths.

export function childPath(parent: string, name: string): string {
  return parent === "/" ? `/${name}` : `${parent}/${name}`;
}

export function parentOf(path: string): string | undefined {
  if (path === "/") return undefined;
  const i = path.lastIndexOf("/");
  return i === 0 ? "/" : path.slice(0, i);
}

/** True when `path` is `root` or below it. */
export function isUnder(path: string, root: string): boolean {
  return root === "/" || path === root || path.startsWith(root + "/");
}

const compareNames = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function sortNames(names: readonly string[]): string[] {
  return [...names].sort(compareNames);
}

/**
 * Depth-first order: compare segment by segment, a parent before everything below it. Names hold no "/",
 * so that is the two strings compared code unit by code unit with "/" below every other: no segment is
 * split out (a file check or a resume compares every node's path).
 */
export function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x === 47) return -1;
    if (y === 47) return 1;
    return x - y;
  }
  return a.length - b.length;
}

/** ZooKeeper's own and server-managed nodes: never exported, imported or compared. */
export function isSystemPath(path: string): boolean {
  return isUnder(path, "/zookeeper");
}
