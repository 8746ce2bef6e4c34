// Which node runs the agent, and whether a host can run zkfleet's own:
// the pure decision from a probe's answer and the runtime's ELF needs. The
// lab has one architecture and one libc (this machine's), so refusals of
// other platforms are proved here; the lab test proves the accepted path.
import { machine } from "node:os";
import { describe, expect, it } from "vitest";
import { readElfNeeds } from "../../controller/agent-client/elf.js";
import {
  type HostProbe, type RuntimeNeeds,
  archMatches, compareVersions, hostNodeChoice, judgePlatform, parseProbe, platformRefusal, runtimeNeedsOf,
} from "../../controller/agent-client/runtime-platform.js";

/** What an official Node 20 x64 build needs (read from one with this module's ELF reader). */
const NODE20_X64: RuntimeNeeds = {
  arch: "x86_64",
  machine: 62,
  littleEndian: true,
  glibc: "2.28",
  interpreter: "/lib64/ld-linux-x86-64.so.2",
  libraries: [
    { name: "libstdc++.so.6", versions: ["GLIBCXX_3.4.9", "GLIBCXX_3.4.21", "CXXABI_1.3", "CXXABI_1.3.9"] },
    { name: "libgcc_s.so.1", versions: ["GCC_3.0", "GCC_3.4"] },
  ],
};

/** A Debian bookworm x86_64 host without node, as the probe reports it. */
const BOOKWORM: HostProbe = {
  os: "Linux", arch: "x86_64", glibc: "2.36", interpreter: true, gzip: true, sha256sum: true, present: [],
  libraries: [
    { name: "libstdc++.so.6", path: "/lib/x86_64-linux-gnu/libstdc++.so.6", versions: ["CXXABI_1.3", "CXXABI_1.3.9", "GLIBCXX_3.4.21", "GLIBCXX_3.4.9"] },
    { name: "libgcc_s.so.1", path: "/lib/x86_64-linux-gnu/libgcc_s.so.1", versions: ["GCC_3.0", "GCC_3.4"] },
  ],
};

function refused(probe: HostProbe, needs = NODE20_X64) {
  const verdict = judgePlatform(probe, needs);
  if (verdict.ok) throw new Error("expected a refusal");
  return verdict;
}

describe("judgePlatform", () => {
  it("accepts a glibc host of the same architecture with a glibc and GCC runtime at least as new", () => {
    expect(judgePlatform(BOOKWORM, NODE20_X64)).toEqual({ ok: true });
    // glibc keeps every old symbol version: exactly the minimum will do, and so will arm64 spelled the BSD way.
    expect(judgePlatform({ ...BOOKWORM, glibc: "2.28" }, NODE20_X64)).toEqual({ ok: true });
    expect(judgePlatform({ ...BOOKWORM, arch: "arm64" }, { ...NODE20_X64, arch: "aarch64", machine: 183 })).toEqual({ ok: true });
  });

  it("refuses an aarch64 musl host (Alpine on ARM), naming what was found and what the runtime needs", () => {
    const v = refused({ os: "Linux", arch: "aarch64", musl: "1.2.4", interpreter: false, gzip: true, sha256sum: false, present: [], libraries: [] });
    expect(v.found).toBe("aarch64 Linux / musl 1.2.4");
    expect(v.needs).toBe("x86_64 Linux / glibc >= 2.28 with libstdc++.so.6 (CXXABI_1.3.9, GLIBCXX_3.4.21), libgcc_s.so.1 (GCC_3.4)");
    expect(v.problems).toEqual([
      "the runtime is built for x86_64, the host is aarch64",
      "the host's C library is musl, which cannot load a glibc program",
    ]);
    const err = platformRefusal("zk4", v, "no node on the PATH", 18);
    expect(err.source).toBe("agent");
    expect(err.where).toBe("zk4");
    expect(err.message).toContain("host is aarch64 Linux / musl 1.2.4; the runtime needs x86_64 Linux / glibc >= 2.28");
    expect(err.message).toContain("nothing was changed on zk4");
    expect(err.hint).toContain("install Node.js >= 18 on zk4");
    expect(err.hint).toContain("aarch64 Linux / musl 1.2.4");
  });

  it("refuses an x86_64 musl host (Alpine) for its libc alone", () => {
    const v = refused({ ...BOOKWORM, glibc: undefined, musl: "1.2.5", interpreter: false, libraries: [] });
    expect(v.problems).toEqual(["the host's C library is musl, which cannot load a glibc program"]);
  });

  it("refuses a glibc older than the runtime was built against (CentOS 7's 2.17)", () => {
    expect(refused({ ...BOOKWORM, glibc: "2.17" }).problems).toEqual(["the host's glibc 2.17 is older than the 2.28 the runtime needs"]);
  });

  it("refuses a libstdc++ that lacks a needed symbol version, naming the newest missing of each family", () => {
    const old = { ...BOOKWORM.libraries[0]!, versions: ["CXXABI_1.3", "GLIBCXX_3.4.9"] };
    const v = refused({ ...BOOKWORM, libraries: [old, BOOKWORM.libraries[1]!] });
    expect(v.problems).toEqual(["/lib/x86_64-linux-gnu/libstdc++.so.6 lacks CXXABI_1.3.9, GLIBCXX_3.4.21 (too old)"]);
  });

  it("takes any complete copy of a library (a 32-bit and a 64-bit one, say)", () => {
    const lib32 = { name: "libstdc++.so.6", path: "/usr/lib32/libstdc++.so.6", versions: ["GLIBCXX_3.4.9"] };
    expect(judgePlatform({ ...BOOKWORM, libraries: [lib32, ...BOOKWORM.libraries] }, NODE20_X64)).toEqual({ ok: true });
  });

  it("refuses a host without the GCC runtime", () => {
    expect(refused({ ...BOOKWORM, libraries: [BOOKWORM.libraries[0]!] }).problems).toEqual(["libgcc_s.so.1 is not installed"]);
  });

  it("refuses a host that is not Linux, and one whose loader is missing (a 32-bit userland on a 64-bit kernel)", () => {
    expect(refused({ ...BOOKWORM, os: "FreeBSD", glibc: undefined, libraries: [] }).problems).toEqual([
      "the runtime is a Linux program and the host runs FreeBSD",
      "no glibc was found on the host",
    ]);
    expect(refused({ ...BOOKWORM, interpreter: false }).problems).toEqual(["the loader /lib64/ld-linux-x86-64.so.2 is missing"]);
  });
});

