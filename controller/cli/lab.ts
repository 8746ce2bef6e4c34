// `zkfleet lab`: a lab of simulated hosts on this machine. The lab and the
// distribution builder are loaded when a lab command runs.
import { type Command, Option } from "commander";
import { ZkfleetError } from "../../common/errors.js";
import { defaultArtifactsDir } from "../../common/paths.js";
import { KNOWN_ZOOKEEPER_VERSIONS } from "../../common/versions.js";
import type { FaultAction } from "../../lab/lab.js";
import { DEFAULT_LAB_DIR, DEFAULT_SUBNET } from "../../lab/plan.js";
import type { CommandContext } from "./context.js";
import { examples, intArg } from "./options.js";

export function register(program: Command, { io }: CommandContext): void {
  const lab = program.command("lab").description("a lab of simulated hosts on this machine, to rehearse on");
  const dirOption = () => new Option("--dir <dir>", "lab directory").default(DEFAULT_LAB_DIR);
  const jsonOption = () => new Option("--json", "machine-readable output");

  lab.command("up")
    .description("bring up N simulated hosts, each with its own address, sshd and filesystem view")
    .requiredOption("--hosts <n>", "how many hosts", intArg("--hosts"))
    .addOption(dirOption())
    .option("--subnet <a.b.c>", "loopback /24 for host addresses", DEFAULT_SUBNET)
    .option("--zk-version <version>", "ZooKeeper version for the lab inventory", "3.8.0")
    .option("--preinstall <version>",
      "install and start this ZooKeeper version by hand on every host (no zkfleet, no inventory), to rehearse `zkfleet adopt`")
    .option("--no-node", "hosts on which no node is found over SSH (nothing but SSH and Java), to rehearse zkfleet bringing its own")
    .option("--systemd", "hosts whose pid 1 is systemd (it runs their sshd), to run zookeeper.service: systemd for real")
    .addOption(jsonOption())
    .addHelpText("after", examples(
      "zkfleet lab up --hosts 3 && zkfleet apply -i /var/tmp/zkfleet-lab/inventory.yml --yes",
      "zkfleet lab up --hosts 5 --dir /var/tmp/lab2 --subnet 127.78.0   # a second lab beside the first",
      "zkfleet lab up --hosts 3 --preinstall 3.4.13                     # installed by hand, to rehearse adopt",
      "zkfleet lab down",
    ))
    .action(async (o, cmd: Command) => {
      const [{ adoptCommand, labUp, validateLabUp }, { ensureDists }] = await Promise.all([import("../../lab/lab.js"), import("../../dists/dists.js")]);
      const started = Date.now();
      const artifacts = defaultArtifactsDir(io.env);
      const progress = o.json ? () => {} : io.err;
      if (o.preinstall !== undefined && cmd.getOptionValueSource("zkVersion") === "cli") {
        throw new ZkfleetError("usage", "--zk-version and --preinstall together: a preinstalled lab has no inventory for --zk-version to go into", {
          where: "--zk-version",
          hint: "drop --zk-version: --preinstall names the version that runs",
        });
      }
      const opts = { hosts: o.hosts, dir: o.dir, subnet: o.subnet, dists: artifacts, preinstall: o.preinstall, noNode: o.node === false, systemd: o.systemd === true };
      validateLabUp(opts);
      await ensureDists({ cacheDir: artifacts, onProgress: progress });
      const state = await labUp({ ...opts, version: o.zkVersion, onProgress: progress });
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const next = state.preinstalled ? adoptCommand(state) : undefined;
      if (o.json) {
        io.out(JSON.stringify({ ...state, seconds: Number(seconds), ...(next ? { next } : {}) }, null, 2));
        return;
      }
      io.out(`lab up in ${seconds}s: ${state.hosts.length} hosts in ${state.dir}`);
      for (const h of state.hosts) io.out(`  ${h.name.padEnd(6)} ${h.address.padEnd(15)} ssh root@${h.address}`);
      if (state.preinstalled && next) {
        io.out(`zookeeper:   ${state.preinstalled.version} installed by hand in ${state.preinstalled.home}, not managed by zkfleet (no inventory yet)`);
        io.out(`adopt it:    ${next}`);
      } else {
        io.out(`inventory:   ${state.inventory}`);
      }
      io.out(`ssh config:  ssh -F ${state.dir}/ssh_config zk1`);
      io.out(`stop it:     zkfleet lab down --dir ${state.dir}`);
    });

  lab.command("down")
    .description("stop every process of the lab (by pid) and remove its directory")
    .addOption(dirOption())
    .addOption(jsonOption())
    .action(async (o) => {
      const { labDown } = await import("../../lab/lab.js");
      const r = await labDown(o.dir);
      if (o.json) io.out(JSON.stringify(r));
      else io.out(`lab in ${r.dir} is down (${r.stopped.length} hosts stopped${r.stopped.length ? ": " + r.stopped.join(", ") : ""})`);
    });

  lab.command("status")
    .description("list the lab's hosts and what runs on them")
    .addOption(dirOption())
    .addOption(jsonOption())
    .action(async (o) => {
      const { labStatus } = await import("../../lab/lab.js");
      const s = await labStatus(o.dir);
      if (o.json) {
        io.out(JSON.stringify(s, null, 2));
        return;
      }
      io.out(`lab ${s.dir}`);
      io.out(`  ${"host".padEnd(6)} ${"address".padEnd(15)} ${"power".padEnd(5)} ${"sshd".padEnd(9)} ${"procs".padEnd(5)} zookeeper`);
      for (const h of s.hosts) {
        const zk = h.zookeeper.length ? h.zookeeper.map((z) => `pid ${z.pid} ${z.state}`).join(", ") : "-";
        io.out(`  ${h.name.padEnd(6)} ${h.address.padEnd(15)} ${h.power.padEnd(5)} ${h.sshd.padEnd(9)} ${String(h.processes).padEnd(5)} ${zk}`);
      }
    });

  lab.command("dists")
    .description("build (once) the ZooKeeper distributions from Debian packages into the artifact cache")
    .option("--version <v...>", `versions (default: ${KNOWN_ZOOKEEPER_VERSIONS.join(", ")})`)
    .action(async (o) => {
      const { ensureDists } = await import("../../dists/dists.js");
      const paths = await ensureDists({ cacheDir: defaultArtifactsDir(io.env), versions: o.version, onProgress: io.err });
      for (const [v, p] of paths) io.out(`${v}\t${p}`);
    });

  const faults: [FaultAction, string][] = [
    ["power-off", "kill every process of a host, as pulling its plug would"],
    ["power-on", "boot a powered-off host again (its disks are kept)"],
    ["freeze", "SIGSTOP the host's ZooKeeper"],
    ["thaw", "SIGCONT the host's ZooKeeper"],
    ["cut-ssh", "make the host's sshd stop answering (connections hang)"],
    ["restore-ssh", "undo cut-ssh"],
  ];
  for (const [action, description] of faults) {
    lab.command(`${action} <host>`)
      .description(description)
      .addOption(dirOption())
      .action(async (host: string, o) => {
        const { labFault } = await import("../../lab/lab.js");
        io.out(await labFault(action, host, o.dir));
      });
  }

}
