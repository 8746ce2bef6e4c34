// What the benches share: running a command to its end with a time limit,
// remembering every child so that a bench stopped early kills only its own.
import { spawn } from "node:child_process";

/** A runner whose children are tracked in `children`; results never reject, the exit code is part of them. */
export function commandRunner(env, children) {
  return function run(argv, { timeoutMs = 300_000 } = {}) {
    return new Promise((resolve) => {
      const t0 = performance.now();
      const child = spawn(argv[0], argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
      children.add(child);
      let stdout = "", stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        children.delete(child);
        resolve({ code: code ?? 128, signal, stdout, stderr, ms: performance.now() - t0 });
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
