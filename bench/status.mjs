// How long `zkfleet status` takes over a fleet of 10 three-host ensembles
// (30 hosts, 30 ZooKeeper servers), beside a baseline measured in the same
// run: one plain OpenSSH `ssh HOST true` per host, one after another. The
// ratio says what status costs over the SSH round trips it cannot avoid.
// Run after `npm run build`:  node bench/status.mjs [rounds]
import { execFileSync } from "node:child_process";
import { commandRunner } from "./lib.mjs";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";

const HOSTS = 30;
const PER_ENSEMBLE = 3;
const ROUNDS = Number(process.argv[2] ?? 5);
const APPLY_AT_ONCE = 3;
const root = new URL("..", import.meta.url).pathname;
const cli = join(root, "bin/zkfleet.js");
// Outside the checkout: a clone may live under /tmp, which lab hosts replace with their own.
const labDir = "/var/tmp/zkfleet-bench/status";
const work = mkdtempSync(join(tmpdir(), "zkfleet-bench-status-"));
// Journals of the applies go to the scratch dir, not the user's ~/.zkfleet.
const env = { ...process.env, ZKFLEET_JOURNAL: join(work, "journal") };
const children = new Set();

const run = (argv, opts = {}) => commandRunner(env, children)(argv, { timeoutMs: 300_000, ...opts });

function fail(what, r) {
  throw new Error(`${what} failed (exit ${r.code}${r.signal ? `, ${r.signal}` : ""}):\n${r.stderr.trim() || r.stdout.slice(0, 2000)}`);
}

const zkfleet = (...args) => run(["node", cli, ...args]);

let cleaned = false;
function cleanUp() {
  if (cleaned) return;
  cleaned = true;
  // Only what this bench started: its own children by pid, then its own lab.
  for (const c of children) c.kill("SIGKILL");
  try {
    execFileSync("node", [cli, "lab", "down", "--dir", labDir], { stdio: "ignore", timeout: 120_000 });
  } catch {
    console.error(`lab down failed; check with: node bin/zkfleet.js lab status --dir ${labDir}`);
  }
  rmSync(work, { recursive: true, force: true });
}
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    console.error(`\n${sig}: bringing the lab down`);
    cleanUp();
    process.exit(130);
  });
}

/** Ten inventories of three lab hosts each, sharing the lab's SSH identity and known_hosts. */
function writeInventories() {
  const lab = parse(readFileSync(join(labDir, "inventory.yml"), "utf8"));
  const files = [];
  for (let i = 0; i < HOSTS / PER_ENSEMBLE; i++) {
    const inventory = {
      ...lab,
      ensemble: `bench${i + 1}`,
      // 30 JVMs on a small machine: the default 1 GB heap each would be wasteful.
      zookeeper: { ...lab.zookeeper, version: "3.8.0", bind_to_address: true, heap_mb: 128 },
      hosts: lab.hosts.slice(i * PER_ENSEMBLE, (i + 1) * PER_ENSEMBLE),
    };
    const file = join(work, `bench${i + 1}.yml`);
    writeFileSync(file, stringify(inventory));
    files.push(file);
  }
  return files;
}

async function applyAll(files) {
  const queue = [...files];
  const worker = async () => {
    for (let file; (file = queue.shift()); ) {
      const r = await zkfleet("apply", "-i", file, "--yes");
      if (r.code !== 0 && r.code !== 2) fail(`apply ${file}`, r);
      console.error(`  applied ${file} in ${(r.ms / 1000).toFixed(1)} s`);
    }
  };
  await Promise.all(Array.from({ length: APPLY_AT_ONCE }, worker));
}

/** One status run as a sysadmin types it; refuses to count a run that is not all healthy. */
async function timedStatus(files) {
  const r = await zkfleet("status", ...files.flatMap((f) => ["-i", f]), "--json");
  let report;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    fail("status --json (output is not JSON)", r);
  }
  const bad = report.ensembles.filter((e) => e.verdict !== "healthy");
  if (r.code !== 0 || report.ensembles.length !== files.length || bad.length > 0) {
    const why = bad.map((e) => `${e.ensemble}: ${e.verdict} (${e.problems.join("; ")})`).join("\n");
    fail(`status: expected ${files.length} healthy ensembles, got ${report.ensembles.length}\n${why}`, r);
  }
  return { wall: r.ms, report };
}

async function sequentialSsh() {
  const t0 = performance.now();
  for (let i = 1; i <= HOSTS; i++) {
    const r = await run(["ssh", "-F", join(labDir, "ssh_config"), "-o", "BatchMode=yes", `zk${i}`, "true"], { timeoutMs: 30_000 });
    if (r.code !== 0) fail(`ssh zk${i} true`, r);
  }
  return performance.now() - t0;
}

/** Status becomes healthy some seconds after the last apply, while the quorums settle. */
async function waitHealthy(files) {
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      return await timedStatus(files);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => sorted(xs)[Math.floor(xs.length / 2)];
const s = (ms) => `${(ms / 1000).toFixed(2)} s`;

try {
  console.error(`lab up: ${HOSTS} hosts in ${labDir}`);
  const up = await zkfleet("lab", "up", "--hosts", String(HOSTS), "--dir", labDir, "--subnet", "127.84.0");
  if (up.code !== 0) fail("lab up", up);
  const files = writeInventories();
  console.error(`applying ${files.length} inventories, ${APPLY_AT_ONCE} at a time`);
  await applyAll(files);
  await waitHealthy(files); // also warms the page cache for the CLI and the agents

  const status = [], baseline = [], phases = [];
  for (let r = 0; r < ROUNDS; r++) {
    const { wall, report } = await timedStatus(files);
    status.push(wall);
    const hostMs = report.ensembles.flatMap((e) => e.hosts.map((h) => h.observedInMs));
    phases.push({ cli: wall - report.ms, fleet: report.ms, hostMedian: median(hostMs), hostMax: Math.max(...hostMs) });
    baseline.push(await sequentialSsh());
    console.error(`  round ${r + 1}: status ${s(wall)}, baseline ${s(baseline.at(-1))}`);
  }

  const st = median(status), base = median(baseline), perSsh = base / HOSTS;
  const ph = (k) => s(median(phases.map((p) => p[k])));
  console.log(`status of ${files.length} ensembles / ${HOSTS} hosts (--json, whole CLI run), ${ROUNDS} runs: best ${s(sorted(status)[0])}, median ${s(st)}  [${status.map(s).join(", ")}]`);
  console.log(`baseline: ${HOSTS} sequential \`ssh HOST true\`: median total ${s(base)}  [${baseline.map(s).join(", ")}], per ssh ${(perSsh).toFixed(0)} ms`);
  console.log(`status = ${(st / perSsh).toFixed(1)} sequential ssh commands; ratio status/baseline ${(st / base).toFixed(2)}`);
  console.log(`phases (medians): CLI start + load + output ${ph("cli")}, fleet (connect + observe all hosts) ${ph("fleet")}; per host after connect: median ${ph("hostMedian")}, slowest ${ph("hostMax")}`);
} finally {
  cleanUp();
}
