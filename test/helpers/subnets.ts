// Every loopback /24 a test or bench binds to, in one place. Two entries
// never share a /24 (test/unit/subnets.test.ts checks it, and that no file
// under test/ or bench/ writes one by hand), so test files and benches may
// run side by side without one lab's sshd or ZooKeeper answering another's.
// A new test takes a new entry here; bench/*.mjs cannot import TypeScript,
// so their entries record what those files use.
export const SUBNETS = {
  // lab tooling
  "lab": "127.81.0",
  "lab-refused-1": "127.81.1",
  "lab-refused-2": "127.81.2",
  "preinstall": "127.90.0",
  "preinstall-refused": "127.90.1",
  "dists": "127.93.5",
  // connections and the agent (bare sshd / ZooKeeper, no lab)
  "connection-ssh": "127.68.0",
  "connection-become": "127.68.1",
  "known-hosts": "127.68.2",
  "connection-pool": "127.68.5",
  "agent-ssh": "127.68.3",
  "agent-zookeeper": "127.68.4",
  // apply, rolls and upgrades
  "upgrade": "127.80.0",
  "killed-roll": "127.80.1",
  "lock-lease": "127.62.0",
  "host-lost": "127.80.2",
  "undo": "127.80.3",
  "upgrade-killed": "127.80.4",
  "rollback-killed": "127.65.0",
  "apply-3.4.13": "127.82.0",
  "apply-3.8.0": "127.82.1",
  "apply-3.9.3": "127.82.2",
  "apply-limit": "127.82.3",
  "bad-input": "127.83.0",
  "interrupt": "127.85.0",
  "hosts-conflict": "127.86.0",
  "status-frozen": "127.87.0",
  "canary-ssh": "127.76.0",
  "undo-gated": "127.61.0",
  "report": "127.95.0",
  "systemd": "127.95.1",
  "adopt-debian": "127.95.2",
  "adopt": "127.91.0",
  "adopt-5": "127.92.0",
  "no-node": "127.97.5",
  // membership
  "holes-reconfig": "127.88.0",
  "holes-static": "127.89.0",
  "reconfig-op": "127.94.0",
  "membership-dyn": "127.96.0",
  "membership-static": "127.96.1",
  "membership-faults-dyn": "127.96.2",
  "membership-faults-static": "127.96.3",
  "migrate-names-dyn": "127.72.0",
  "migrate-names-static": "127.75.0",
  "super-digest": "127.64.0",
  "migrate-names-static-3.8.0": "127.65.1",
  // data plane, backup and restore
  "data-sync": "127.70.0",
  "data-sync-restart": "127.70.1",
  "backup-restore": "127.71.0",
  "restore-killed": "127.71.1",
  "data-client": "127.97.0",
  "data-fidelity": "127.97.1",
  "data-limits": "127.63.0",
  "data-batches": "127.66.2",
  "data-wire": "127.66.3",
  // benches (bench/*.mjs), and the lab's defaults people use by hand
  "bench-status": "127.84.0",
  "bench-runtime-push": "127.97.6",
  "bench-export-memory": "127.73.0",
  "bench-push": "127.74.0",
  "bench-migrate": "127.99.0",
  "bench-migrate-baseline": "127.99.1",
  "bench-data-copy": "127.66.0",
  "bench-multi-ways": "127.66.1",
  "bench-unavailability-3.8.0": "127.93.0",
  "bench-unavailability-3.9.3": "127.93.1",
  "bench-roll-3": "127.76.3",
  "bench-roll-5": "127.76.5",
  "bench-lab-up": "127.78.0",
  "bench-lab-up-bare": "127.79.0",
  "default-lab": "127.77.0",
} as const;

export type SubnetName = keyof typeof SUBNETS;

export function subnet(name: SubnetName): string {
  return SUBNETS[name];
}

/** An address in a registered /24 (`last` is its last byte). */
export function addressIn(name: SubnetName, last: number): string {
  return `${SUBNETS[name]}.${last}`;
}
