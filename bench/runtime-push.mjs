// What zkfleet's first contact with a host without node costs, beside the
// same first contact with a host that has one (the baseline):
//   A. the whole CLI: the first `apply` of a fresh 3-host lab (3.8.0) on hosts
//      without node (`lab up --no-node`) and on hosts with node, and the second
//      `apply` of each (nothing to push, nothing to change); the runtime pushes
//      as apply's --json reports them (bytes, seconds per host);
//   B. the runtime push alone to one host without node (chooseNode into a
//      fresh directory under /opt), gzip-1 against raw, on loopback and through
//      the delay relay (delay-proxy.mjs) at added round-trip times, with what
//      a later run pays instead (the probe finding the runtime in place), and
//      the compression, which a run pays once for all its hosts.
// Subnet 127.97.6, lab in /var/tmp/zkfleet-bench/runtime-push; brought down in
// `finally` and on Ctrl-C; only this bench's own children are ever killed.
// Run after `npm run build`:  node bench/runtime-push.mjs [rounds] [rtts-ms, e.g. 0,20,100]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDelayProxy } from "./delay-proxy.mjs";
import { cleanUpOnAbort, closeRound, commandRunner } from "./lib.mjs";

const root = new URL("..", import.meta.url).pathname;
const ROUNDS = Number(process.argv[2] ?? 3);
const RTTS = (process.argv[3] ?? "0,20,100").split(",").map(Number);
const SUBNET = "127.97.6";
const PROXY_ADDRESS = `${SUBNET}.200`; // not a lab host: those start at .11
const labDir = "/var/tmp/zkfleet-bench/runtime-push";
const DEADLINE_MS = 30 * 60_000;

const { labUp, labDown } = await import(join(root, "dist/lab/lab.js"));
const { connectSsh } = await import(join(root, "dist/controller/connection/ssh.js"));
const { ControllerRuntime, chooseNode } = await import(join(root, "dist/controller/agent-client/runtime.js"));

const journal = mkdtempSync(join(tmpdir(), "zkfleet-bench-runtime-"));
const children = new Set();
const conns = new Set();
let proxy;
const run = commandRunner({ ...process.env, ZKFLEET_JOURNAL: journal }, children);
const cli = (...args) => run(["node", join(root, "bin/zkfleet.js"), ...args], { timeoutMs: 600_000 });

let cleaned;
const cleanUp = () =>
  (cleaned ??= (async () => {
    for (const c of children) c.kill("SIGKILL");
    for (const c of conns) await c.close().catch(() => {});
    if (proxy) await proxy.worker.terminate();
    await labDown(labDir).catch(() => {});
    rmSync(journal, { recursive: true, force: true });
  })());
const cancelDeadline = cleanUpOnAbort(cleanUp, DEADLINE_MS);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
const list = (xs) => `[${xs.map(s).join(", ")}]`;

async function applyJson(inventory, want) {
  const r = await cli("apply", "-i", inventory, "--yes", "--json");
  if (r.code !== want) throw new Error(`apply exited ${r.code}, expected ${want}: ${r.stderr.trim().slice(-2000)}`);
  return { ms: r.ms, json: JSON.parse(r.stdout) };
}

async function wholeApply() {
  const result = {};
  for (const noNode of [true, false]) {
    const first = [], second = [], pushMs = [], pushBytes = [];
    for (let round = 0; round < ROUNDS; round++) {
      const lab = await labUp({ hosts: 3, dir: labDir, subnet: SUBNET, version: "3.8.0", noNode });
      try {
        const a = await applyJson(lab.inventory, 2);
        const b = await applyJson(lab.inventory, 0);
        if (b.json.runtimePushes.length !== 0) throw new Error("the second apply pushed the runtime again");
        if (a.json.runtimePushes.length !== (noNode ? 3 : 0)) throw new Error(`first apply pushed ${a.json.runtimePushes.length} runtimes`);
        first.push(a.ms);
        second.push(b.ms);
        for (const p of a.json.runtimePushes) {
          pushMs.push(p.ms);
          pushBytes.push(p.bytes);
        }
      } finally {
        await labDown(labDir);
      }
    }
    result[noNode ? "without node" : "with node (baseline)"] = { first, second, pushMs, pushBytes };
  }
  console.log(`\nA. whole CLI, 3 hosts, ZooKeeper 3.8.0, loopback; ${ROUNDS} rounds, medians`);
  for (const [name, r] of Object.entries(result)) {
    console.log(`  ${name.padEnd(22)} first apply ${s(median(r.first))} ${list(r.first)}; second apply ${s(median(r.second))} ${list(r.second)}`);
    if (r.pushMs.length) console.log(`  ${"".padEnd(22)} runtime push per host (probe to rename, hosts in parallel): ${s(median(r.pushMs))}, ${mb(median(r.pushBytes))} sent ${list(r.pushMs)}`);
  }
}

