// `zkfleet adopt ADDRESS...`: its flags and what it prints; the work is
// usecases/adopt.ts, loaded only when the command runs.
import { resolve } from "node:path";
import type { Command } from "commander";
import { ExitCode } from "../../common/errors.js";
import { defaultArtifactsDir } from "../../common/paths.js";
import { describeStep, planSteps } from "../plan/steps.js";
import type { CommandContext } from "./context.js";

export function register(program: Command, { io, setExit, fleetOptions }: CommandContext): void {
  program.command("adopt")
    .description("write the inventory of a running ensemble zkfleet did not install (hand-installed from the Apache tarball)")
    .argument("<address...>", "every server's address, as SSH reaches it")
    .requiredOption("--ensemble <name>", "the name to give the ensemble (its /etc/hosts block, its journal)")
    .requiredOption("-o, --output <file>", "the inventory to write")
    .option("--force", "replace the output file if it exists")
    .option("--user <user>", "SSH user", "root")
    .option("--port <port>", "SSH port", (v) => Number(v))
    .option("--identity-file <file>", "SSH private key")
    .option("--known-hosts <file>", "known_hosts file (default ~/.ssh/known_hosts)")
    .option("--accept-new-host-keys", "trust and record unknown host keys (a changed key is refused regardless)")
    .option("--become", "run privileged steps through sudo")
    .option("--config <path>", "the zoo.cfg to read where no server runs with one")
    .option("--install-dir <dir>", "where zkfleet will unpack other releases (never the adopted one)", "/opt/zookeeper-releases")
    .option("--agent-dir <dir>", "where zkfleet keeps its agent and state on the hosts")
    .option("--dists <dir>", "local directory with the distributions, for later upgrades (default: zkfleet's artifact cache)")
    .option("--json", "machine-readable output")
    .addHelpText("after", [
      "",
      "Example:",
      "  zkfleet adopt --ensemble orders --identity-file ~/.ssh/id_ed25519 -o orders.yml 10.0.1.11 10.0.1.12 10.0.1.13",
      "  zkfleet apply -i orders.yml --check     # must say: nothing to do",
    ].join("\n"))
    .action(async (addresses: string[], o) => {
      const local = (p: string | undefined) => (p === undefined ? undefined : resolve(p.replace(/^~(?=\/|$)/, process.env.HOME ?? "~")));
      const identity = local(o.identityFile);
      const knownHosts = local(o.knownHosts);
      const { runAdopt } = await import("../usecases/adopt.js");
      const result = await runAdopt({
        addresses, ensemble: o.ensemble, output: o.output, force: !!o.force,
        ssh: {
          user: o.user, ...(o.port ? { port: o.port } : {}), ...(identity ? { identity_file: identity } : {}),
          ...(knownHosts ? { known_hosts: knownHosts } : {}), ...(o.become ? { become: true } : {}),
          ...(o.acceptNewHostKeys ? { accept_new_host_keys: true } : {}),
        },
        installDir: o.installDir, ...(o.agentDir ? { agentDir: o.agentDir } : {}), dists: o.dists ?? defaultArtifactsDir(io.env),
        ...(o.config ? { config: o.config } : {}), fleet: fleetOptions(o),
      });
      const steps = planSteps(result.plan);
      if (o.json) {
        io.out(JSON.stringify({
          file: result.file, inventory: result.adoption.inventory, notes: result.adoption.notes,
          exact: steps.length === 0, steps: steps.map(describeStep), deferred: result.plan.deferred ?? [],
        }, null, 2));
      } else {
        io.out(`wrote ${result.file}: ensemble ${o.ensemble}, ${addresses.length} server(s)`);
        for (const n of result.adoption.notes) io.out(`  note: ${n}`);
        if (steps.length === 0) io.out(`apply --check with it: nothing to do (${(result.plan.deferred ?? []).length} file(s) taken over at each server's next restart)`);
        else {
          io.out(`apply --check with it would still do ${steps.length} step(s); the adoption is not exact:`);
          for (const st of steps) io.out(`  - ${describeStep(st)}`);
        }
      }
      setExit(steps.length === 0 ? ExitCode.ok : ExitCode.changed);
    });
}
