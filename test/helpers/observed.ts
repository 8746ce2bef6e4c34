// Builds ObservedHost values for unit tests of the pure layer (planner,
// ensemble model): the same shape observe.ts produces from a real agent,
// filled from a few fields a test cares about.
import type { FileRead } from "../../common/protocol.js";
import type { ObservedHost } from "../../controller/model/observed.js";

export interface HostShape {
  host: string;
  reachable?: boolean;
  error?: string;
  running?: boolean;
  mode?: string;
  /** The version the server reports (srvr); defaults to current when running. */
  version?: string;
  current?: string | null;
  installed?: string[];
  hasData?: boolean;
  /** Managed files: a string is present content, null absent, { unreadable } an unreadable file. */
  files?: Record<string, string | null | { unreadable: string }>;
  /** `conf` key/values of the running server (3.5+ lists server.N there). */
  conf?: Record<string, string>;
  dynamic?: { path: string; content: string };
  /** When the running server started (ms); files are written at 1000 unless writtenAt says otherwise. */
  startedAt?: number;
  writtenAt?: Record<string, number>;
}

function read(v: string | null | { unreadable: string }, mtime = 1000): FileRead {
  if (v === null) return { state: "absent" };
  if (typeof v === "string") return { state: "present", content: v, mtime_ms: mtime };
  return { state: "unreadable", error: v.unreadable };
}

export function observedHost(s: HostShape): ObservedHost {
  if (s.reachable === false) return { host: s.host, reachable: false, error: s.error ?? "unreachable", ms: 1 };
  const running = s.running ?? false;
  const current = s.current === undefined ? null : s.current;
  const version = s.version ?? (running ? current ?? undefined : undefined);
  return {
    host: s.host,
    reachable: true,
    ms: 1,
    facts: {
      hostname: s.host,
      node: "v20.0.0",
      os: null,
      releases: { dir: "/opt/zookeeper", versions: s.installed ?? (current ? [current] : []), current },
      process: running
        ? { pid_file: "/var/lib/zookeeper/zookeeper_server.pid", state: "running", pid: 100, config: null, started_at_ms: s.startedAt ?? 2000, detail: "running" }
        : { pid_file: "/var/lib/zookeeper/zookeeper_server.pid", state: "absent", pid: null, config: null, started_at_ms: null, detail: "absent" },
      myid: null,
      data_dir: {
        path: "/var/lib/zookeeper", exists: true, version2: s.hasData ?? running, snapshots: [], logs: [],
        highest_snapshot_zxid: null, highest_log_zxid: null,
      },
      data_log_dir: null,
      config_dir: null,
      files: Object.fromEntries(Object.entries(s.files ?? {}).map(([p, v]) => [p, read(v, s.writtenAt?.[p])])),
      dynamic_config: s.dynamic ? { path: s.dynamic.path, file: { state: "present", content: s.dynamic.content, mtime_ms: 1000 } } : null,
    },
    server: running
      ? {
          running: true, address: "127.0.0.1:2181", words: { srvr: "ok", mntr: "ok", conf: "ok" }, raw: {},
          ...(s.mode ? { mode: s.mode, serving: true } : { serving: false }),
          ...(version ? { version: `${version}-abc, built on 2024` } : {}),
          ...(s.conf ? { conf: s.conf } : {}),
        }
      : { running: false, address: "127.0.0.1:2181", words: {}, raw: {} },
  };
}
