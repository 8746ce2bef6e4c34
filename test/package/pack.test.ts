// The package as a user gets it: `npm pack`, then `npm install -g` of the
// tarball into a scratch prefix, and zkfleet run from that prefix's bin/.
//
// It packs a copy of the checkout, not the checkout itself: prepack wipes and
// rebuilds dist/, which other test runs in this checkout may be using, and a
// fresh dist/ also proves no stale build output slips into the tarball. The
// dependencies come from the npm registry (npm's cache makes repeat runs
// cheaper); the zookeeper addon compiles on every install, which is most of
// this file's minute or two.
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repo = resolve(import.meta.dirname, "..", "..");
const version = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).version as string;
// Build output, caches and other runs' state: none of it belongs in a fresh checkout.
const NOT_COPIED = new Set(["node_modules", "dist", "artifacts", ".lab", ".git"]);
// Dependencies whose install scripts build native code; named so a strict npm
// runs them, as the README's install command does.
const ALLOW_SCRIPTS = "--allow-scripts=ssh2,zookeeper,cpu-features";

let scratch: string;
let prefix: string;
let installed: string;
let packed: { filename: string; size: number; entryCount: number; files: { path: string }[] };

/**
 * `npm test` exports the outer invocation's settings as npm_* variables: the
 * machine's global prefix (a slip in the --prefix below would install there),
 * `-s`'s silent log level (which would hide why an install failed), the outer
 * package and script. The nested npm reads its config files afresh instead;
 * registry, cache and the like set by the user still pass.
 */
function npmEnv(): NodeJS.ProcessEnv {
  const outer = /^npm_(package_|lifecycle_|command$|execpath$|config_(local_prefix|prefix|global_prefix|global|loglevel|allow_scripts|user_agent|npm_version)$)/i;
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !outer.test(k) && k !== "INIT_CWD"));
}

/** A home holding the super password file the example inventory names (check reads it), as its user would have. */
function withExampleSecret(): NodeJS.ProcessEnv {
  const home = join(scratch, "home");
  mkdirSync(join(home, ".zkfleet"), { recursive: true });
  writeFileSync(join(home, ".zkfleet", "orders-zk.super"), "example-secret\n", { mode: 0o600 });
  return { ...npmEnv(), HOME: home };
}