describe("hostNodeChoice", () => {
  it("keeps a host's node when it is recent enough, and says why the runtime is needed otherwise", () => {
    expect(hostNodeChoice({ ...BOOKWORM, node: { path: "/usr/bin/node", version: "v18.19.0" } }, 18)).toEqual({ use: "host", version: "v18.19.0" });
    expect(hostNodeChoice(BOOKWORM, 18)).toEqual({ use: "runtime", why: "no node on the PATH" });
    expect(hostNodeChoice({ ...BOOKWORM, node: { path: "/usr/bin/node", version: "v12.22.12" } }, 18))
      .toEqual({ use: "runtime", why: "node v12.22.12 at /usr/bin/node is older than 18" });
    expect(hostNodeChoice({ ...BOOKWORM, node: { path: "/usr/local/bin/node" } }, 18))
      .toEqual({ use: "runtime", why: "/usr/local/bin/node does not run (--version said nothing usable)" });
  });
});

describe("parseProbe", () => {
  it("reads the probe script's key=value lines", () => {
    const out = [
      "node=/usr/bin/node", "node_version=v12.22.12", "os=Linux", "arch=x86_64", "glibc=2.36", "interpreter=yes", "gzip=yes",
      "present=node-v20.20.2-6295488653f0d93b",
      "lib=libstdc++.so.6 /lib/x86_64-linux-gnu/libstdc++.so.6 CXXABI_1.3 GLIBCXX_3.4.21 ",
      "lib=libgcc_s.so.1 /lib/x86_64-linux-gnu/libgcc_s.so.1 ",
      "",
    ].join("\n");
    expect(parseProbe(out)).toEqual({
      node: { path: "/usr/bin/node", version: "v12.22.12" },
      os: "Linux", arch: "x86_64", glibc: "2.36", interpreter: true, gzip: true, sha256sum: false,
      present: ["node-v20.20.2-6295488653f0d93b"],
      libraries: [
        { name: "libstdc++.so.6", path: "/lib/x86_64-linux-gnu/libstdc++.so.6", versions: ["CXXABI_1.3", "GLIBCXX_3.4.21"] },
        { name: "libgcc_s.so.1", path: "/lib/x86_64-linux-gnu/libgcc_s.so.1", versions: [] },
      ],
    });
  });
});

describe("the runtime's needs, from its ELF headers", () => {
  it("reads this controller's node: its architecture, glibc minimum and GCC runtime versions", async () => {
    const needs = runtimeNeedsOf(await readElfNeeds(process.execPath), process.execPath);
    if ("unportable" in needs) {
      // A distribution build of node (libnode.so) cannot be pushed; the reason says so.
      expect(needs.unportable).toMatch(/links .*which a host without Node would not have/);
      return;
    }
    expect(archMatches(needs, machine())).toBe(true);
    expect(needs.glibc).toMatch(/^2\.\d+$/);
    expect(needs.interpreter).toMatch(/^\/lib.*ld-linux/);
    for (const lib of needs.libraries) expect(["libstdc++.so.6", "libgcc_s.so.1", "libatomic.so.1"]).toContain(lib.name);
  });

  it("refuses to push a node that links libraries a host without node would not have", () => {
    const needs = runtimeNeedsOf({
      machine: 62, bits: 64, littleEndian: true, interpreter: "/lib64/ld-linux-x86-64.so.2",
      libraries: ["libnode.so.109", "libuv.so.1", "libc.so.6"], versions: { "libc.so.6": ["GLIBC_2.34"] },
    }, "/usr/bin/node");
    expect(needs).toEqual({
      unportable: "/usr/bin/node links libnode.so.109, libuv.so.1, which a host without Node would not have " +
        "(a distribution build of Node; official builds link only glibc and the GCC runtime)",
    });
  });

  it("takes the newest GLIBC_ version over every glibc library", () => {
    const needs = runtimeNeedsOf({
      machine: 183, bits: 64, littleEndian: true, interpreter: "/lib/ld-linux-aarch64.so.1",
      libraries: ["libm.so.6", "libc.so.6"], versions: { "libm.so.6": ["GLIBC_2.29", "GLIBC_2.17"], "libc.so.6": ["GLIBC_2.28", "GLIBC_PRIVATE"] },
    }, "node");
    expect(needs).toMatchObject({ arch: "aarch64", glibc: "2.29", libraries: [] });
  });

  it("compares dotted versions numerically", () => {
    expect(compareVersions("2.3.4", "2.28")).toBe(-1);
    expect(compareVersions("2.36", "2.28")).toBe(1);
    expect(compareVersions("2.28", "2.28.0")).toBe(0);
  });
});
