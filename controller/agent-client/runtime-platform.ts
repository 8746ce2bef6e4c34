// Which node runs the agent on a host, decided from what a probe of the host
// found (pure: no connection here). A host whose own node is recent enough
// keeps using it. Otherwise zkfleet brings a runtime: its controller's own node
// binary, which runs wherever the CPU architecture matches, a glibc at least as
// new as the one it was built against is installed (glibc keeps old symbol
// versions, so newer is fine and older is not), and the GCC runtime libraries
// it links (libstdc++, libgcc_s) define the symbol versions it needs. musl
// (Alpine) cannot load it. Everything the binary needs is read from its own ELF
// headers (elf.ts), so a controller running another node build judges by
// that build's needs, not by a table written here.

import { ZkfleetError } from "../../common/errors.js";
import type { ElfNeeds } from "./elf.js";

/** What the runtime asks of a host, in the words a probe of the host answers with. */
export interface RuntimeNeeds {
  /** `uname -m` as it is usually spelled for this machine, e.g. x86_64. */
  arch: string;
  /** e_machine and byte order: which `uname -m` values match (see archMatches). */
  machine: number;
  littleEndian: boolean;
  /** Newest GLIBC_x.y symbol version needed; undefined for a static binary. */
  glibc?: string;
  /** The program interpreter (dynamic loader) that must exist on the host. */
  interpreter?: string;
  /** Libraries beyond glibc's own that must be on the host, with the symbol versions needed from each. */
  libraries: { name: string; versions: string[] }[];
}

/** A controller node that cannot be pushed on its own, and why. */
export interface Unportable {
  unportable: string;
}

/** Part of glibc itself: present wherever glibc is, versioned by GLIBC_x.y. */
const GLIBC_OWN = /^(?:libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libresolv\.so\.2|libutil\.so\.1|ld-linux[\w.-]*\.so\.\d+|ld64\.so\.\d+)$/;
/**
 * The GCC runtime: every glibc distribution has it, because its own package
 * manager is C++ (apt, dnf) or links it. Anything else (libnode, libuv, ICU:
 * distribution builds of node) would not be on a host without node.
 */
const GCC_RUNTIME = new Set(["libstdc++.so.6", "libgcc_s.so.1", "libatomic.so.1"]);

const MACHINES: Record<number, { arch: (le: boolean) => string; matches: (uname: string, le: boolean) => boolean }> = {
  62: { arch: () => "x86_64", matches: (m) => m === "x86_64" || m === "amd64" },
  183: { arch: () => "aarch64", matches: (m) => m === "aarch64" || m === "arm64" },
  40: { arch: () => "armv7l", matches: (m) => /^armv[78]/.test(m) },
  3: { arch: () => "i686", matches: (m) => /^i[3-6]86$/.test(m) },
  21: { arch: (le) => (le ? "ppc64le" : "ppc64"), matches: (m, le) => m === (le ? "ppc64le" : "ppc64") },
  22: { arch: () => "s390x", matches: (m) => m === "s390x" },
  243: { arch: () => "riscv64", matches: (m) => m === "riscv64" },
};

export function archMatches(needs: Pick<RuntimeNeeds, "machine" | "littleEndian">, uname: string): boolean {
  return MACHINES[needs.machine]?.matches(uname, needs.littleEndian) ?? false;
}

/** -1, 0, 1 for dotted versions: "2.28" < "2.36", "2.3.4" < "2.28". */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** The runtime's needs from its ELF headers, or why it cannot go to a host on its own. */
export function runtimeNeedsOf(elf: ElfNeeds, path: string): RuntimeNeeds | Unportable {
  const machine = MACHINES[elf.machine];
  if (!machine) return { unportable: `${path} is built for ELF machine ${elf.machine}, which zkfleet does not know how to match to a host` };
  const foreign = elf.libraries.filter((l) => !GLIBC_OWN.test(l) && !GCC_RUNTIME.has(l));
  if (foreign.length > 0) {
    return {
      unportable: `${path} links ${foreign.join(", ")}, which a host without Node would not have ` +
        "(a distribution build of Node; official builds link only glibc and the GCC runtime)",
    };
  }
  let glibc: string | undefined;
  for (const names of Object.values(elf.versions)) {
    for (const name of names) {
      const v = /^GLIBC_(\d+(?:\.\d+)+)$/.exec(name)?.[1];
      if (v && (glibc === undefined || compareVersions(v, glibc) > 0)) glibc = v;
    }
  }
  return {
    arch: machine.arch(elf.littleEndian),
    machine: elf.machine,
    littleEndian: elf.littleEndian,
    ...(glibc ? { glibc } : {}),
    ...(elf.interpreter ? { interpreter: elf.interpreter } : {}),
    libraries: elf.libraries.filter((l) => GCC_RUNTIME.has(l)).map((name) => ({ name, versions: elf.versions[name] ?? [] })),
  };
}

