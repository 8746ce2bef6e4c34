// `zkfleet adopt ADDRESS...`: look at an ensemble zkfleet did not install
// (by hand from the Apache tarball) and write the inventory
// that describes it as it is. Read-only on the hosts apart from the agent
// zkfleet puts in its own directory. The inventory is then planned against
// the same hosts, as `apply --check` would: adoption is right only when that
// plan is empty, and the command says so either way. The command line is
// controller/cli/adopt.ts.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { stringify as toYaml } from "yaml";
import { ZkfleetError } from "../../common/errors.js";
import { expectSuccess } from "../agent-client/client.js";
import { type AdoptHost, type Adoption, configOf, describeAdoption } from "../adopt/describe.js";
import { ETC_HOSTS } from "../render/hosts-block.js";
import { Fleet, type FleetOptions } from "../fleet/fleet.js";
import { loadInventory, parseInventoryText } from "../inventory/load.js";
import { isHostname } from "../inventory/validators.js";
import { parseSettings } from "../model/zoo-cfg.js";
import { observationError, unobservableError } from "../observe/observe.js";
import { defaultJournalDir } from "../execute/journal.js";
import type { Plan } from "../plan/steps.js";
import { runApply } from "./apply.js";

export interface AdoptInput {
  addresses: string[];
  ensemble: string;
  output: string;
  force?: boolean;
  ssh: { user?: string; port?: number; identity_file?: string; known_hosts?: string; become?: boolean; accept_new_host_keys?: boolean };
  installDir: string;
  agentDir?: string;
  dists?: string;
  /** A zoo.cfg to read where no server runs (the server must still serve to be adopted). */
  config?: string;
  fleet?: FleetOptions;
}

export interface AdoptResult {
  adoption: Adoption;
  file: string;
  /** The plan apply would carry out with the written inventory: empty when adoption is exact. */
  plan: Plan;
}

/** A host's key until its name is known: the name given, or one made from an address (names may not be all digits). */
const keyOf = (address: string) => (isHostname(address) ? address : `at-${address.replace(/[.:%]/g, "-")}`);

/** An inventory to reach the hosts with, before anything about them is known. */
function reachOnly(input: AdoptInput) {
  const text = toYaml({
    ensemble: input.ensemble,
    zookeeper: { version: "3.8.0" },
    ssh: input.ssh,
    ...(input.agentDir ? { agent: { dir: input.agentDir } } : {}),
    hosts_file: "unmanaged",
    hosts: input.addresses.map((address, i) => ({ name: keyOf(address), address, myid: i + 1 })),
  });
  // Relative local paths (an identity file) are taken from the working directory, where they were typed.
  const parsed = parseInventoryText(text, resolve("(adopt arguments)"));
  if (!parsed.ok) {
    throw new ZkfleetError("usage", "the adopt arguments do not make a valid inventory", {
      where: parsed.problems.map((p) => p.message).join("\n         "),
      hint: "check the addresses and the --ensemble name",
    });
  }
  return parsed.inventory;
}

async function lookAt(fleet: Fleet, address: string, config: string | undefined): Promise<AdoptHost> {
  const key = keyOf(address);
  const discover = await fleet.call(key, "discover", config ? { config } : {});
  const host: AdoptHost = { address, discover: discover.data };
  const cfg = configOf(host);
  if (typeof cfg === "string") return host;
  const settings = parseSettings(cfg.text);
  const dataDir = settings.get("dataDir");
  const [facts, status] = await fleet.batch(key, [
    { op: "facts", args: { ...(dataDir?.startsWith("/") ? { data_dir: dataDir } : {}), files: [ETC_HOSTS], zoo_cfg: cfg.path } },
    {
      op: "status",
      args: { host: settings.get("clientPortAddress") ?? "127.0.0.1", port: Number(settings.get("clientPort") ?? 2181), words: ["srvr", "conf"], timeout_ms: 3000 },
    },
  ]);
  return { ...host, facts: expectSuccess(key, "facts", facts!).data, server: expectSuccess(key, "status", status!).data };
}

export async function runAdopt(input: AdoptInput): Promise<AdoptResult> {
  const file = resolve(input.output);
  if (existsSync(file) && !input.force) {
    throw new ZkfleetError("usage", `${file} exists`, { where: "-o", hint: "pass another file, or --force to replace it" });
  }
  if (input.addresses.length === 0) {
    throw new ZkfleetError("usage", "no host given", { hint: "name every server of the ensemble: zkfleet adopt --ensemble NAME -o inv.yml ADDRESS..." });
  }
  const fleet = await Fleet.open([reachOnly(input)], input.fleet);
  let hosts: AdoptHost[];
  try {
    const seen = await fleet.forEachHost(input.addresses.map(keyOf), (key) => lookAt(fleet, fleet.host(key).spec.address, input.config));
    const failed = seen.filter((r) => !r.ok);
    if (failed.length > 0) throw unobservableError(failed.map((r) => `${r.host}: ${r.ok ? "" : observationError(r.error)}`));
    hosts = seen.map((r) => (r.ok ? r.value : undefined)).filter((h): h is AdoptHost => h !== undefined);
  } finally {
    await fleet.close();
  }

  const adoption = describeAdoption(hosts, {
    ensemble: input.ensemble, installDir: input.installDir, ssh: input.ssh,
    ...(input.agentDir ? { agentDir: input.agentDir } : {}), ...(input.dists ? { dists: resolve(input.dists) } : {}),
  });
  if (adoption.problems.length > 0 || !adoption.inventory) {
    throw new ZkfleetError("plan", `the ensemble on ${input.addresses.join(", ")} cannot be described by an inventory as it is; nothing was written`, {
      where: adoption.problems.join("\n         "),
      hint: "fix what is named (or name every server), then run adopt again",
    });
  }
  const header = [
    `# Written by \`zkfleet adopt\` on ${new Date().toISOString()} from ${input.addresses.join(", ")}.`,
    "# It describes the ensemble as it runs: the next apply changes nothing and restarts nothing.",
    ...(adoption.notes.length > 0 ? ["# Not expressed, or changing only at a server's next restart:", ...adoption.notes.map((n) => `#   - ${n}`)] : []),
  ].join("\n");
  const temp = `${file}.adopt-${process.pid}`;
  writeFileSync(temp, `${header}\n${toYaml(adoption.inventory)}`, { mode: 0o644 });
  renameSync(temp, file);

  // The proof: plan with what was written, as apply would.
  const inventory = await loadInventory(file);
  const result = await runApply({
    file, inventory, check: true, fleet: input.fleet ?? {}, canary: { enabled: false }, journalDir: defaultJournalDir(process.env),
    inventoryHash: createHash("sha256").update(readFileSync(file)).digest("hex"), confirm: async () => false,
  });
  return { adoption, file, plan: result.plan };
}
