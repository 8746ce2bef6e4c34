// The distribution builder against the real Debian archive and real JVMs:
// each tarball is unpacked and its own zkServer.sh starts a real ZooKeeper
// on an address of its registered /24, which must answer `srvr` with the right version.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, stat, writeFile, mkdir, copyFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { unzipSync, zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import {
  KNOWN_VERSIONS, MAX_CLASS_FILE_MAJOR, assertLoadableOnJava17, ensureDists, inspectJar, javaLibraryClosure,
  parseManifest, pickDebianMirror, stripClassPath, tarballName, upstreamVersion,
} from "../../dists/dists.js";
import { addressIn } from "../helpers/subnets.js";

const run = promisify(execFile);
// The project's real artifact cache (git-ignored): the first run builds, later runs reuse.
const CACHE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "artifacts");
const ADDRESS = addressIn("dists", 1);
const VERSIONS = Object.keys(KNOWN_VERSIONS);

let tarballs = new Map<string, string>();
const scratch: string[] = [];

beforeAll(async () => {
  tarballs = await ensureDists({ cacheDir: CACHE_DIR, onProgress: (line) => console.log(line) });
}, 20 * 60_000);

afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "zkfleet-dists-"));
  scratch.push(dir);
  return dir;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, ADDRESS, resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** A four-letter word over TCP; "" when nothing answers yet. */
function fourLetterWord(port: number, word: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: ADDRESS, port });
    let out = "";
    socket.setTimeout(5_000, () => socket.destroy());
    socket.on("connect", () => socket.write(word));
    socket.on("data", (d) => (out += d.toString()));
    socket.on("close", () => resolve(out));
    socket.on("error", () => resolve(""));
  });
}

