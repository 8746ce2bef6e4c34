// Actions on a fleet: how each kind of step is carried out through the
// agent and the SSH connections, and how gates observe an ensemble (four-
// letter words through the connection, no process started on the hosts).
// Everything a step needs comes from the step (and the plan's target); the
// fleet only supplies connections and the agent, and the secrets provider
// the super user's password. Nothing here reads the inventory.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { posix } from "node:path";
import { ZkfleetError } from "../../common/errors.js";
import type { Fleet } from "../fleet/fleet.js";
import type { ObservedHost } from "../model/observed.js";
import { observeServer, toHostReport } from "../observe/observe.js";
import type { AwaitHealthyStep, Plan } from "../plan/steps.js";
import { coreLine, membershipFromConf } from "../model/membership.js";
import { probeCommit } from "../zk/commit-probe.js";
import { expectSuccess } from "../agent-client/client.js";
import { type AgentRequest, type DigestAuth, zooCfgPath } from "../../common/protocol.js";
import { judgeEnsemble } from "../status/health.js";
import type { Actions } from "./executor.js";

/** Where the secrets a step needs come from when it runs: never the plan (journalled, printed), never the inventory object. */
export interface Secrets {
  /** The super user's credentials for reconfig (undefined: the ensemble has none). */
  superAuth: () => DigestAuth | undefined;
}

/** How long a reconfig whose answer was lost is asked again (a leader handover takes seconds). */
const RECONFIG_RETRY_MS = 30_000;

/**
 * How old an observation of the servers may be and still stand for a gate's
 * first look, when no step acted since it was made (the executor says when
 * the last did): about one observation's own time, so it is as fresh as one
 * made now would be by the time it was judged.
 */
const REUSE_MS = 250;

/**
 * `seen`: what the servers said in the observation the plan was made from, asked at `at`, which a first gate may
 * judge instead of asking again (the executor's `quietSince` says nothing acted since).
 */