/** What the probe script (runtime.ts) printed, parsed. */
export interface HostProbe {
  /** The node `command -v node` found, and what its --version said (absent when it would not run). */
  node?: { path: string; version?: string };
  os?: string;
  arch?: string;
  glibc?: string;
  /** musl's loader is there; its version when it said one ("" otherwise). */
  musl?: string;
  /** The runtime's program interpreter exists on the host. */
  interpreter: boolean;
  gzip: boolean;
  sha256sum: boolean;
  /** Runtime files already in agent.dir/runtime (complete and verified: only a checked file is renamed there). */
  present: string[];
  /** Every copy of each asked-for library found, with the asked-for versions it defines. */
  libraries: { name: string; path: string; versions: string[] }[];
}

export function parseProbe(stdout: string): HostProbe {
  const probe: HostProbe = { interpreter: false, gzip: false, sha256sum: false, present: [], libraries: [] };
  let nodePath: string | undefined;
  let nodeVersion: string | undefined;
  for (const line of stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).trim();
    switch (key) {
      case "node": nodePath = value; break;
      case "node_version": nodeVersion = value; break;
      case "os": probe.os = value; break;
      case "arch": probe.arch = value; break;
      case "glibc": probe.glibc = value; break;
      case "musl": probe.musl = value; break;
      case "interpreter": probe.interpreter = value === "yes"; break;
      case "gzip": probe.gzip = value === "yes"; break;
      case "sha256sum": probe.sha256sum = value === "yes"; break;
      case "present": if (value) probe.present.push(value); break;
      case "lib": {
        const [name, path, ...versions] = value.split(/\s+/).filter(Boolean);
        if (name && path) probe.libraries.push({ name, path, versions });
        break;
      }
    }
  }
  if (nodePath) probe.node = { path: nodePath, ...(nodeVersion ? { version: nodeVersion } : {}) };
  return probe;
}

function nodeMajor(version: string | undefined): number | undefined {
  const m = version === undefined ? undefined : /^v(\d+)\./.exec(version)?.[1];
  return m === undefined ? undefined : Number(m);
}

/** The host's own node when it is recent enough, else why zkfleet's runtime is needed. */
export function hostNodeChoice(probe: HostProbe, minMajor: number): { use: "host"; version: string } | { use: "runtime"; why: string } {
  const node = probe.node;
  if (!node) return { use: "runtime", why: "no node on the PATH" };
  const major = nodeMajor(node.version);
  if (major === undefined) return { use: "runtime", why: `${node.path} does not run (--version said nothing usable)` };
  if (major < minMajor) return { use: "runtime", why: `node ${node.version} at ${node.path} is older than ${minMajor}` };
  return { use: "host", version: node.version! };
}

export type PlatformVerdict =
  | { ok: true }
  | { ok: false; found: string; needs: string; problems: string[] };

/** "x86_64 / glibc >= 2.28 with libstdc++.so.6 (CXXABI_1.3.9, GLIBCXX_3.4.21), libgcc_s.so.1 (GCC_3.4)" */
export function describeNeeds(needs: RuntimeNeeds): string {
  const libs = needs.libraries.map((l) => `${l.name}${l.versions.length ? ` (${newestPerFamily(l.versions).join(", ")})` : ""}`);
  return `${needs.arch} Linux / ${needs.glibc ? `glibc >= ${needs.glibc}` : "any libc"}${libs.length ? ` with ${libs.join(", ")}` : ""}`;
}

/** The host as the probe saw it, e.g. "aarch64 Linux / musl 1.2.4". */
export function describeHost(probe: HostProbe): string {
  const libc = probe.glibc ? `glibc ${probe.glibc}` : probe.musl !== undefined ? `musl${probe.musl ? ` ${probe.musl}` : ""}` : "no glibc found";
  return `${probe.arch ?? "unknown architecture"} ${probe.os ?? "unknown OS"} / ${libc}`;
}

