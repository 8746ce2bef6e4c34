// How fast SshConnection.put pushes a real ZooKeeper distribution tarball to
// a lab host, beside baselines measured in the same run over the same lab:
//   - the old put (one sftp.write of the whole buffer: ssh2 then sends one
//     WRITE request at a time and waits for each reply), kept below as
//     oldPut, on the same SFTP channel as the new put;
//   - OpenSSH's own scp and sftp of the same file with the lab's ssh_config,
//     for orientation (they do not fsync; put does, on a tmpfs here); each
//     includes starting ssh and its handshake, timed alone as `ssh HOST true`;
//   - an experiment, not product behaviour: put and the old put on a second
//     connection whose socket has TCP_NODELAY set (ssh2 leaves Nagle on).
// The lab is on loopback, where a round trip costs almost nothing; to show what
// a real link does, the same is measured through a delay proxy: a TCP relay in
// a worker thread of this process that holds every chunk for RTT/2 in each
// direction. It adds latency only (no bandwidth limit, no loss) and touches
// nothing outside this process (no tc, no qdisc on lo).
// Run after `npm run build`:  node bench/push.mjs [rounds] [rtts-ms, e.g. 0,20,100]
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDelayProxy } from "./delay-proxy.mjs";
import { cleanUpOnAbort, closeRound } from "./lib.mjs";

const root = new URL("..", import.meta.url).pathname;
const ROUNDS = Number(process.argv[2] ?? 5);
const RTTS = (process.argv[3] ?? "0,20,100").split(",").map(Number);
const TARBALL = join(root, "artifacts/apache-zookeeper-3.8.0-bin.tar.gz");
// Outside the checkout: a clone may live under /tmp, which lab hosts replace with their own.
const labDir = "/var/tmp/zkfleet-bench-push";
const SUBNET = "127.74.0";
const PROXY_ADDRESS = `${SUBNET}.200`; // not a lab host: those start at .11
const HOST = "zk1";
const HOST_ADDRESS = `${SUBNET}.11`;
// On the lab host's own tmpfs /tmp: the figures are the transfer, not a disk.
const REMOTE_DIR = "/tmp/bench-push";
const DEADLINE_MS = 15 * 60_000;

await main();

/**
 * BASELINE, not product code: SshConnection.put as it was before pipelining
 * (commit 251da55), less the error wrapping. One sftp.write for the whole
 * buffer; ssh2 splits it into WRITE requests of the server's max-write-length
 * (255 KiB on OpenSSH 9) and sends each only after the previous one's reply.
 */
async function oldPut(conn, quote, path, data, mode = 0o644) {
  const sftp = await conn.sftp(); // private in TypeScript; the same SFTP channel put uses
  const call = (start) => new Promise((res, rej) => start((err, value) => (err ? rej(err) : res(value))));
  const temp = quote.tempSibling(path);
  try {
    const handle = await call((cb) => sftp.open(temp, "wx", { mode }, cb));
    try {
      await call((cb) => sftp.write(handle, data, 0, data.length, 0, cb));
      await call((cb) => sftp.fchmod(handle, mode, cb));
      await call((cb) => sftp.ext_openssh_fsync(handle, cb)).catch((err) => {
        if (!/does not support/.test(err.message)) throw err;
      });
    } finally {
      await call((cb) => sftp.close(handle, cb)).catch(() => {});
    }
    await call((cb) => sftp.ext_openssh_rename(temp, path, cb));
  } catch (cause) {
    await call((cb) => sftp.unlink(temp, cb)).catch(() => {});
    throw cause;
  }
}

