// A host with nothing but SSH and Java still runs the agent: zkfleet brings
// the runtime itself. The runtime is the controller's own node binary (an
// official Node.js build links only glibc and the GCC runtime, so it runs on
// any Linux host of the same architecture with a glibc at least as new as the
// one it was built against; runtime-platform.ts decides that from the probe).
// It goes where the agent bundle goes, content-addressed in the same way:
// agent.dir/runtime/node-<version>-<sha256 prefix>, checked by sha256 and by
// running it on the host before it is renamed into place, so the name only
// ever holds a verified runtime. A later run finds the name in the probe's
// answer and pushes nothing: the cost is paid once per host and node version.
//
// It travels gzip-compressed (level 1: 98.9 MB of node 20 is 40.2 MB) and is
// unpacked as it arrives. bench/runtime-push.mjs measured both ways: on the
// lab's loopback raw is faster (the compression, once per run, and the
// unpacking cost CPU the lab's hosts share with the controller), from about
// 100 ms of round trip on gzip is, and it always sends 60% fewer bytes, which
// is what a fleet behind one uplink or a slow link to a remote site pays for.
//
// `agent.node: node` (the default) means: the host's node when it is recent
// enough, else this runtime. An explicit path means that node and no other.

import { randomBytes, createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { posix } from "node:path";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { ZkfleetError } from "../../common/errors.js";
import type { Connection } from "../connection/types.js";
import { readElfNeeds } from "./elf.js";
import {
  type HostProbe, type RuntimeNeeds, type Unportable,
  hostNodeChoice, judgePlatform, parseProbe, platformRefusal, runtimeNeedsOf, unportableRefusal,
} from "./runtime-platform.js";

const gzipAsync = promisify(gzip);

/** The value of agent.node that lets zkfleet choose between the host's node and its own. */
export const DEFAULT_NODE = "node";

export interface RuntimeImage {
  content: Buffer;
  sha256: string;
  /** What `node --version` says, e.g. v20.20.2. */
  version: string;
  /** node-<version>-<first 16 hex of sha256> */
  fileName: string;
}

/** One runtime push, for the run's report: what crossed the link and how long the first contact took. */
export interface RuntimePush {
  host: string;
  path: string;
  version: string;
  /** Bytes sent over the connection. */
  bytes: number;
  /** The runtime's own size. */
  rawBytes: number;
  compressed: boolean;
  /** From the probe to the runtime renamed into place, compression included. */
  ms: number;
}

/** The runtime a host's agent runs with; `pushed` only on the run that brought it. */
export interface RuntimeUse {
  path: string;
  version: string;
  /** Why the host's own node is not used. */
  why: string;
  pushed?: RuntimePush;
}

export interface NodeChoice {
  node: string;
  nodeVersion: string;
  runtime?: RuntimeUse;
}

/**
 * The controller's node as the runtime zkfleet pushes. One per run, shared by
 * every host of it: the binary is read, hashed and compressed at most once,
 * and only when some host needs it (its ELF headers alone are read for the
 * probe: a few kilobytes).
 */
export class ControllerRuntime {
  private needsOnce?: Promise<RuntimeNeeds | Unportable>;
  private imageOnce?: Promise<RuntimeImage>;
  private gzipOnce?: Promise<Buffer>;

  constructor(
    readonly path: string = process.execPath,
    readonly version: string = process.version,
    /** gzip on the way when the host has gzip (off only for measuring what it saves). */
    readonly compress = true,
  ) {}

  needs(): Promise<RuntimeNeeds | Unportable> {
    this.needsOnce ??= readElfNeeds(this.path).then(
      (elf) => runtimeNeedsOf(elf, this.path),
      (err: unknown) => ({ unportable: `${this.path} cannot be read: ${(err as Error).message}` }),
    );
    return this.needsOnce;
  }

  image(): Promise<RuntimeImage> {
    this.imageOnce ??= readFile(this.path).then((content) => {
      const sha256 = createHash("sha256").update(content).digest("hex");
      return { content, sha256, version: this.version, fileName: `node-${this.version}-${sha256.slice(0, 16)}` };
    });
    return this.imageOnce;
  }

  /** Level 1: nearly all of level 6's saving (40.2 vs 36.9 MB for node 20) at a fifth of its time (1.9 vs 9.4 s). */
  gzipped(): Promise<Buffer> {
    this.gzipOnce ??= this.image().then((image) => gzipAsync(image.content, { level: 1 }));
    return this.gzipOnce;
  }
}

export interface ChooseNodeOptions {
  agentDir: string;
  become?: boolean;
  runtime: ControllerRuntime;
  minNodeMajor: number;
}

export function runtimeDir(agentDir: string): string {
  return posix.join(agentDir, "runtime");
}

// Constant: every variable part is an argument. Prints key=value lines
// (runtime-platform.ts parses them) and changes nothing. A recent enough node
// ends it early, so a host with node pays one `node --version`, as before.
const PROBE_SCRIPT = `min=$1 dir=$2 interp=$3
shift 3
if v=$(node --version 2>/dev/null); then
  echo "node=$(command -v node)"
  echo "node_version=$v"
  major=\${v#v}; major=\${major%%.*}
  case $major in ''|*[!0-9]*) ;; *) [ "$major" -ge "$min" ] && exit 0 ;; esac
elif command -v node >/dev/null 2>&1; then
  echo "node=$(command -v node)"
fi
echo "os=$(uname -s)"
echo "arch=$(uname -m)"
g=$(getconf GNU_LIBC_VERSION 2>/dev/null) && echo "glibc=\${g#glibc }"
for m in /lib/ld-musl-*.so.1; do
  if [ -e "$m" ]; then echo "musl=$("$m" 2>&1 | sed -n 's/^Version //p')"; break; fi
done
if [ -n "$interp" ] && [ -e "$interp" ]; then echo interpreter=yes; fi
if command -v gzip >/dev/null 2>&1; then echo gzip=yes; fi
if command -v sha256sum >/dev/null 2>&1; then echo sha256sum=yes; fi
for f in "$dir"/node-*; do if [ -f "$f" ]; then echo "present=\${f##*/}"; fi; done
ldconfig=
for c in "$(command -v ldconfig 2>/dev/null)" /sbin/ldconfig /usr/sbin/ldconfig; do
  if [ -n "$c" ] && [ -x "$c" ]; then ldconfig=$c; break; fi
done
for spec in "$@"; do
  lib=\${spec%%=*}
  wanted=$(printf '%s\\n' "\${spec#*=}" | tr ',' '\\n')
  paths=
  if [ -n "$ldconfig" ]; then paths=$("$ldconfig" -p 2>/dev/null | awk -v n="$lib" '$1 == n { print $NF }'); fi
  if [ -z "$paths" ]; then paths=$(ls -d /lib64/"$lib" /usr/lib64/"$lib" /lib/*/"$lib" /usr/lib/*/"$lib" /lib/"$lib" /usr/lib/"$lib" 2>/dev/null); fi
  for p in $paths; do
    if [ -r "$p" ]; then echo "lib=$lib $p $(tr '\\000' '\\n' < "$p" | grep -xF -e "$wanted" | sort -u | tr '\\n' ' ')"; fi
  done
done
exit 0
`;

// Receives the runtime on stdin, unpacking it as it arrives (so unpacking
// overlaps the transfer instead of following it), checks its sha256 and that
// the loader accepts it, then renames it into place. On any failure, and when
// the controller goes away mid-stream (gzip sees a truncated stream), it
// removes what it wrote, so the host is left as it was; leftovers of a push
// killed harder than that are removed by the next push once an hour old.
// Exit codes tell the controller why.
const INSTALL_SCRIPT = `dir=$1 tmp=$2 final=$3 sum=$4 packed=$5
fail() { rm -f "$tmp"; printf '%s\\n' "$2" >&2; exit "$1"; }
mkdir -p "$dir" && chmod 700 "\${dir%/*}" || { cat >/dev/null; exit 14; }
find "$dir" -maxdepth 1 -type f -name '.node-*' -mmin +60 -exec rm -f {} + 2>/dev/null
if [ "$packed" = gzip ]; then
  err=$(gzip -dc 2>&1 >"$tmp") || fail 10 "gzip -dc: $err"
else
  err=$(cat 2>&1 >"$tmp") || fail 10 "cat: $err"
fi
chmod 755 "$tmp" || fail 10 "chmod 755 $tmp failed"
if command -v sha256sum >/dev/null 2>&1; then
  got=$(sha256sum "$tmp" | cut -d ' ' -f 1)
else
  got=$("$tmp" -e 'process.stdout.write(require("crypto").createHash("sha256").update(require("fs").readFileSync(process.execPath)).digest("hex"))' 2>&1)
fi
[ "$got" = "$sum" ] || fail 11 "sha256 of the unpacked runtime is $got"
out=$("$tmp" --version 2>&1) || fail 12 "$out"
mv -f "$tmp" "$final" || fail 13 "mv -f $tmp $final failed"
printf '%s\\n' "$out"
`;

/** Asks the host which node it has and, when that will not do, everything the runtime decision needs. Changes nothing. */
export async function probeHost(conn: Connection, opts: ChooseNodeOptions, needs: RuntimeNeeds | Unportable): Promise<HostProbe> {
  const libs = "unportable" in needs ? [] : needs.libraries.map((l) => `${l.name}=${l.versions.join(",")}`);
  const interp = "unportable" in needs ? "" : needs.interpreter ?? "";
  let r;
  try {
    r = await conn.run(["sh", "-c", PROBE_SCRIPT, "sh", String(opts.minNodeMajor), runtimeDir(opts.agentDir), interp, ...libs], {
      become: opts.become, timeoutMs: 30_000,
    });
  } catch (cause) {
    throw new ZkfleetError("agent", `cannot probe ${conn.host} for a node to run the agent with`, { where: conn.host, cause });
  }
  if (r.code !== 0) {
    throw new ZkfleetError("agent", `probing ${conn.host} for node failed: ${r.stderr.trim().slice(0, 300) || `exit ${r.code}`}`, {
      where: conn.host, hint: `zkfleet needs a POSIX sh with uname, getconf and grep on ${conn.host}`,
    });
  }
  return parseProbe(r.stdout);
}

/**
 * The node the agent runs with on this host: its own when recent enough, else
 * zkfleet's runtime, pushed now unless the host has it already. A host that
 * cannot run the runtime is refused before anything is written to it.
 */
export async function chooseNode(conn: Connection, opts: ChooseNodeOptions): Promise<NodeChoice> {
  const started = performance.now();
  const needs = await opts.runtime.needs();
  const probe = await probeHost(conn, opts, needs);
  const choice = hostNodeChoice(probe, opts.minNodeMajor);
  if (choice.use === "host") return { node: DEFAULT_NODE, nodeVersion: choice.version };
  if ("unportable" in needs) throw unportableRefusal(conn.host, choice.why, needs, opts.minNodeMajor);
  const verdict = judgePlatform(probe, needs);
  if (!verdict.ok) throw platformRefusal(conn.host, verdict, choice.why, opts.minNodeMajor);

  const image = await opts.runtime.image();
  const dir = runtimeDir(opts.agentDir);
  const path = posix.join(dir, image.fileName);
  const use = { path, version: image.version, why: choice.why };
  if (probe.present.includes(image.fileName)) return { node: path, nodeVersion: image.version, runtime: use };
  const pushed = await pushRuntime(conn, opts, image, probe, dir);
  return { node: path, nodeVersion: image.version, runtime: { ...use, pushed: { ...pushed, ms: Math.round(performance.now() - started) } } };
}

async function pushRuntime(conn: Connection, opts: ChooseNodeOptions, image: RuntimeImage, probe: HostProbe, dir: string) {
  const packed = opts.runtime.compress && probe.gzip;
  const data = packed ? await opts.runtime.gzipped() : image.content;
  const tmp = posix.join(dir, `.${image.fileName}.${randomBytes(6).toString("hex")}`);
  const final = posix.join(dir, image.fileName);
  // One command for the whole push: a round trip less than put-then-install, and no packed copy on the host's disk.
  const r = await conn.run(["sh", "-c", INSTALL_SCRIPT, "sh", dir, tmp, final, image.sha256, packed ? "gzip" : "none"], {
    stdin: data, become: opts.become, timeoutMs: 30 * 60_000,
  });
  if (r.code !== 0) throw installError(conn.host, `${conn.host}:${dir}`, opts.agentDir, r.code, r.stderr.trim(), opts.minNodeMajor);
  return { host: conn.host, path: final, version: image.version, bytes: data.length, rawBytes: image.content.length, compressed: packed };
}

function installError(host: string, where: string, agentDir: string, code: number, said: string, minNodeMajor: number): ZkfleetError {
  const detail = said.slice(0, 400) || `exit ${code}`;
  const kept = "nothing of it was kept";
  switch (code) {
    case 10:
      return new ZkfleetError("agent", `cannot unpack zkfleet's node runtime on ${host}: ${detail}; ${kept}`, {
        where, hint: "the runtime needs about 100 MB there while it is unpacked: free space or point agent.dir at a larger filesystem",
      });
    case 11:
      return new ZkfleetError("agent", `zkfleet's node runtime arrived damaged on ${host} (${detail}); ${kept}`, {
        where, hint: "run again; if it repeats, check the host's disk and memory",
      });
    case 12:
      return new ZkfleetError("agent", `zkfleet's node runtime does not start on ${host}: ${detail}; ${kept}`, {
        where,
        hint: /permission denied/i.test(said)
          ? "agent.dir is on a filesystem mounted noexec: set agent.dir to one where programs may run"
          : `install Node.js >= ${minNodeMajor} on ${host}, or set agent.node to one`,
      });
    case 14:
      return new ZkfleetError("agent", `cannot create ${where.slice(host.length + 1)} on ${host}; nothing was changed`, {
        where, hint: `make ${agentDir} writable for the SSH user on ${host}, or enable become`,
      });
    default:
      return new ZkfleetError("agent", `installing zkfleet's node runtime on ${host} failed: ${detail}; ${kept}`, {
        where, hint: `make ${agentDir} writable for the SSH user on ${host}, or enable become`,
      });
  }
}

/** "v20.20.2 runtime pushed to zk1 (40.2 MB gzip of 98.9 MB) in 2.9 s: later runs use it" */
export function describePush(p: RuntimePush): string {
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  return `${p.host}: no usable node, zkfleet's node ${p.version} pushed to ${p.path} ` +
    `(${p.compressed ? `${mb(p.bytes)} gzip of ${mb(p.rawBytes)}` : mb(p.bytes)}) in ${(p.ms / 1000).toFixed(1)} s; later runs use it`;
}
