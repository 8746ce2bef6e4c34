// The lab's record, DIR/lab.json: which hosts it has and which process holds
// each one's namespaces. Every command after `lab up` starts from it.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ZkfleetError } from "../common/errors.js";
import { DEFAULT_LAB_DIR, type LabHost, validateLabDir } from "./plan.js";

/** A ZooKeeper ensemble installed by hand on every host (`lab up --preinstall`), not by zkfleet. */
export interface LabPreinstalled {
  version: string;
  home: string;
  config: string;
}

export interface LabState {
  format: 1;
  dir: string;
  subnet: string;
  createdAt: string;
  hosts: LabHost[];
  /**
   * Where the lab's inventory is. A preinstalled lab has none until
   * `zkfleet adopt -o` writes it there: an inventory describing a
   * zkfleet-managed ensemble would be a lie about those hosts.
   */
  inventory: string;
  identityFile: string;
  knownHosts: string;
  /** Absent in labs made before --preinstall existed, and in labs without it. */
  preinstalled?: LabPreinstalled;
}

export function labError(message: string, where?: string, hint?: string): ZkfleetError {
  return new ZkfleetError("lab", message, { where, hint });
}

export function statePath(dir: string): string {
  return join(dir, "lab.json");
}

export function readLabState(dir: string): LabState | undefined {
  const path = statePath(resolve(dir));
  if (!existsSync(path)) return undefined;
  const raw = readFileSync(path, "utf8");
  if (raw.trim() === "") return undefined; // claimed but never written: a crashed `up`
  try {
    return JSON.parse(raw) as LabState;
  } catch {
    throw labError(`lab state ${path} is not valid JSON`, path,
      "if no lab process is running, remove the directory by hand");
  }
}

export function writeLabState(state: LabState): void {
  const path = statePath(state.dir);
  writeFileSync(path + ".tmp", JSON.stringify(state, null, 2) + "\n");
  renameSync(path + ".tmp", path);
}

export function requireLab(dirOpt?: string): LabState {
  const dir = validateLabDir(dirOpt ?? DEFAULT_LAB_DIR);
  const state = readLabState(dir);
  if (!state) throw labError(`no lab in ${dir}`, dir, "start one with `zkfleet lab up --hosts 3`, or pass --dir");
  return state;
}