/**
 * Whether the host can run the runtime, decided before anything is written
 * there. The probe answers every question at once, so a refusal lists every
 * reason, not only the first.
 */
export function judgePlatform(probe: HostProbe, needs: RuntimeNeeds): PlatformVerdict {
  const problems: string[] = [];
  if (probe.os !== "Linux") problems.push(`the runtime is a Linux program and the host runs ${probe.os ?? "an unknown OS"}`);
  if (!probe.arch || !archMatches(needs, probe.arch)) problems.push(`the runtime is built for ${needs.arch}, the host is ${probe.arch ?? "of unknown architecture"}`);
  if (needs.glibc) {
    if (!probe.glibc) {
      problems.push(probe.musl !== undefined ? "the host's C library is musl, which cannot load a glibc program" : "no glibc was found on the host");
    } else if (compareVersions(probe.glibc, needs.glibc) < 0) {
      problems.push(`the host's glibc ${probe.glibc} is older than the ${needs.glibc} the runtime needs`);
    }
  }
  // A missing loader only says something new when the libc checks above passed (a 32-bit userland on a 64-bit kernel, say).
  if (needs.interpreter && !probe.interpreter && problems.length === 0) problems.push(`the loader ${needs.interpreter} is missing`);
  if (problems.length === 0) {
    for (const lib of needs.libraries) {
      const copies = probe.libraries.filter((l) => l.name === lib.name);
      if (copies.length === 0) {
        problems.push(`${lib.name} is not installed`);
        continue;
      }
      const complete = copies.find((c) => lib.versions.every((v) => c.versions.includes(v)));
      if (!complete) {
        const best = copies.reduce((a, b) => (b.versions.length > a.versions.length ? b : a));
        const missing = newestPerFamily(lib.versions.filter((v) => !best.versions.includes(v)));
        problems.push(`${best.path} lacks ${missing.join(", ")} (too old)`);
      }
    }
  }
  return problems.length === 0 ? { ok: true } : { ok: false, found: describeHost(probe), needs: describeNeeds(needs), problems };
}

/** The refusal as an error for a host: what was found, what the runtime needs, what would work. */
export function platformRefusal(host: string, verdict: Extract<PlatformVerdict, { ok: false }>, why: string, minNodeMajor: number): ZkfleetError {
  return new ZkfleetError("agent",
    `${host} cannot run the agent: ${why}, and zkfleet's own node runtime cannot run there: ${verdict.problems.join("; ")} ` +
    `(host is ${verdict.found}; the runtime needs ${verdict.needs}); nothing was changed on ${host}`, {
      where: host,
      hint: `install Node.js >= ${minNodeMajor} on ${host} (zkfleet uses it then), or set agent.node to one, ` +
        `or run zkfleet from a machine whose official Node.js build matches ${host}'s platform (${verdict.found}): that node is what zkfleet pushes`,
    });
}

/** The controller's node cannot be pushed at all. */
export function unportableRefusal(host: string, why: string, unportable: Unportable, minNodeMajor: number): ZkfleetError {
  return new ZkfleetError("agent", `${host} cannot run the agent: ${why}, and zkfleet cannot bring a runtime: ${unportable.unportable}; nothing was changed on ${host}`, {
    where: host,
    hint: `install Node.js >= ${minNodeMajor} on ${host}, or run zkfleet with an official Node.js build (nodejs.org), which it can push to hosts without one`,
  });
}

/** GLIBCXX_3.4.21 for [GLIBCXX_3.4.9, GLIBCXX_3.4.21]: each family's newest is what a message needs to name. */
function newestPerFamily(versions: readonly string[]): string[] {
  const newest = new Map<string, string>();
  for (const v of versions) {
    const m = /^([A-Za-z_]+?)_?(\d+(?:\.\d+)*)$/.exec(v);
    const family = m?.[1] ?? v;
    const have = newest.get(family);
    if (!have || (m && compareVersions(m[2]!, /(\d+(?:\.\d+)*)$/.exec(have)?.[1] ?? "0") > 0)) newest.set(family, v);
  }
  return [...newest.values()].sort();
}
