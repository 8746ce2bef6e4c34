// One build: fetch the packages of a Debian suite through a private apt
// setup, unpack them, assemble the Apache layout and pack it into the cache.
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ZkfleetError } from "../common/errors.js";
import { DIST_FILES_DIR, pack } from "./cache.js";
import {
  type DebInfo, type DebianSuite, aptOptions, javaLibraryClosure, prepareApt, readDeb, resolveInRoot, upstreamVersion,
} from "./debian.js";
import { MAX_CLASS_FILE_MAJOR, type ShippedJar, collectJars, writeLibJar } from "./jars.js";
import { run } from "./run.js";

const DEBIAN_BIN = "/usr/share/zookeeper/bin";

// ------------------------------------------------------------- assembly ---

/** Our own files and where they go in the distribution. */
const OWN_FILES: Record<string, string> = {
  "zkEnv.sh": "bin",
  "log4j.properties": "conf",
  "zoo_sample.cfg": "conf",
};
const DEBIAN_SCRIPTS = ["zkServer.sh", "zkCli.sh", "zkCleanup.sh"];

interface Assembly {
  version: string;
  suite: DebianSuite;
  mirror: string;
  recipe: string;
  root: string;
  distDir: string;
  debs: DebInfo[];
  zookeeperDeb: DebInfo;
}

async function assemble(a: Assembly): Promise<void> {
  for (const sub of ["bin", "conf", "lib"]) await mkdir(join(a.distDir, sub), { recursive: true });
  const owner = (path: string) => a.debs.find((d) => d.paths.has(path));

  const scripts = [];
  for (const script of DEBIAN_SCRIPTS) {
    const from = `${DEBIAN_BIN}/${script}`;
    const real = await resolveInRoot(a.root, from);
    if (!real) {
      throw new ZkfleetError("artifact", `${a.zookeeperDeb.file} has no ${from}`, {
        where: a.zookeeperDeb.file,
        hint: "the Debian packaging changed; adapt DEBIAN_SCRIPTS in dists/build.ts",
      });
    }
    const dest = join(a.distDir, "bin", script);
    await copyFile(join(a.root, real), dest);
    await chmod(dest, 0o755);
    scripts.push({ file: `bin/${script}`, from, package: owner(real)?.package });
  }
  for (const [name, sub] of Object.entries(OWN_FILES)) {
    const dest = join(a.distDir, sub, name);
    await copyFile(join(DIST_FILES_DIR, name), dest);
    await chmod(dest, sub === "bin" ? 0o755 : 0o644);
  }

  const closure = await collectJars(a.root, a.version);
  const byName = new Map<string, ShippedJar>();
  for (const jar of closure.jars) {
    const clash = byName.get(jar.name);
    if (clash) {
      throw new ZkfleetError("artifact", `two different jars would both be lib/${jar.name}: ${clash.real} and ${jar.real}`, {
        where: jar.real,
        hint: "rename one of them in libName() in dists/jars.ts",
      });
    }
    byName.set(jar.name, jar);
    await writeLibJar(jar, join(a.distDir, "lib"));
  }

  const provenance = {
    zookeeperVersion: a.version,
    debianVersion: a.zookeeperDeb.version,
    suite: a.suite,
    mirror: a.mirror,
    builtBy: "zkfleet dists/dists.ts",
    recipe: a.recipe,
    maxClassFileMajor: Math.max(...closure.jars.map((j) => j.report.maxMajor)),
    classFileMajorLimit: MAX_CLASS_FILE_MAJOR,
    scripts,
    ownFiles: Object.entries(OWN_FILES).map(([name, sub]) => `${sub}/${name}`),
    jars: closure.jars.map((j) => ({
      file: `lib/${j.name}`,
      from: j.via,
      real: j.real,
      package: owner(j.real)?.package,
      packageVersion: owner(j.real)?.version,
      classFileMajor: j.report.maxMajor,
      classPathRemoved: j.report.classPath.length > 0,
    })),
    skipped: closure.skipped,
    debs: a.debs.map((d) => ({ package: d.package, version: d.version, file: d.file })),
  };
  await writeFile(join(a.distDir, "zkfleet-dist.json"), JSON.stringify(provenance, null, 2) + "\n");
}

// ---------------------------------------------------------------- build ---

interface BuildRequest {
  version: string;
  suite: DebianSuite;
  cacheDir: string;
  mirror: string;
  tarball: string;
  recipe: string;
  progress: (line: string) => void;
}

export async function buildDist(req: BuildRequest): Promise<void> {
  const { version, suite, mirror, progress } = req;
  const aptDir = join(req.cacheDir, "apt", suite);
  await prepareApt(aptDir, mirror, suite);
  const apt = aptOptions(aptDir);
  const where = `${mirror} ${suite}`;
  const netHint = `the Debian mirror ${mirror} must be reachable (by default it is the one in this machine's apt sources); check that \`apt-get update\` works`;

  progress(`${version}: apt-get update for ${suite} from ${mirror}`);
  await run("apt-get", [...apt, "-q", "--error-on=any", "update"], {
    what: `apt-get update for ${suite}`, where, timeoutMs: 600_000, hint: netHint,
  });
  const depends = await run(
    "apt-cache",
    [...apt, "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks",
      "--no-replaces", "--no-enhances", "libzookeeper-java"],
    { what: `resolving libzookeeper-java in ${suite}`, where, hint: `Debian ${suite} main must carry libzookeeper-java` },
  );
  const packages = ["zookeeper", ...javaLibraryClosure(depends)];

  const work = await mkdtemp(join(req.cacheDir, `.build-${version}-`));
  try {
    const debsDir = join(work, "debs");
    const root = join(work, "root");
    const stage = join(work, "stage");
    await mkdir(debsDir);
    progress(`${version}: downloading ${packages.length} packages`);
    await run("apt-get", [...apt, "-q", "download", ...packages], {
      cwd: debsDir, what: `downloading ${packages.length} packages from ${suite}`, where, timeoutMs: 900_000, hint: netHint,
    });
    const debs: DebInfo[] = [];
    for (const file of (await readdir(debsDir)).filter((n) => n.endsWith(".deb")).sort()) {
      debs.push(await readDeb(join(debsDir, file)));
      await run("dpkg-deb", ["-x", join(debsDir, file), root], { what: `unpacking ${file}` });
    }
    const zookeeperDeb = debs.find((d) => d.package === "zookeeper");
    if (!zookeeperDeb || upstreamVersion(zookeeperDeb.version) !== version) {
      throw new ZkfleetError("artifact", `Debian ${suite} carries zookeeper ${zookeeperDeb?.version ?? "(none)"}, not ${version}`, {
        where,
        hint: "update debianSuite in common/versions.ts to the versions the suites carry",
      });
    }

    progress(`${version}: assembling from ${zookeeperDeb.file}`);
    const distName = `apache-zookeeper-${version}-bin`;
    await assemble({ version, suite, mirror, recipe: req.recipe, root, distDir: join(stage, distName), debs, zookeeperDeb });
    await pack(stage, distName, req.tarball, { recipe: req.recipe, debianVersion: zookeeperDeb.version });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