async function pushAlone() {
  const lab = await labUp({ hosts: 1, dir: labDir, subnet: SUBNET, noNode: true });
  try {
    const address = lab.hosts[0].address;
    const gzip = new ControllerRuntime(process.execPath, process.version, true);
    const raw = new ControllerRuntime(process.execPath, process.version, false);
    let t0 = performance.now();
    const image = await raw.image();
    const readMs = performance.now() - t0;
    t0 = performance.now();
    const packed = await gzip.gzipped();
    const gzipMs = performance.now() - t0;
    console.log(`\nB. the runtime push alone, 1 host, ${ROUNDS} rounds after a warm-up, medians; node ${process.version}: ${mb(image.content.length)}, gzip -1 ${mb(packed.length)}`);
    console.log(`  once per run: read and sha256 ${s(readMs)}; gzip -1 ${s(gzipMs)} (one core)`);
    for (const rtt of RTTS) {
      let via = { hostname: address, port: 22, knownHostsFile: lab.knownHosts };
      if (rtt > 0) {
        proxy = await startDelayProxy({ listen: PROXY_ADDRESS, target: { host: address, port: 22 }, oneWayMs: rtt / 2 });
        // The host's key under the relay's address.
        const key = readFileSync(lab.knownHosts, "utf8").split("\n").find((l) => l.startsWith(`${address} `));
        const knownHostsFile = join(journal, `known_hosts.${rtt}`);
        writeFileSync(knownHostsFile, `[${PROXY_ADDRESS}]:${proxy.port} ${key.split(" ").slice(1).join(" ")}\n`);
        via = { hostname: PROXY_ADDRESS, port: proxy.port, knownHostsFile };
      }
      const conn = await connectSsh({
        host: "zk1", hostname: via.hostname, port: via.port, user: "root", identityFiles: [lab.identityFile],
        knownHostsFile: via.knownHostsFile, acceptNewHostKeys: false, become: false, connectTimeoutMs: 30_000,
      });
      conns.add(conn);
      const times = { gzip: [], raw: [], "later run (probe only)": [] };
      for (let round = 0; round <= ROUNDS; round++) {
        for (const [name, runtime] of round % 2 ? [["raw", raw], ["gzip", gzip]] : [["gzip", gzip], ["raw", raw]]) {
          const agentDir = "/opt/zkfleet-bench-runtime";
          t0 = performance.now();
          const chosen = await chooseNode(conn, { agentDir, runtime, minNodeMajor: 18 });
          const ms = performance.now() - t0;
          if (!chosen.runtime?.pushed) throw new Error(`${name}: nothing was pushed`);
          t0 = performance.now();
          const again = await chooseNode(conn, { agentDir, runtime, minNodeMajor: 18 });
          const laterMs = performance.now() - t0;
          if (again.runtime?.pushed || again.node !== chosen.node) throw new Error(`${name}: the second contact pushed again`);
          const rm = await conn.run(["rm", "-rf", agentDir]);
          if (rm.code !== 0) throw new Error(`rm failed: ${rm.stderr}`);
          if (round > 0) {
            times[name].push(ms);
            times["later run (probe only)"].push(laterMs);
          }
        }
      }
      console.log(`  ${rtt > 0 ? `added RTT ${rtt} ms` : "loopback"}:`);
      for (const [name, ms] of Object.entries(times)) console.log(`    ${name.padEnd(24)} ${s(median(ms))} ${list(ms)}`);
      proxy = await closeRound([conn], conns, proxy);
    }
  } finally {
    await labDown(labDir);
  }
}

try {
  await labDown(labDir).catch(() => {}); // a lab left by a bench that was killed
  await wholeApply();
  await pushAlone();
} finally {
  cancelDeadline();
  await cleanUp();
}