/** Alive and not a zombie waiting for a parent to reap it. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
}

async function pollUntil<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
}

function distDirIn(root: string, version: string): string {
  return join(root, `apache-zookeeper-${version}-bin`);
}

async function unpack(version: string): Promise<string> {
  const root = await tempDir();
  await run("tar", ["-xzf", tarballs.get(version)!, "-C", root]);
  return distDirIn(root, version);
}

describe.each(VERSIONS)("ZooKeeper %s distribution", (version) => {
  it("has the Apache layout and ships only jars Java 17 can load, none reaching outside lib/", async () => {
    const dist = await unpack(version);
    for (const f of ["bin/zkServer.sh", "bin/zkCli.sh", "bin/zkCleanup.sh", "bin/zkEnv.sh"]) {
      expect((await stat(join(dist, f))).mode & 0o111, f).not.toBe(0);
    }
    for (const f of ["conf/zoo_sample.cfg", "conf/log4j.properties"]) expect((await stat(join(dist, f))).isFile()).toBe(true);

    const jars = (await readdir(join(dist, "lib"))).filter((n) => n.endsWith(".jar"));
    expect(jars).toContain(`zookeeper-${version}.jar`);
    expect(jars.filter((n) => n.startsWith("zookeeper-jute"))).toEqual(version.startsWith("3.4.") ? [] : [`zookeeper-jute-${version}.jar`]);
    for (const n of ["log4j-1.2", "slf4j-api", "slf4j-log4j12"]) expect(jars.some((j) => j.startsWith(n)), n).toBe(true);
    for (const jar of jars) {
      const report = inspectJar(unzipSync(await readFile(join(dist, "lib", jar))));
      expect(report.maxMajor, jar).toBeGreaterThan(0);
      expect(report.maxMajor, jar).toBeLessThanOrEqual(MAX_CLASS_FILE_MAJOR);
      expect(report.classPath, jar).toEqual([]);
    }

    const provenance = JSON.parse(await readFile(join(dist, "zkfleet-dist.json"), "utf8"));
    expect(provenance.zookeeperVersion).toBe(version);
    expect(provenance.suite).toBe(KNOWN_VERSIONS[version]);
    expect(upstreamVersion(provenance.debianVersion)).toBe(version);
    expect(provenance.jars.map((j: { file: string }) => j.file).sort()).toEqual(jars.map((j) => `lib/${j}`).sort());
    expect(provenance.jars.every((j: { package?: string }) => typeof j.package === "string")).toBe(true);
  });

  it("starts with zkServer.sh --config, answers srvr as a standalone server of that version, and stops", async () => {
    const dist = await unpack(version);
    const work = await tempDir();
    const conf = join(work, "conf");
    const data = join(work, "data");
    const logs = join(work, "logs");
    await mkdir(conf);
    const port = await freePort();
    const cfg = [
      "tickTime=2000",
      `dataDir=${data}`,
      `clientPort=${port}`,
      `clientPortAddress=${ADDRESS}`,
      "4lw.commands.whitelist=*",
      ...(version.startsWith("3.4.") ? [] : ["admin.enableServer=false"]),
    ];
    await writeFile(join(conf, "zoo.cfg"), cfg.join("\n") + "\n");
    await copyFile(join(dist, "conf", "log4j.properties"), join(conf, "log4j.properties"));
    // Both hook files zkEnv.sh sources; the assertions below show each was read.
    await writeFile(join(conf, "zookeeper-env.sh"), `ZOO_LOG_DIR='${logs}'\n`);
    await writeFile(join(conf, "java.env"), "ZK_SERVER_HEAP=96\n");

    const zkServer = join(dist, "bin", "zkServer.sh");
    let pid: number | undefined;
    try {
      await run(zkServer, ["--config", conf, "start"], { timeout: 60_000 });
      pid = Number((await readFile(join(data, "zookeeper_server.pid"), "utf8")).trim());
      expect(pid).toBeGreaterThan(0);

      const srvr = await pollUntil(async () => {
        const out = await fourLetterWord(port, "srvr");
        return out.includes("Mode:") ? out : undefined;
      }, 60_000);
      expect(srvr, "srvr never answered").toBeDefined();
      expect(srvr!.match(/^Zookeeper version: (\S+)/m)?.[1]).toMatch(new RegExp(`^${version.replace(/\./g, "\\.")}(?:$|[^.\\d])`));
      expect(srvr).toMatch(/^Mode: standalone$/m);

      const argv = cmdline(pid);
      expect(argv).toContain("-Xmx96m");
      const classpath = argv[argv.indexOf("-cp") + 1]!.split(":");
      expect(classpath[0]).toBe(conf);
      expect(classpath[1]).toBe(join(dist, "lib", version.startsWith("3.4.") ? `zookeeper-${version}.jar` : `zookeeper-jute-${version}.jar`));
      expect(classpath.slice(1).every((p) => p.startsWith(join(dist, "lib") + "/"))).toBe(true);

      // Logging works: the console appender from our log4j.properties wrote
      // INFO lines into ZOO_LOG_DIR, which came from zookeeper-env.sh.
      const outFile = (await readdir(logs)).find((n) => n.endsWith(".out"));
      expect(outFile).toBeDefined();
      const out = await readFile(join(logs, outFile!), "utf8");
      expect(out).toMatch(/ - INFO  \[/);
      expect(out).not.toContain("log4j:WARN No appenders");

      // 3.4.13's Java client cannot connect on Java 14+ (UnresolvedAddressException,
      // fixed upstream only in 3.5+), so its zkCli is only checked from 3.5 on.
      // zkCli also sources zkEnv.sh and so takes --config too; no jline is shipped.
      if (!version.startsWith("3.4.")) {
        const cli = await run(join(dist, "bin", "zkCli.sh"), ["--config", conf, "-server", `${ADDRESS}:${port}`, "ls", "/"], {
          timeout: 60_000,
        });
        expect(cli.stdout).toMatch(/^\[zookeeper\]$/m);
      }

      await run(zkServer, ["--config", conf, "stop"], { timeout: 60_000 });
      const stopped = await pollUntil(async () => (alive(pid!) ? undefined : true), 30_000);
      expect(stopped, `JVM ${pid} still running after stop`).toBe(true);
    } finally {
      // Only the JVM this test started: its pid, and still running our config.
      if (pid && alive(pid) && cmdline(pid).includes(join(conf, "zoo.cfg"))) process.kill(pid, "SIGKILL");
    }
  });
});

describe("the artifact cache", () => {
  it("reuses cached tarballs without rebuilding them", async () => {
    const before = new Map<string, number>();
    for (const [v, path] of tarballs) before.set(v, (await stat(path)).mtimeMs);
    const lines: string[] = [];
    const again = await ensureDists({ cacheDir: CACHE_DIR, onProgress: (l) => lines.push(l) });
    expect([...again.keys()]).toEqual(VERSIONS);
    for (const [v, path] of again) {
      expect(path).toBe(join(CACHE_DIR, tarballName(v)));
      expect((await stat(path)).mtimeMs).toBe(before.get(v));
    }
    expect(lines.every((l) => l.includes(": cached "))).toBe(true);
  });

  it("reports an unreachable Debian mirror as an artifact error that names it", async () => {
    const dir = await tempDir();
    const mirror = `http://${ADDRESS}:${await freePort()}/debian`;
    const failure = await ensureDists({ cacheDir: dir, versions: ["3.8.0"], mirror }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ZkfleetError);
    expect(failure).toMatchObject({ source: "artifact", message: expect.stringContaining("apt-get update for bookworm") });
    expect((failure as ZkfleetError).hint).toContain(mirror);
    expect(await readdir(dir)).toEqual(["apt"]);
  });

  it("rejects an unknown version before doing anything", async () => {
    const dir = await tempDir();
    await expect(ensureDists({ cacheDir: dir, versions: ["3.6.9"] })).rejects.toMatchObject({ source: "usage" });
    expect(await readdir(dir)).toEqual([]);
  });
});

describe("builder helpers", () => {
  const manifest =
    "Manifest-Version: 1.0\r\n" +
    "Class-Path: /usr/share/java/commons-cli.jar /usr/share/java/commons-io.j\r\n" +
    " ar /usr/share/java/zookeeper-jute.jar\r\n" +
    "Created-By: Maven\r\n" +
    "\r\n" +
    "Name: org/example/\r\n" +
    "Class-Path: per-entry.jar\r\n";

  it("reads a wrapped Class-Path and removes it without touching the rest", () => {
    expect(parseManifest(manifest).get("class-path")).toBe(
      "/usr/share/java/commons-cli.jar /usr/share/java/commons-io.jar /usr/share/java/zookeeper-jute.jar",
    );
    expect(stripClassPath(manifest)).toBe(
      "Manifest-Version: 1.0\r\nCreated-By: Maven\r\n\r\nName: org/example/\r\nClass-Path: per-entry.jar\r\n",
    );
  });

  it("finds classes Java 17 cannot load, but not Java 21 classes of a multi-release jar", () => {
    const classFile = (major: number) => Uint8Array.from([0xca, 0xfe, 0xba, 0xbe, 0, 0, major >> 8, major & 0xff, 0, 0]);
    const files = (extra: Record<string, Uint8Array>) =>
      unzipSync(zipSync({ "META-INF/MANIFEST.MF": Buffer.from("Manifest-Version: 1.0\n"), "a/A.class": classFile(52), ...extra }));

    const multiRelease = inspectJar(files({ "META-INF/versions/21/a/A.class": classFile(65) }));
    expect(multiRelease.maxMajor).toBe(52);
    expect(() => assertLoadableOnJava17("mr.jar", multiRelease)).not.toThrow();

    const tooNew = inspectJar(files({ "a/B.class": classFile(65) }));
    expect(tooNew.tooNew).toEqual({ entry: "a/B.class", major: 65 });
    expect(() => assertLoadableOnJava17("new.jar", tooNew)).toThrow(ZkfleetError);
    expect(() => assertLoadableOnJava17("new.jar", tooNew)).toThrow(/Java 21 \(class file 65\)/);
  });

  it("takes the machine's Debian mirror from either sources format", () => {
    const deb822 = [
      "Types: deb",
      "# http://snapshot.example/archive",
      "URIs: http://mirror.example/debian-security",
      "Suites: bookworm-security",
      "",
      "Types: deb deb-src",
      "URIs: https://mirror.example/debian",
      "Suites: bookworm bookworm-updates",
      "Components: main",
    ].join("\n");
    expect(pickDebianMirror(deb822, "deb822")).toBe("https://mirror.example/debian");
    const oneLine = "# deb http://old.example/debian bookworm main\ndeb [arch=amd64] http://mirror.example/debian bookworm main\n";
    expect(pickDebianMirror(oneLine, "one-line")).toBe("http://mirror.example/debian");
    expect(pickDebianMirror("", "one-line")).toBeUndefined();
  });

  it("keeps only real lib*-java packages from apt-cache depends", () => {
    const out = "libzookeeper-java\n  Depends: junit4\n  Depends: libnetty-java\n<java5-runtime-headless>\njunit4\nlibnetty-java\nlibjffi-jni\n";
    expect(javaLibraryClosure(out)).toEqual(["libnetty-java", "libzookeeper-java"]);
  });

  it("reads the upstream version out of a Debian version", () => {
    expect(upstreamVersion("3.9.3-1+deb13u1")).toBe("3.9.3");
    expect(upstreamVersion("1:4.1.48-7+deb12u2")).toBe("4.1.48");
  });
});
