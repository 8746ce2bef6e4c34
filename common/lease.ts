// The ensemble lock's lease, shared by both ends. The holder renews it while
// its run lives; another run may take the lock over only once it has lapsed
// (or once the holder's process is known gone: controller/execute/lock.ts).
// A renewal stamps the lock file's mtime on the host, and the host judges
// the lease against its own clock, so the clocks of controller and host never
// meet.

/**
 * How long a lease runs without a renewal: five renewals missed in a row.
 * A busy 2-core machine delays a timer by seconds, never by half a minute,
 * and a killed controller's lock lapses within a minute.
 */
export const LEASE_MS = 45_000;

/** Between two renewals, by the controller and, during an acting request that outlasts it, by the agent. */
export const RENEW_EVERY_MS = 8_000;

/**
 * What is left of a lease last renewed at `renewedMs` at `nowMs` (both in the
 * host's clock, ms since the epoch); 0 once it has lapsed.
 */
export function leaseLeft(renewedMs: number, leaseMs: number, nowMs: number): number {
  if (!Number.isFinite(renewedMs) || !Number.isFinite(nowMs) || !Number.isFinite(leaseMs) || leaseMs <= 0) return 0;
  const age = nowMs - renewedMs;
  // A renewal in the future means the host's clock was set back since. By less than a lease, it counts from now;
  // by more, the stamp measures nothing any longer, and a live holder stamps it afresh within RENEW_EVERY_MS.
  if (age < -leaseMs) return 0;
  return Math.round(Math.max(0, leaseMs - Math.max(0, age)));
}
