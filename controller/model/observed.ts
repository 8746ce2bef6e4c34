// What zkfleet knows about one host after looking at it: the one name for a
// host's observed state, produced by observe.ts (through the agent, or through
// four-letter words only, as status does) and read by the planner, the health
// verdict and the executor's gates. Pure data and pure accessors.
import type { FileRead, OpData } from "../../common/protocol.js";

export type { FileRead };

export interface ObservedHost {
  /** The fleet key: the host's name, or "ensemble/host" when several inventories are open. */
  host: string;
  reachable: boolean;
  /** Why the host could not be observed (SSH, agent), with the fix. */
  error?: string;
  /** From the agent: releases, process, data dir, managed files. Absent when only the server was asked. */
  facts?: OpData<"facts">;
  /** What ZooKeeper itself answered on its client port. */
  server?: OpData<"status">;
  ms: number;
}

export const fileRead = (o: ObservedHost, path: string): FileRead => o.facts?.files[path] ?? { state: "absent" };

/** The content of a file, or null when it is absent (an unreadable file is a refusal, checked before this is used). */
export function fileContent(o: ObservedHost, path: string): string | null {
  const f = fileRead(o, path);
  return f.state === "present" ? f.content : null;
}

/** A ZooKeeper process of this configuration runs (pid file and /proc agree); falls back to the client port when facts were not read. */
export function isRunning(o: ObservedHost): boolean {
  if (o.facts?.process) return o.facts.process.state === "running";
  return o.server?.running ?? false;
}

/** leader, follower, observer, standalone; undefined when not serving or not asked. */
export const modeOf = (o: ObservedHost): string | undefined => o.server?.mode;

export const installedReleases = (o: ObservedHost): string[] => o.facts?.releases?.versions ?? [];
export const currentRelease = (o: ObservedHost): string | null => o.facts?.releases?.current ?? null;
/** The data dir holds a version-2 directory: the server has state that must not be lost. */
export const hasData = (o: ObservedHost): boolean => o.facts?.data_dir?.version2 ?? false;

/** "3.8.0" from srvr's "3.8.0-5a02a05..., built on ...". */
export function runningVersion(o: ObservedHost): string | undefined {
  return o.server?.version?.split(/[-,\s]/)[0];
}
