import { defineConfig } from "vitest/config";

// Lab tests start real sshd and JVMs on a 2-core machine. Two files at once:
// each lab has its own loopback /24 (test/helpers/subnets.ts) and its own
// directory, so two never share a port or a file, and a lab test mostly waits
// on ZooKeeper (elections, ticks, session timeouts) rather than on the CPU.
// One at a time took the suite to 35 minutes; more than two starve the JVMs.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
