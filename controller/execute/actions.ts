// Actions on a fleet: how each kind of step is carried out through the
// agent and the SSH connections, and how gates observe an ensemble (four-
// letter words through the connection, no process started on the hosts).
// Everything a step needs comes from the step; the fleet only supplies
// connections and the agent.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { posix } from "node:path";
import { ZkfleetError } from "../../common/errors.js";
import type { Fleet } from "../fleet.js";
import { observeServer, toHostReport } from "../observe.js";
import type { Plan, Preinstalled } from "../plan/steps.js";
import { judgeEnsemble } from "../status/health.js";
import type { Actions } from "./executor.js";

export function fleetActions(fleet: Fleet): Actions {
  // Already unpacked by an earlier install step: install_dist only switches the link and never reads the tarball.
  const switchRelease = async (step: { host: string; version: string; installDir: string; preinstalled?: Preinstalled }) => {
    const r = await fleet.call(step.host, "install_dist", {
      tarball: posix.join(step.installDir, "releases", `.not-needed-${step.version}.tar.gz`), version: step.version,
      install_dir: step.installDir, set_current: true, ...(step.preinstalled ? { preinstalled: step.preinstalled } : {}),
    });
    return { changed: r.changed, message: r.message, data: { current_before: r.data.current_before, current_after: r.data.current_after } };
  };
  return {
    async install(step) {
      // Unpacked already (or the adopted release): only `current` moves, nothing is pushed.
      if (step.setCurrent && step.before.installed.includes(step.version)) return switchRelease(step);
      const h = fleet.host(step.host);
      const conn = await fleet.connection(step.host);
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
      const become = h.inventory.ssh.become;
      const mk = await conn.run(["mkdir", "-p", step.transferDir], { become });
      if (mk.code !== 0) throw new ZkfleetError("ssh", `cannot create ${step.transferDir} on ${step.host}: ${mk.stderr.trim()}`, { where: step.host });
      await conn.put(remote, content, 0o644);
      try {
        const r = await fleet.call(step.host, "install_dist", {
          tarball: remote, version: step.version, install_dir: step.installDir, set_current: step.setCurrent, sha256,
          ...(step.preinstalled ? { preinstalled: step.preinstalled } : {}),
        });
        return { changed: r.changed, message: r.message, data: { current_before: r.data.current_before, current_after: r.data.current_after } };
      } finally {
        // The release is unpacked; the pushed tarball is only a transfer copy.
        await conn.run(["rm", "-f", "--", remote], { become });
      }
    },

    async writeFile(step) {
      const r = await fleet.call(step.host, "write_file", { path: step.path, content: step.content, mode: step.mode, state_dir: step.stateDir });
      return { changed: r.changed, message: r.message, data: { backup: r.data.backup } };
    },

    switchRelease,

    async cleanData(step) {
      const r = await fleet.call(step.host, "clean_data", step.args);
      return { changed: r.changed, message: r.message, data: { moved: r.data.moved } };
    },

    async start(step) {
      const r = await fleet.call(step.host, "start", step.args);
      return { changed: r.changed, message: r.message, data: { pid: r.data.pid } };
    },

    async stop(step) {
      const r = await fleet.call(step.host, "stop", step.args);
      return { changed: r.changed, message: r.message, data: { pid: r.data.pid, signal: r.data.signal } };
    },

    async observe(plan: Plan, hosts: readonly string[], versions: readonly string[]) {
      const members = plan.target.members.filter((m) => hosts.includes(m.host));
      const observed = await Promise.all(members.map((m) => observeServer(fleet, m.host, m.probe)));
      return judgeEnsemble(plan.target, members.map((m, i) => toHostReport(m, observed[i]!)), { versions });
    },
  };
}
