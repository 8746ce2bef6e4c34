// Restore as a plan (pure): the plan apply makes for a stopped or new
// ensemble (install, files, then every server started and the ensemble
// checked), with one stage before the starts that puts the backup into
// every member's data directory. Every member gets the same files, so every
// member starts from the same history and any of them may lead.
import { fileContent, isRunning, type ObservedHost } from "../model/observed.js";
import type { Plan, Refusal, RestoreDataStep, Stage } from "./steps.js";

export interface RestoreSpec {
  /** The backup directory on the controller. */
  backup: string;
  /** sha256 of its manifest: which backup a host's marker names. */
  backupId: string;
  files: RestoreDataStep["files"];
  /** The run the ensemble lock is held under: a resumed restore keeps the hosts its run restored. */
  lockRun: string;
  markerPath: string;
  /** Per host: where its data goes and where the files are staged. */
  hosts: Record<string, { stagingDir: string; args: Omit<RestoreDataStep["args"], "marker"> }>;
}

export interface RestoreMarker {
  backup: string;
  run: string;
  from: string;
}

export function restoreMarker(spec: RestoreSpec): RestoreMarker {
  return { backup: spec.backupId, run: spec.lockRun, from: spec.backup };
}

/** Whether this run (resumed) already put this backup on the host: its marker is written after the files. */
export function restoredByThisRun(o: ObservedHost, spec: RestoreSpec): boolean {
  const text = fileContent(o, spec.markerPath);
  if (text === null) return false;
  try {
    const m = JSON.parse(text) as Partial<RestoreMarker>;
    return m.backup === spec.backupId && m.run === spec.lockRun;
  } catch {
    return false;
  }
}

export function planRestore(plan: Plan, observed: readonly ObservedHost[], spec: RestoreSpec): Plan {
  if (plan.refusals.length > 0) return plan;
  const members = plan.target.members.map((m) => m.host);
  const byHost = new Map(observed.map((o) => [o.host, o]));
  const done = new Set(members.filter((h) => restoredByThisRun(byHost.get(h)!, spec)));
  // A server that runs without this run's restore under it holds data of its own: restore never stops it.
  const running = members.filter((h) => isRunning(byHost.get(h)!) && !done.has(h));
  const stops = plan.stages.flatMap((s) => s.steps).filter((st) => st.kind === "stop").map((st) => st.host);
  const refusals: Refusal[] = [...new Set([...running, ...stops])].map((host) => ({
    code: "restore_target_running", host,
    message: `${host}: ZooKeeper is running there; restore writes only into a stopped or new ensemble`,
    data: { mode: byHost.get(host)?.server?.mode ?? null },
  }));
  if (refusals.length > 0) return { target: plan.target, stages: [], unchanged: [], refusals };

  const marker = JSON.stringify(restoreMarker(spec)) + "\n";
  const steps: RestoreDataStep[] = members.filter((h) => !done.has(h)).map((host) => ({
    kind: "restore_data", host, backup: spec.backup, files: spec.files, stagingDir: spec.hosts[host]!.stagingDir,
    args: { ...spec.hosts[host]!.args, marker: { path: spec.markerPath, content: marker } },
    reason: "every member starts from the same backup",
  }));
  if (steps.length === 0) return plan;
  const stage: Stage = { title: "put the backup into every member's data directory", concurrent: true, steps };
  const firstStart = plan.stages.findIndex((s) => s.steps.some((st) => st.kind === "start"));
  const at = firstStart === -1 ? plan.stages.length : firstStart;
  return { ...plan, stages: [...plan.stages.slice(0, at), stage, ...plan.stages.slice(at)] };
}