function run(command: string, args: string[], cwd: string, env = npmEnv()): { code: number | null; out: string; err: string } {
  const r = spawnSync(command, args, { cwd, env, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function mustRun(command: string, args: string[], cwd: string): string {
  const r = run(command, args, cwd);
  if (r.code !== 0) throw new Error(`${command} ${args.join(" ")} exited ${r.code}\n${r.err.slice(-4000)}\n${r.out.slice(-2000)}`);
  return r.out;
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "zkfleet-pack-"));
  const src = join(scratch, "src");
  cpSync(repo, src, { recursive: true, filter: (path) => !(resolve(path, "..") === repo && NOT_COPIED.has(basename(path))) });
  // prepack builds with the checkout's TypeScript and esbuild; the tarball never holds node_modules.
  symlinkSync(join(repo, "node_modules"), join(src, "node_modules"));
  const out = mustRun("npm", ["pack", "--json", "--pack-destination", scratch], src);
  // prepack's own output (the agent bundle's path) comes first on stdout.
  packed = JSON.parse(out.slice(out.search(/^\[/m)))[0];
  prefix = join(scratch, "prefix");
  mustRun("npm", ["install", "-g", "--prefix", prefix, "--no-audit", "--no-fund", "--prefer-offline", ALLOW_SCRIPTS, join(scratch, packed.filename)], scratch);
  installed = join(prefix, "lib", "node_modules", "zkfleet");
}, 900_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("the packed zkfleet, installed with npm install -g", () => {
  it("holds the build, the agent bundle, templates, dist recipe files and the docs/ pages, and no sources or tests", () => {
    const paths = packed.files.map((f) => f.path);
    for (const p of ["bin/zkfleet.js", "dist/zkfleet.cjs", "dist/controller/cli.js", "dist/agent.js", "dist/controller/canary/worker.js", "dist/controller/zk/worker.js",
      "templates/zoo.cfg.hbs", "dists/files/zkEnv.sh", "inventories/example.yml", "README.md", "package.json"]) {
      expect(paths).toContain(p);
    }
    // The README is the front door: every page it and the pages link to ships with it.
    const pages = readdirSync(join(repo, "docs")).filter((f) => f.endsWith(".md"));
    expect(pages.length).toBeGreaterThan(0);
    for (const page of pages) expect(paths).toContain(`docs/${page}`);
    expect(paths.filter((p) => p.endsWith(".ts") || p.endsWith(".map") || p.startsWith("test/") || p.startsWith("node_modules/"))).toEqual([]);
  });

  it("puts zkfleet on the prefix's PATH: --version is package.json's", () => {
    const r = run(join(prefix, "bin", "zkfleet"), ["--version"], scratch);
    expect(r).toMatchObject({ code: 0, out: `${version}\n` });
  });

  it("checks the example inventory, with no TypeScript and no build on the user's side", () => {
    const inventory = join(scratch, "example.yml");
    copyFileSync(join(installed, "inventories", "example.yml"), inventory);
    const r = run(join(prefix, "bin", "zkfleet"), ["check", "-i", inventory], scratch, withExampleSecret());
    expect(r.err).toBe("");
    expect(r).toMatchObject({ code: 0 });
    expect(r.out).toContain("0 error(s)");
    expect(existsSync(join(installed, "node_modules", "typescript"))).toBe(false);
    expect(existsSync(join(installed, "node_modules", "tsx"))).toBe(false);
  });

  it("keeps a code cache per command beside the bundle: a damaged one is replaced, a mistyped command leaves none", () => {
    const dist = join(installed, "dist");
    const caches = () => readdirSync(dist).filter((f) => f.endsWith(".cache"));
    for (const f of caches()) rmSync(join(dist, f));
    const inventory = join(scratch, "example-cache.yml");
    copyFileSync(join(installed, "inventories", "example.yml"), inventory);
    const check = () => run(join(prefix, "bin", "zkfleet"), ["check", "-i", inventory], scratch, withExampleSecret());

    expect(check()).toMatchObject({ code: 0, err: "" });
    const [made, ...more] = caches();
    expect(more).toEqual([]);
    expect(made).toMatch(new RegExp(`^zkfleet\\.cjs\\.[0-9a-f]{16}\\.${process.version.replace(/\./g, "\\.")}\\.check\\.cache$`));
    const damaged = Buffer.alloc(statSync(join(dist, made!)).size, 0x5a);
    writeFileSync(join(dist, made!), damaged);
    const again = check();
    expect(again).toMatchObject({ code: 0, err: "" });
    expect(again.out).toContain("0 error(s)");
    expect(readFileSync(join(dist, made!)).equals(damaged)).toBe(false);

    expect(run(join(prefix, "bin", "zkfleet"), ["chek", "-i", inventory], scratch).code).toBe(3);
    expect(caches()).toEqual([made]);
  });

  it("shows a command's examples with help COMMAND", () => {
    const r = run(join(prefix, "bin", "zkfleet"), ["help", "apply"], scratch);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Examples:\n {2}zkfleet apply -i /);
  });

  it("loads the zookeeper native client the canary and the data commands use", () => {
    const r = run(process.execPath, ["-e", "require('zookeeper')"], installed);
    expect(r).toMatchObject({ code: 0, err: "" });
  });

  it("finds ssh2's crypto binding from the bundle, where the bundle asks for it (else ssh2 would fall back to its JavaScript ciphers)", () => {
    const bundle = join(installed, "dist", "zkfleet.cjs");
    const asked = [...readFileSync(bundle, "utf8").matchAll(/require\("(ssh2\/[^"]+\.node)"\)/g)].map((m) => m[1]);
    expect(asked).toEqual(["ssh2/lib/protocol/crypto/build/Release/sshcrypto.node"]);
    const script = `const b = require("node:module").createRequire(${JSON.stringify(bundle)})(${JSON.stringify(asked[0])}); console.log(typeof b.ChaChaPolyCipher)`;
    expect(run(process.execPath, ["-e", script], scratch)).toMatchObject({ code: 0, out: "function\n" });
  });

  it("keeps the artifact cache in ~/.zkfleet, not in the package directory an upgrade replaces", () => {
    const paths = join(installed, "dist", "common", "paths.js");
    const script = `import(${JSON.stringify(paths)}).then((m) => console.log(m.defaultArtifactsDir({ HOME: "/home/op" }), m.defaultArtifactsDir({ HOME: "/home/op", ZKFLEET_ARTIFACTS: "/cache" })))`;
    const r = run(process.execPath, ["-e", script], scratch);
    expect(r).toMatchObject({ code: 0, out: "/home/op/.zkfleet/artifacts /cache\n" });
  });
});
