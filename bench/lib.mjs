// What the benches share: running a command to its end with a time limit,
// remembering every child so that a bench stopped early kills only its own.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

/** A runner whose children are tracked in `children`; results never reject, the exit code is part of them. */
export function commandRunner(env, children) {
  return function run(argv, { timeoutMs = 300_000 } = {}) {
    return new Promise((resolve) => {
      const t0 = performance.now();
      const startedAt = Date.now();
      const child = spawn(argv[0], argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
      children.add(child);
      let stdout = "", stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        children.delete(child);
        resolve({ code: code ?? 128, signal, stdout, stderr, ms: performance.now() - t0, startedAt });
      });
    });
  };
}

/**
 * Runs cleanUp when the bench is interrupted (SIGINT, SIGTERM: exit 130) or
 * runs past deadlineMs (exit 1), so a lab it started never outlives it.
 * Returns what cancels the deadline, for the bench's own `finally`.
 */
export function cleanUpOnAbort(cleanUp, deadlineMs) {
  const stop = (message, code) => {
    console.error(message);
    void Promise.resolve().then(cleanUp).finally(() => process.exit(code));
  };
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => stop(`\n${sig}: bringing the lab down`, 130));
  const watchdog = setTimeout(() => stop(`bench took longer than ${deadlineMs / 60_000} min: giving up`, 1), deadlineMs);
  return () => clearTimeout(watchdog);
}

/** The end of one latency round: its connections closed and forgotten, its delay proxy stopped. Answers the proxy left (none). */
export async function closeRound(connections, tracked, proxy) {
  for (const c of connections) {
    await c.close();
    tracked.delete(c);
  }
  if (proxy) await proxy.stop();
  return undefined;
}

