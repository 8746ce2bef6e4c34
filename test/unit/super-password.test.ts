// zookeeper.super_password_file: where it is read from, when lint asks for
// it, and what reaches the servers (ZooKeeper's digest of the password,
// checked here against one computed independently, never the password).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import { defaultArtifactsDir } from "../../common/paths.js";
import { ensureDists } from "../../dists/dists.js";
import { lintInventory } from "../../controller/inventory/lint.js";
import { readSuperPassword, superAuth } from "../../controller/inventory/super-user.js";
import { renderHostFiles, type RenderedFile } from "../../controller/render/render.js";
import { fixtureYaml, parseValid, type FixtureOptions } from "../golden/fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "zkfleet-super-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PASSWORD = "Zk$:s3cret!";
const ENV_FILE = "/etc/zookeeper/conf/zookeeper-env.sh";
const ARGS_FILE = "/etc/zookeeper/conf/super-digest.args";

function passwordFile(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

function inventory(options: FixtureOptions, file?: string) {
  const extra = file === undefined ? [] : [`super_password_file: ${file}`];
  return parseValid(fixtureYaml({ ...options, extraZookeeper: [...(options.extraZookeeper ?? []), ...extra] }));
}

const envOf = (files: RenderedFile[]) => files.find((f) => f.path === ENV_FILE)!.content;
/** ZooKeeper's form, computed here rather than with zkfleet's helper. */
const digest = (password: string) => `super:${createHash("sha1").update(`super:${password}`).digest("base64")}`;

describe("the inventory field", () => {
  it("resolves like identity_file: relative to the inventory's directory, ~ to the home directory", () => {
    const text = (path: string) => fixtureYaml({ version: "3.9.3", reconfig: true, extraZookeeper: [`super_password_file: ${path}`] });
    expect(parseValid(text("secrets/zk.pw"), "/srv/inv/prod.yml").zookeeper.super_password_file).toBe("/srv/inv/secrets/zk.pw");
    expect(parseValid(text("~/zk.pw"), "/srv/inv/prod.yml", "/home/ops").zookeeper.super_password_file).toBe("/home/ops/zk.pw");
    expect(parseValid(fixtureYaml({ version: "3.9.3" })).zookeeper.super_password_file).toBeUndefined();
  });

  it("lint warns when reconfig is on without it, and only where the version has reconfig", () => {
    const codes = (options: FixtureOptions, file?: string) => lintInventory(inventory(options, file)).map((f) => f.code);
    for (const version of ["3.8.0", "3.9.3"]) {
      const finding = lintInventory(inventory({ version, reconfig: true })).find((f) => f.code === "reconfig-without-super");
      expect(finding, version).toMatchObject({ severity: "warning", path: ["zookeeper", "reconfig"] });
      expect(finding?.message).toMatch(/membership changes by reconfig need it/);
      expect(codes({ version, reconfig: true }, "/nonexistent/zk.pw")).not.toContain("reconfig-without-super");
      expect(codes({ version, reconfig: false })).not.toContain("reconfig-without-super");
    }
    expect(codes({ version: "3.4.13", reconfig: true })).toEqual(["reconfig-unsupported"]);
  });
});

describe("reading the password", () => {
  it("is the first line, trimmed", () => {
    expect(readSuperPassword(passwordFile("crlf.pw", `  ${PASSWORD}  \r\nsecond line\n`))).toBe(PASSWORD);
    const inv = inventory({ version: "3.9.3", reconfig: true }, passwordFile("ok.pw", `${PASSWORD}\n`));
    expect(superAuth(inv)).toEqual({ user: "super", password: PASSWORD });
    expect(superAuth(inventory({ version: "3.9.3", reconfig: true }))).toBeUndefined();
  });

  it("a missing, empty or unusable file is a typed inventory error naming the file, never its content", () => {
    const cases: [string, RegExp][] = [
      [join(dir, "absent.pw"), /absent\.pw does not exist/],
      [passwordFile("empty.pw", "\n\nlater lines do not count\n"), /empty\.pw is empty/],
      [passwordFile("spaces.pw", "two words\n"), /spaces\.pw may contain only printable ASCII characters other than spaces and quotes/],
    ];
    for (const [file, message] of cases) {
      const error = (() => {
        try {
          readSuperPassword(file);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ZkfleetError);
      const err = error as ZkfleetError;
      expect(err.source).toBe("inventory");
      expect(err.message).toMatch(message);
      expect(err.where).toBe(file);
      expect(`${err.message} ${err.hint}`).not.toContain("two words");
    }
  });
});

describe("rendering the super digest", () => {
  it("SERVER_JVMFLAGS names a 0600 argument file holding super:base64(sha1('super:' + password)) when reconfig is on, the password nowhere", () => {
    const file = passwordFile("render.pw", `${PASSWORD}\n`);
    for (const version of ["3.8.0", "3.9.3"]) {
      const inv = inventory({ version, reconfig: true }, file);
      const files = renderHostFiles(inv, inv.hosts[0]!);
      expect(envOf(files)).toContain(`\nSERVER_JVMFLAGS='-Xms512m -Xmx512m @${ARGS_FILE}'\n`);
      expect(envOf(files)).not.toContain(digest(PASSWORD));
      const args = files.find((f) => f.path === ARGS_FILE);
      expect(args).toEqual({ path: ARGS_FILE, content: `-Dzookeeper.DigestAuthenticationProvider.superDigest=${digest(PASSWORD)}\n`, mode: 0o600 });
      expect(files.find((f) => f.path.endsWith("/zookeeper-env.sh"))?.mode).toBe(0o600);
      for (const f of files) expect(f.content, f.path).not.toContain(PASSWORD);
    }
  });

  it("zkServer.sh's unquoted $SERVER_JVMFLAGS splits into the heap and @file, and java reads the digest property from that file", () => {
    const inv = inventory({ version: "3.9.3", reconfig: true }, passwordFile("split.pw", `${PASSWORD}\n`));
    const files = renderHostFiles(inv, inv.hosts[0]!);
    const envFile = join(dir, "zookeeper-env.sh");
    writeFileSync(envFile, envOf(files));
    const words = execFileSync("sh", ["-c", '. "$1"; set -- $SERVER_JVMFLAGS; printf "%s\\n" "$@"', "sh", envFile], { encoding: "utf8", cwd: dir });
    expect(words.trim().split("\n")).toEqual(["-Xms512m", "-Xmx512m", `@${ARGS_FILE}`]);
    // The launcher of the JDK the servers run on, given the file as the servers' would be.
    const local = join(dir, "super-digest.args");
    writeFileSync(local, files.find((f) => f.path === ARGS_FILE)!.content, { mode: 0o600 });
    const shown = execFileSync("sh", ["-c", 'java "@$1" -XshowSettings:properties -version 2>&1', "sh", local], { encoding: "utf8" });
    expect(shown).toContain(`zookeeper.DigestAuthenticationProvider.superDigest = ${digest(PASSWORD)}`);
  });

  it.each(["3.4.13", "3.8.0", "3.9.3"])("zkServer.sh of %s hands java the @file word intact, before the main class", async (version) => {
    // The release's own script, run with a `java` first on the PATH that prints the argv it was given.
    const tarball = (await ensureDists({ cacheDir: defaultArtifactsDir(process.env), versions: [version as "3.8.0"] })).get(version)!;
    const root = join(dir, `zk-${version}`);
    mkdirSync(join(root, "bin"), { recursive: true });
    execFileSync("tar", ["-xzf", tarball, "-C", root, "--strip-components=1"]);
    writeFileSync(join(root, "bin", "java"), '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n', { mode: 0o755 });
    const conf = join(root, "conf-test");
    mkdirSync(conf, { recursive: true });
    writeFileSync(join(conf, "zoo.cfg"), `dataDir=${join(root, "data")}\nclientPort=2181\n`);
    const inv = inventory({ version: version === "3.4.13" ? "3.9.3" : version, reconfig: true }, passwordFile("argv.pw", `${PASSWORD}\n`));
    writeFileSync(join(conf, "zookeeper-env.sh"), `${envOf(renderHostFiles(inv, inv.hosts[0]!))}ZOO_LOG_DIR=${join(root, "logs")}\n`);
    const argv = execFileSync("bash", [join(root, "bin", "zkServer.sh"), "start-foreground"], {
      encoding: "utf8", env: { ...process.env, PATH: `${join(root, "bin")}:${process.env.PATH}`, ZOOCFGDIR: conf, JAVA_HOME: "" },
    }).trim().split("\n");
    const main = argv.indexOf("org.apache.zookeeper.server.quorum.QuorumPeerMain");
    expect(main, argv.join(" ")).toBeGreaterThan(0);
    expect(argv.indexOf(`@${ARGS_FILE}`), argv.join(" ")).toBeGreaterThan(0);
    expect(argv.indexOf(`@${ARGS_FILE}`)).toBeLessThan(main);
  });

  it("renders byte for byte as before without reconfig, on 3.4, or without the file", () => {
    const file = passwordFile("unused.pw", `${PASSWORD}\n`);
    const plain = (options: FixtureOptions) => {
      const inv = inventory(options);
      return renderHostFiles(inv, inv.hosts[0]!);
    };
    for (const options of [{ version: "3.9.3", reconfig: false }, { version: "3.4.13", reconfig: true }]) {
      const inv = inventory(options, file);
      expect(renderHostFiles(inv, inv.hosts[0]!), JSON.stringify(options)).toEqual(plain(options));
    }
    expect(envOf(plain({ version: "3.9.3", reconfig: true }))).not.toMatch(/superDigest|super user/);
  });

  it("a missing file stops rendering with the typed error", () => {
    const inv = inventory({ version: "3.9.3", reconfig: true }, join(dir, "gone.pw"));
    expect(() => renderHostFiles(inv, inv.hosts[0]!)).toThrow(/zookeeper\.super_password_file .*gone\.pw does not exist/);
  });
});
