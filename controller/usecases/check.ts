// `zkfleet check FILE...`: validate and lint inventories without touching any
// host. Several files are checked together because some mistakes only show
// across them: two ensembles on the same address and port, or two
// inventories claiming the same ensemble name.
import { placeFindings, type Finding, type SourceMap } from "../inventory/findings.js";
import { lintInventory } from "../inventory/lint.js";
import { readInventory, type LoadOptions } from "../inventory/load.js";
import { superPasswordFindings } from "../inventory/super-user.js";
import type { Inventory } from "../inventory/schema.js";
import { adminServerEnabled } from "../../common/versions.js";

export interface LintResult {
  /** True when no finding is an error (warnings do not fail a check). */
  ok: boolean;
  findings: Finding[];
  /** The files that parsed, as parsed: apply goes on with these rather than reading and validating them again. */
  inventories: LoadedInventory[];
}

export interface LoadedInventory {
  file: string;
  inventory: Inventory;
}

interface HostPorts {
  file: string;
  ensemble: string;
  host: string;
  hostIndex: number;
  address: string;
  ports: Map<number, string>;
}

function hostPorts({ file, inventory: inv }: LoadedInventory): HostPorts[] {
  const zk = inv.zookeeper;
  const ports = new Map<number, string>([
    [zk.client_port, "client_port"],
    [zk.quorum_port, "quorum_port"],
    [zk.election_port, "election_port"],
  ]);
  if (adminServerEnabled(zk)) ports.set(zk.admin_port, "admin_port");
  return inv.hosts.map((host, hostIndex) => ({
    file,
    ensemble: inv.ensemble,
    host: host.name,
    hostIndex,
    address: host.address.toLowerCase(),
    ports,
  }));
}

function duplicateEnsembles(loaded: readonly LoadedInventory[]): Finding[] {
  const byEnsemble = new Map<string, string>();
  return loaded.flatMap(({ file, inventory }): Finding[] => {
    const other = byEnsemble.get(inventory.ensemble);
    if (other === undefined) {
      byEnsemble.set(inventory.ensemble, file);
      return [];
    }
    return [
      {
        severity: "error",
        code: "duplicate-ensemble",
        path: ["ensemble"],
        file,
        message: `ensemble ${inventory.ensemble} is also defined in ${other}; the /etc/hosts block and journal are keyed by this name, rename one`,
      },
    ];
  });
}

function sharedListeners(loaded: readonly LoadedInventory[]): Finding[] {
  const all = loaded.flatMap(hostPorts);
  return all.flatMap((host, index): Finding[] => {
    // Compare with hosts of earlier files only: within one file the schema already refuses a shared address.
    const earlier = all.slice(0, index).filter((other) => other.file !== host.file && other.address === host.address);
    return earlier.flatMap((other): Finding[] => {
      const shared = [...host.ports.keys()].filter((port) => other.ports.has(port));
      if (shared.length === 0) return [];
      const list = shared.map((port) => `${port} (${host.ports.get(port)})`).join(", ");
      return [
        {
          severity: "error",
          code: "shared-listener",
          path: ["hosts", host.hostIndex, "address"],
          host: host.host,
          file: host.file,
          message:
            `${host.address} port ${list} is also used there by host ${other.host} of ensemble ${other.ensemble} (${other.file}); ` +
            "change the address or the ports in one of them",
        },
      ];
    });
  });
}

/** Findings that need more than one inventory to see. Pure. */
export function crossCheck(loaded: readonly LoadedInventory[]): Finding[] {
  return [...duplicateEnsembles(loaded), ...sharedListeners(loaded)];
}

/** Loads, validates and lints every file, then checks them against each other. */
export async function lintInventories(files: readonly string[], options: LoadOptions = {}): Promise<LintResult> {
  const findings: Finding[] = [];
  const loaded: LoadedInventory[] = [];
  const sources = new Map<string, SourceMap>();
  for (const file of files) {
    const result = await readInventory(file, options);
    if (!result.ok) {
      // Appended one by one: spreading a long list as arguments overflows the stack.
      for (const problem of result.problems) findings.push(problem);
      continue;
    }
    loaded.push({ file, inventory: result.inventory });
    sources.set(file, result.source);
    const own = [...lintInventory(result.inventory), ...superPasswordFindings(result.inventory)];
    for (const finding of placeFindings(own, file, result.source)) findings.push(finding);
  }
  for (const finding of crossCheck(loaded)) {
    const source = finding.file === undefined ? undefined : sources.get(finding.file);
    findings.push(source && finding.file ? placeFindings([finding], finding.file, source)[0]! : finding);
  }
  return { ok: findings.every((finding) => finding.severity !== "error"), findings, inventories: loaded };
}
