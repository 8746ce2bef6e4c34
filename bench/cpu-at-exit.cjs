// Preloaded by bench/roll.mjs (`node --require`) into the zkfleet CLI it
// times: when the process exits, its own CPU time (all its threads, user and
// system) goes to the file ZKFLEET_BENCH_CPU names. The product has no such
// hook; wall time alone cannot tell the controller's work from the hosts'.
"use strict";
process.on("exit", () => {
  const { user, system } = process.cpuUsage();
  require("node:fs").writeFileSync(process.env.ZKFLEET_BENCH_CPU, JSON.stringify({ ms: (user + system) / 1000 }));
});