export function fleetActions(fleet: Fleet, secrets: Secrets, seen?: { at: number; hosts: readonly ObservedHost[] }): Actions {
  // Only the servers' words, as a gate's own observation has them: a myid file on disk is not what a server runs with.
  const serverOnly = ({ facts: _facts, ...words }: ObservedHost): ObservedHost => words;
  let last = seen && { at: seen.at, seen: new Map(seen.hosts.map((o) => [o.host, serverOnly(o)])) };
  return {
    async install(step) {
      const remote = posix.join(step.transferDir, posix.basename(step.tarball));
      let content: Buffer;
      try {
        content = await readFile(step.tarball);
      } catch (cause) {
        throw new ZkfleetError("artifact", `cannot read ${step.tarball}`, {
          where: step.tarball, hint: "build it with `zkfleet lab dists`, or fix zookeeper.dists in the inventory", cause,
        });
      }
      const sha256 = createHash("sha256").update(content).digest("hex");
      const mk = await fleet.run(step.host, ["mkdir", "-p", step.transferDir]);
      if (mk.code !== 0) throw new ZkfleetError("ssh", `cannot create ${step.transferDir} on ${step.host}: ${mk.stderr.trim()}`, { where: step.host });
      await (await fleet.connection(step.host)).put(remote, content, 0o644);
      try {
        const r = await fleet.call(step.host, "install_dist", {
          tarball: remote, version: step.version, install_dir: step.installDir, set_current: step.setCurrent, sha256,
          ...(step.preinstalled ? { preinstalled: step.preinstalled } : {}),
        });
        return { changed: r.changed, message: r.message, data: { current_before: r.data.current_before, current_after: r.data.current_after } };
      } finally {
        // The release is unpacked; the pushed tarball is only a transfer copy.
        await fleet.run(step.host, ["rm", "-f", "--", remote]);
      }
    },

    async switchRelease(step) {
      // Unpacked already (or the adopted release, used where it lies): only `current` moves, and no tarball is named.
      const r = await fleet.call(step.host, "install_dist", {
        version: step.version, install_dir: step.installDir, set_current: true, ...(step.preinstalled ? { preinstalled: step.preinstalled } : {}),
      });
      return { changed: r.changed, message: r.message, data: { current_before: r.data.current_before, current_after: r.data.current_after } };
    },

    async writeFile(step) {
      const r = await fleet.call(step.host, "write_file", { path: step.path, content: step.content, mode: step.mode, state_dir: step.stateDir });
      return { changed: r.changed, message: r.message, data: { backup: r.data.backup } };
    },

    async cleanData(step) {
      const r = await fleet.call(step.host, "clean_data", step.args);
      return { changed: r.changed, message: r.message, data: { moved: r.data.moved } };
    },

    async restoreData(step) {
      // Named by content: a file pushed by an interrupted run is pushed again, and the agent checks every byte anyway.
      const files = step.files.map((f) => ({ ...f, staged: posix.join(step.stagingDir, `${f.name}.${f.sha256.slice(0, 16)}`) }));
      for (const f of files) {
        const r = await fleet.run(step.host, ["sh", "-c", 'mkdir -p "$1" && cat > "$2"', "sh", step.stagingDir, f.staged], {
          stdin: createReadStream(posix.join(step.backup, "files", f.name)), timeoutMs: 3_600_000,
        });
        if (r.code !== 0) {
          throw new ZkfleetError("ssh", `cannot push ${f.name} to ${step.host}:${f.staged}: ${r.stderr.trim() || `exit ${r.code}`}`, {
            where: step.host, hint: `make ${step.stagingDir} writable (and give it room for the backup) on ${step.host}, then run restore again`,
          });
        }
      }
      const r = await fleet.call(step.host, "restore_data", { ...step.args, files });
      await fleet.run(step.host, ["rmdir", "--", step.stagingDir]).catch(() => undefined);
      return { changed: r.changed, message: r.message, data: { moved: r.data.moved, written: r.data.written } };
    },

    async start(step) {
      const r = await fleet.call(step.host, "start", step.args);
      return { changed: r.changed, message: r.message, data: { pid: r.data.pid } };
    },

    async stop(step) {
      const r = await fleet.call(step.host, "stop", step.args);
      return { changed: r.changed, message: r.message, data: { pid: r.data.pid, signal: r.data.signal } };
    },

    async reconfig(step) {
      const auth = secrets.superAuth();
      const request: AgentRequest = {
        op: "reconfig",
        args: {
          install_dir: step.installDir, ...(step.preinstalled ? { preinstalled: step.preinstalled } : {}), server: step.server,
          add: step.add, remove: step.remove, ...(auth ? { auth } : {}),
        },
      };
      // Removing the leader hands leadership over, and the server the request went through drops its
      // clients while it follows the new one: the answer to a reconfig that committed can be lost (seen in
      // the lab). Asking again is safe: the op reads the configuration first and sends only what is missing.
      const deadline = Date.now() + RECONFIG_RETRY_MS;
      for (let attempt = 1; ; attempt++) {
        const [response] = await fleet.batch(step.host, [request]);
        const result = response!.result;
        const lost = "error" in result && (result.error.code === "command_failed" || result.error.code === "timeout");
        if (lost && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 2000));
          continue;
        }
        const r = expectSuccess(step.host, "reconfig", response!);
        const again = attempt > 1 ? ` (asked ${attempt} times: an earlier answer was lost with the connection)` : "";
        return { changed: r.changed || attempt > 1, message: `${r.message}${again}`, data: { version: r.data.version, servers: r.data.servers, attempts: attempt } };
      }
    },

    async awaitConfig(step, onWaiting) {
      const members = (hosts: readonly string[]) => hosts.map((host) => ({ host, probe: step.probes[host]! }));
      const want = [...step.expect].sort().join("\n");
      const deadline = Date.now() + step.timeoutMs;
      for (;;) {
        const seen = await Promise.all(members(step.hosts).map(async (m) => {
          const o = await observeServer(fleet, m.host, m.probe);
          const servers = o.server?.conf ? membershipFromConf(o.server.conf) : undefined;
          return { host: m.host, lines: servers ? servers.map(coreLine).sort().join("\n") : undefined, version: o.server?.conf?.version };
        }));
        const behind = seen.filter((x) => x.lines !== want);
        if (behind.length === 0) break;
        const what = behind.map((x) => `${x.host} reports ${x.lines === undefined ? "no configuration" : x.lines.split("\n").map((l) => l.split("=")[0]).join(",")}`).join("; ");
        if (Date.now() >= deadline) {
          throw new ZkfleetError("zookeeper", `the new configuration was not reported everywhere within ${step.timeoutMs / 1000}s: ${what}`, {
            hint: "run `zkfleet status`; the reconfig committed on the leader, a server still showing the old one may be cut off",
          });
        }
        onWaiting?.(`config: ${what}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      // A write committed after the reconfig proves the new configuration's quorum acknowledges writes.
      const probe = await probeCommit(fleet, members(step.hosts).map((m) => ({ host: m.host, ...m.probe })), {
        timeoutMs: Math.max(5000, deadline - Date.now()), prefix: "/zkfleet-config-check-", data: Buffer.from(step.expect.join("\n")),
      });
      if (!probe.committed) {
        throw new ZkfleetError("zookeeper", `every member reports the new configuration, but no write committed under it: ${probe.error}`, {
          hint: "run `zkfleet status --write-probe`; the leader may have lost its quorum: look at its ZooKeeper log",
        });
      }
      return { changed: false, message: `${step.hosts.length} member(s) report the configuration; a write committed under it (${probe.path}, ${probe.ms} ms)` };
    },

    async serverProcess(start) {
      const facts = await fleet.call(start.host, "facts", { data_dir: start.args.data_dir, zoo_cfg: zooCfgPath(start.args.config_dir) });
      const p = facts.data.process;
      return { running: p?.state === "running", detail: p?.detail ?? "the agent found no ZooKeeper process" };
    },

    async observe(plan: Plan, hosts: readonly string[], versions: readonly string[], roles?: AwaitHealthyStep["roles"], reuseAfter?: number) {
      const members = plan.target.members.filter((m) => hosts.includes(m.host)).map((m) => {
        const role = roles?.[m.host];
        return role === undefined || role === "learner" ? m : { ...m, role };
      });
      const prior = last;
      const reuse = reuseAfter !== undefined && prior !== undefined && prior.at >= reuseAfter && Date.now() - prior.at <= REUSE_MS &&
        members.every((m) => prior.seen.has(m.host));
      const at = reuse ? prior.at : Date.now();
      const observed = reuse ? members.map((m) => prior.seen.get(m.host)!) : await Promise.all(members.map((m) => observeServer(fleet, m.host, m.probe)));
      if (!reuse) last = { at, seen: new Map(members.map((m, i) => [m.host, observed[i]!])) };
      const learners = Object.entries(roles ?? {}).filter(([, r]) => r === "learner").map(([h]) => h);
      return { ...judgeEnsemble(plan.target, members.map((m, i) => toHostReport(m, observed[i]!)), { versions, learners }), observedAt: at };
    },
  };
}
