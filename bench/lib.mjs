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
