// Inventories shared by the inventory, render and check tests. Addresses are
// in this suite's loopback range (127.94.0.0/24) although nothing connects.
import { parseInventoryText } from "../../controller/inventory/load.js";
import { formatFinding } from "../../controller/inventory/findings.js";
import type { Inventory } from "../../controller/inventory/schema.js";

export interface FixtureOptions {
  version?: string;
  bind?: boolean;
  reconfig?: boolean;
  hostsFile?: "managed" | "unmanaged";
  extraZookeeper?: string[];
  service?: "script" | "systemd";
}

/** Three voters and one observer, written as a person would write them. */
export function fixtureYaml(options: FixtureOptions = {}): string {
  return [
    "ensemble: orders-zk",
    "zookeeper:",
    `  version: ${options.version ?? "3.8.0"}`,
    `  bind_to_address: ${options.bind ?? false}`,
    `  reconfig: ${options.reconfig ?? false}`,
    `  service: ${options.service ?? "script"}`,
    "  heap_mb: 512",
    "  config:",
    "    tickTime: 2000",
    "    autopurge.purgeInterval: 24",
    "    maxClientCnxns: 100",
    ...(options.extraZookeeper ?? []).map((line) => `  ${line}`),
    `hosts_file: ${options.hostsFile ?? "managed"}`,
    "hosts:",
    "  - { name: zk1, address: 127.94.0.11, myid: 1 }",
    "  - { name: zk2, address: 127.94.0.12, myid: 2 }",
    "  - { name: zk3, address: 127.94.0.13, myid: 3 }",
    "  - { name: zk4, address: 127.94.0.14, myid: 4, role: observer }",
    "",
  ].join("\n");
}

/** Parses text that must be valid; a failure shows every problem. */
export function parseValid(text: string, file = "/inventories/test.yml", homeDir = "/home/ops"): Inventory {
  const result = parseInventoryText(text, file, { homeDir });
  if (!result.ok) throw new Error(`fixture does not validate:\n${result.problems.map(formatFinding).join("\n")}`);
  return result.inventory;
}

/** 1-based number of the first line containing `needle`. */
export function lineOf(text: string, needle: string): number {
  const index = text.split("\n").findIndex((line) => line.includes(needle));
  if (index < 0) throw new Error(`fixture has no line containing ${needle}`);
  return index + 1;
}
