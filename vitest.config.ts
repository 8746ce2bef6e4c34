import { defineConfig } from "vitest/config";

// Lab tests start real sshd and JVMs on a 2-core machine: run files one at a
// time so they do not starve each other, and give them room for JVM start-up.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