/** Peak resident memory (kB) of a process: the kernel's high-water mark, read until it exits. */
export function vmHwm(pid) {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * A runner of the zkfleet CLI (`node cli ...args`) that also reports the
 * peak memory of the controller and of its child processes (the ZooKeeper
 * client workers), polled every 100 ms; children are tracked in `children`.
 */
export function measuredCli(cli, env, children) {
  return function zkfleet(...args) {
    return new Promise((resolve) => {
      const t0 = performance.now();
      const child = spawn("node", [cli, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
      children.add(child);
      let stdout = "", stderr = "", controllerKb = 0, workerKb = 0;
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      const poll = setInterval(() => {
        controllerKb = Math.max(controllerKb, vmHwm(child.pid));
        for (const w of childPids(child.pid)) workerKb = Math.max(workerKb, vmHwm(w));
      }, 100);
      child.on("close", (code) => {
        clearInterval(poll);
        children.delete(child);
        resolve({ code, stdout, stderr, ms: performance.now() - t0, controllerMb: controllerKb / 1024, workerMb: workerKb / 1024 });
      });
    });
  };
}

/** A raw session of the `zookeeper` package, configured as zkfleet's worker configures its own. */
export function rawSession(ZooKeeper, connect) {
  return new Promise((resolve, reject) => {
    const zk = new ZooKeeper({ connect, timeout: 30_000, debug_level: ZooKeeper.constants.ZOO_LOG_LEVEL_ERROR, host_order_deterministic: false });
    const timer = setTimeout(() => reject(new Error(`no session with ${connect}`)), 20_000);
    let once = false;
    zk.on("connect", () => {
      if (once) return;
      once = true;
      clearTimeout(timer);
      resolve(zk);
    });
    zk.init({ response_counter_limit: 1_000_000 });
  });
}

/** Runs n calls of the package, `window` in flight; each call gets (i, done(rc)); node exists and no node count as done. */
export function pipelined(n, window, call) {
  return new Promise((resolve, reject) => {
    let next = 0, finished = 0, inFlight = 0;
    if (n === 0) return resolve();
    const pump = () => {
      while (inFlight < window && next < n) {
        inFlight++;
        call(next++, (rc) => {
          if (rc !== 0 && rc !== -110 && rc !== -101) return reject(new Error(`raw call failed: ${rc}`));
          inFlight--;
          if (++finished === n) resolve();
          else pump();
        });
      }
    };
    pump();
  });
}

/**
 * A lab of 6 hosts on `subnet` in `labDir` (a leftover one brought down
 * first) with two 3-server ZooKeeper 3.8.0 ensembles applied, src on the
 * first three hosts and dst on the others, each with an inventory in
 * `work`. Answers their connect strings and inventories.
 */
export async function twoEnsembles(run, cli, labDir, subnet, work, heapMb = 768) {
  const { parse, stringify } = await import("yaml");
  const { join } = await import("node:path");
  const { readFileSync, writeFileSync } = await import("node:fs");
  const must = (what, r, ...codes) => {
    if (!codes.includes(r.code)) throw new Error(`${what} failed (exit ${r.code}):\n${(r.stderr ?? "").trim().slice(-3000)}`);
  };
  await run(["node", cli, "lab", "down", "--dir", labDir]);
  console.error(`lab up: 6 hosts in ${labDir}`);
  must("lab up", await run(["node", cli, "lab", "up", "--hosts", "6", "--dir", labDir, "--subnet", subnet], { timeoutMs: 600_000 }), 0);
  const lab = parse(readFileSync(join(labDir, "inventory.yml"), "utf8"));
  const out = {};
  for (const [i, name] of ["src", "dst"].entries()) {
    const file = join(work, `${name}.yml`);
    const hosts = lab.hosts.slice(i * 3, i * 3 + 3);
    writeFileSync(file, stringify({ ...lab, ensemble: name, zookeeper: { ...lab.zookeeper, version: "3.8.0", heap_mb: heapMb }, hosts: hosts.map((h, k) => ({ ...h, myid: k + 1 })) }));
    must(`apply ${name}`, await run(["node", cli, "apply", "-i", file, "--yes", "--no-canary"], { timeoutMs: 600_000 }), 0, 2);
    out[name] = { connect: hosts.map((h) => `${h.address}:2181`).join(","), inventory: file };
  }
  return out;
}

/**
 * bench/ZkCopy.java compiled against ZooKeeper 3.8.0's client jars from the
 * artifact cache (unpacked into `work`): answers a runner of it, `java(...args)`.
 */
export async function javaPeer(run, root, work) {
  const { execFileSync } = await import("node:child_process");
  const { join } = await import("node:path");
  const { mkdirSync } = await import("node:fs");
  mkdirSync(join(work, "zk"), { recursive: true });
  execFileSync("tar", ["-xzf", join(root, "artifacts", "apache-zookeeper-3.8.0-bin.tar.gz"), "-C", join(work, "zk")]);
  const lib = join(work, "zk", "apache-zookeeper-3.8.0-bin", "lib");
  const classes = join(work, "classes");
  execFileSync("javac", ["-proc:none", "-cp", `${lib}/*`, "-d", classes, join(root, "bench", "ZkCopy.java")]);
  return (...args) => run(["java", "-cp", `${lib}/*:${classes}`, "ZkCopy", ...args], { timeoutMs: 1_800_000 });
}

/** Trees to copy, from COUNTxBYTES:PARENTS words (issue 23's two sets when none): COUNT leaves of BYTES bytes under PARENTS parents below /PREFIX-COUNTxBYTES. */
export function treeSets(words, prefix) {
  return (words.length ? words : ["20000x1024:20", "100000x100:100"]).map((s) => {
    const m = /^(\d+)x(\d+):(\d+)$/.exec(s);
    if (!m) throw new Error(`a set is COUNTxBYTES:PARENTS, e.g. 100000x100:100; got ${s}`);
    return { count: Number(m[1]), bytes: Number(m[2]), parents: Number(m[3]), root: `/${prefix}-${m[1]}x${m[2]}` };
  });
}

/** A set's nodes, parents first: the root, its parents, the leaves spread over them (data of the set's size). */
export function treeOf(set) {
  const parents = Array.from({ length: set.parents }, (_, p) => `${set.root}/p${String(p).padStart(4, "0")}`);
  const leaves = Array.from({ length: set.count }, (_, i) => `${parents[i % set.parents]}/n${String(i).padStart(7, "0")}`);
  const data = Buffer.alloc(set.bytes, 0x61);
  return [{ path: set.root, data: Buffer.alloc(0) }, ...parents.map((path) => ({ path, data: Buffer.alloc(0) })), ...leaves.sort().map((path) => ({ path, data }))];
}

/** Ops cut into multis as the servers take them: 1,000 at most, and under 900 kB (jute.maxbuffer is 1 MiB). */
export function* multis(ops, maxOps = 1000, maxBytes = 900_000) {
  let batch = [];
  let bytes = 0;
  for (const o of ops) {
    const size = o.path.length + (o.data?.length ?? 0) + 64;
    if (batch.length && (batch.length >= maxOps || bytes + size > maxBytes)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(o);
    bytes += size;
  }
  if (batch.length) yield batch;
}
