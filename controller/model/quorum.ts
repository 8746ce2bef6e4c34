// Quorum arithmetic, in one place: the health verdict, the planner's gates and
// (later) membership changes all ask here, so "how many may be down" has one
// answer. Pure.

/** Votes needed to elect a leader or commit a write among `voters` voters. */
export function quorumSize(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

export function hasQuorum(votersUp: number, voters: number): boolean {
  return voters > 0 && votersUp >= quorumSize(voters);
}

/** How many more voters may stop while a quorum still serves (negative: already below quorum). */
export function spareVoters(votersUp: number, voters: number): number {
  return votersUp - quorumSize(voters);
}

/**
 * Whether every majority of `a` shares a member with every majority of `b`.
 * When it fails, the two configurations could each elect a leader and commit
 * different histories. Two majorities can be disjoint exactly when the
 * members each must take from the shared part, after using all of its own,
 * fit in the shared part together.
 */
export function majoritiesIntersect(a: readonly number[], b: readonly number[]): boolean {
  const setA = new Set(a);
  const setB = new Set(b);
  if (setA.size === 0 || setB.size === 0) return false;
  const shared = [...setA].filter((id) => setB.has(id)).length;
  const onlyA = setA.size - shared;
  const onlyB = setB.size - shared;
  const needA = Math.max(0, quorumSize(setA.size) - onlyA);
  const needB = Math.max(0, quorumSize(setB.size) - onlyB);
  return needA + needB > shared;
}
