// How long `zkfleet lab up --hosts N` takes with a warm artifact cache,
// beside a baseline measured in the same run: starting N bare sshd processes
// (no namespaces, no overlays) until each serves its banner. The ratio says
// what the lab's isolation costs over the sshd start-up it cannot avoid.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";

const N = Number(process.argv[2] ?? 5);
const ROUNDS = Number(process.argv[3] ?? 3);
const root = new URL("..", import.meta.url).pathname;
const cli = join(root, "bin/zkfleet.js");
// Outside the checkout: a clone may live under /tmp, which lab hosts replace with their own.
const labDir = "/var/tmp/zkfleet-bench/lab-up";

function banner(host, port) {
  return new Promise((res) => {
    const s = connect({ host, port });
    s.setTimeout(500, () => { s.destroy(); res(false); });
    s.on("data", (d) => { s.destroy(); res(d.toString().startsWith("SSH-")); });
    s.on("error", () => res(false));
  });
}

async function bareSshd() {
  const dir = mkdtempSync("/var/tmp/zkfleet-bench-");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "key")]);
  const t0 = performance.now();
  const procs = [];
  for (let i = 0; i < N; i++) {
    const addr = `127.79.0.${11 + i}`;
    writeFileSync(join(dir, `c${i}`), `ListenAddress ${addr}:22\nHostKey ${join(dir, "key")}\nPidFile none\nUsePAM no\n`);
    procs.push({ addr, p: spawn("/usr/sbin/sshd", ["-D", "-f", join(dir, `c${i}`)], { stdio: "ignore" }) });
  }
  for (const { addr } of procs) while (!(await banner(addr, 22))) await new Promise((r) => setTimeout(r, 20));
  const ms = performance.now() - t0;
  for (const { p } of procs) p.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

function labUp() {
  const t0 = performance.now();
  execFileSync("node", [cli, "lab", "up", "--hosts", String(N), "--dir", labDir, "--subnet", "127.78.0"], { stdio: "ignore" });
  const ms = performance.now() - t0;
  execFileSync("node", [cli, "lab", "down", "--dir", labDir], { stdio: "ignore" });
  return ms;
}

execFileSync("node", [cli, "lab", "dists"], { stdio: "ignore" }); // warm the cache first
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const lab = [], base = [];
for (let r = 0; r < ROUNDS; r++) {
  lab.push(labUp());
  base.push(await bareSshd());
}
const l = median(lab), b = median(base);
console.log(`lab up --hosts ${N} (warm cache, whole CLI run): median ${(l / 1000).toFixed(2)} s over ${ROUNDS} rounds [${lab.map((x) => (x / 1000).toFixed(2)).join(", ")}]`);
console.log(`baseline: ${N} bare sshd to banner: median ${(b / 1000).toFixed(2)} s [${base.map((x) => (x / 1000).toFixed(2)).join(", ")}]`);
console.log(`ratio lab/baseline: ${(l / b).toFixed(1)}x; goal: under 15 s -> ${l < 15000 ? "met" : "NOT met"}`);