async function main() {
  const { labUp, labDown } = await import(join(root, "dist/lab/lab.js"));
  const { connectSsh } = await import(join(root, "dist/controller/connection/ssh.js"));
  const quote = await import(join(root, "dist/controller/connection/quote.js"));

  const data = readFileSync(TARBALL);
  const sha = createHash("sha256").update(data).digest("hex");
  const MB = data.length / 1e6;
  const work = mkdtempSync(join(tmpdir(), "zkfleet-bench-push-"));
  const children = new Set();
  const conns = new Set();
  let proxy;
  let cleaned;

  /** Only what this bench started: its children by pid, its connections, its proxy, its lab. */
  const cleanUp = () =>
    (cleaned ??= (async () => {
      for (const c of children) c.kill("SIGKILL");
      for (const c of conns) await c.close().catch(() => {});
      if (proxy) await proxy.worker.terminate();
      try {
        await labDown(labDir);
      } catch (err) {
        console.error(`lab down failed (${err.message}); check with: node bin/zkfleet.js lab status --dir ${labDir}`);
      }
      rmSync(work, { recursive: true, force: true });
    })());
  const cancelDeadline = cleanUpOnAbort(cleanUp, DEADLINE_MS);

  /** Runs a command to its end; never rejects, the exit code is part of the result. */
  function run(argv, { input, timeoutMs = 120_000 } = {}) {
    return new Promise((resolve) => {
      const t0 = performance.now();
      const child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
      children.add(child);
      let stdout = "", stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.stdin.end(input ?? "");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        children.delete(child);
        resolve({ code: code ?? 128, signal, stdout, stderr, ms: performance.now() - t0 });
      });
    });
  }
  const check = (what, r) => {
    if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}${r.signal ? `, ${r.signal}` : ""}): ${r.stderr.trim()}`);
  };

  const sorted = (xs) => [...xs].sort((a, b) => a - b);
  const median = (xs) => sorted(xs)[Math.floor(xs.length / 2)];
  const rate = (ms) => `${(MB / (ms / 1000)).toFixed(1)} MB/s`;
  const secs = (ms) => `${(ms / 1000).toFixed(3)} s`;

  try {
    console.error(`lab up: 1 host in ${labDir} on ${SUBNET}`);
    const lab = await labUp({ hosts: 1, dir: labDir, subnet: SUBNET });
    const sshConfig = join(labDir, "ssh_config");
    const hostKey = readFileSync(lab.knownHosts, "utf8").split("\n").find((l) => l.startsWith(`${HOST_ADDRESS} `));
    if (!hostKey) throw new Error(`no key for ${HOST_ADDRESS} in ${lab.knownHosts}`);
    const target = {
      host: HOST, hostname: HOST_ADDRESS, port: 22, user: "root", identityFiles: [lab.identityFile],
      knownHostsFile: lab.knownHosts, acceptNewHostKeys: false, become: false, connectTimeoutMs: 30_000,
    };

    console.log(`file: ${TARBALL.slice(root.length)}, ${MB.toFixed(2)} MB; ${ROUNDS} timed rounds after one warm-up; medians; MB = 10^6 bytes`);
    for (const rtt of RTTS) {
      let via = { hostname: HOST_ADDRESS, port: 22, sshOpts: [] };
      if (rtt > 0) {
        proxy = await startDelayProxy({ listen: PROXY_ADDRESS, target: { host: HOST_ADDRESS, port: 22 }, oneWayMs: rtt / 2 });
        const port = proxy.port;
        // The host's key under the proxy's address, for ssh2 and (via HostKeyAlias) for OpenSSH.
        const knownHosts = join(work, `known_hosts.${rtt}`);
        writeFileSync(knownHosts, `[${PROXY_ADDRESS}]:${port} ${hostKey.split(" ").slice(1).join(" ")}\n`);
        via = {
          hostname: PROXY_ADDRESS, port, knownHostsFile: knownHosts,
          sshOpts: ["-o", `HostName=${PROXY_ADDRESS}`, "-o", `Port=${port}`, "-o", `HostKeyAlias=${HOST_ADDRESS}`],
        };
      }
      const connect = async () => {
        const c = await connectSsh({ ...target, hostname: via.hostname, port: via.port, knownHostsFile: via.knownHostsFile ?? target.knownHostsFile });
        conns.add(c);
        return c;
      };
      const conn = await connect();
      const fast = await connect();
      fast.link.client.setNoDelay(true); // private in TypeScript: the experiment only
      check("mkdir", await conn.run(["mkdir", "-p", REMOTE_DIR]));
      const sftp = await conn.sftp();
      const rttSeen = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await new Promise((res, rej) => sftp.stat("/", (err) => (err ? rej(err) : res()))); // one SFTP round trip
        rttSeen.push(performance.now() - t0);
      }

      const ways = {
        "put (pipelined)": (dest) => conn.put(dest, data),
        "old put (baseline)": (dest) => oldPut(conn, quote, dest, data),
        "scp (OpenSSH)": async (dest) =>
          check("scp", await run(["scp", "-q", "-F", sshConfig, ...via.sshOpts, TARBALL, `${HOST}:${dest}`])),
        "sftp -b (OpenSSH)": async (dest) =>
          check("sftp", await run(["sftp", "-q", "-F", sshConfig, ...via.sshOpts, "-b", "-", HOST], { input: `put ${TARBALL} ${dest}\n` })),
        "put, TCP_NODELAY": (dest) => fast.put(dest, data),
        "old put, TCP_NODELAY": (dest) => oldPut(fast, quote, dest, data),
      };
      const handshakes = [];
      const times = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
      for (let round = 0; round <= ROUNDS; round++) {
        // Rotate the order each round so no method always goes first.
        const names = Object.keys(ways);
        for (let k = 0; k < names.length; k++) {
          const name = names[(k + round) % names.length];
          const dest = `${REMOTE_DIR}/push-${k}.tar.gz`;
          const t0 = performance.now();
          await ways[name](dest);
          const ms = performance.now() - t0;
          // Untimed: the bytes arrived whole, then the space is freed for the next push.
          const got = await conn.run(["sh", "-c", 'sha256sum "$1" && rm -f "$1"', "sh", dest]);
          if (got.code !== 0 || got.stdout.split(" ")[0] !== sha) throw new Error(`${name} left a different file (${got.stdout.trim()} ${got.stderr.trim()})`);
          if (round > 0) times[name].push(ms);
        }
        const t0 = performance.now();
        check("ssh true", await run(["ssh", "-F", sshConfig, ...via.sshOpts, HOST, "true"]));
        if (round > 0) handshakes.push(performance.now() - t0);
      }
      const left = await conn.run(["sh", "-c", `ls -A ${REMOTE_DIR}`]);
      if (left.stdout.trim() !== "") throw new Error(`left in ${REMOTE_DIR}: ${left.stdout.trim()}`);

      const label = rtt > 0 ? `added RTT ${rtt} ms (delay proxy)` : "loopback, no added latency";
      console.log(`\n${label}; SFTP round trip seen by the connection: ${median(rttSeen).toFixed(1)} ms`);
      const row = (name, ms, note = "") =>
        console.log(`  ${name.padEnd(22)} median ${secs(median(ms))}  ${note.padStart(11)}  [${ms.map(secs).join(", ")}]`);
      for (const [name, ms] of Object.entries(times)) row(name, ms, rate(median(ms)));
      row("ssh HOST true", handshakes, "(no data)");
      const m = (name) => median(times[name]);
      const scpAlone = m("scp (OpenSSH)") - median(handshakes);
      console.log(`  put: ${(m("old put (baseline)") / m("put (pipelined)")).toFixed(2)}x the old put's speed` +
        `; with TCP_NODELAY: ${(m("old put, TCP_NODELAY") / m("put, TCP_NODELAY")).toFixed(2)}x` +
        `; scp less its ssh start-up: ${scpAlone > 0 ? `${secs(scpAlone)}, ${rate(scpAlone)}` : "within noise"}`);

      proxy = await closeRound([conn, fast], conns, proxy);
    }
  } finally {
    cancelDeadline();
    await cleanUp();
  }
}
