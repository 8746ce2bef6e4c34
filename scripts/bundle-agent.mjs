// Bundles agent/main.ts and its dependencies (zod, diff) into one file that a
// host runs with a plain `node`, whatever is (not) installed there.
//
// Format: CommonJS. The controller pushes the bundle as agent-<hash>.js into
// an arbitrary directory; Node loads a `.js` file as CommonJS unless a
// package.json above it says "type": "module", so CJS runs everywhere, where
// an ESM bundle would need a .mjs name or a package.json beside it.
// Target node18: the oldest Node the controller accepts on a host.

import { build } from "esbuild";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { englishOnlyZod } from "./esbuild-zod.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The bundle as the source of a vm.Script compiled with V8's code cache, kept
 * beside the file per node version and written by the first run that finds
 * none (or one V8 rejects: it checks its own version and flags and the
 * source's length, not its content, which the file's name carries as a hash,
 * so a cache beside a bundle is that bundle's). Every run starts an agent on
 * each host; measured on a 2-core lab host, the cache takes a start from 83
 * to 73 ms, and with English-only zod its CPU from 100 to 80 ms. Where the
 * directory is not writable the agent just compiles each time.
 */
function withCodeCache(code, version) {
  const source = `(function (exports, require, module, __filename, __dirname) {${code}\n})`;
  return `"use strict";
// zkfleet agent ${version}: the bundle is the string below (see scripts/bundle-agent.mjs).
const { readFileSync, renameSync, rmSync, writeFileSync } = require("node:fs");
const { Script } = require("node:vm");
const cache = \`\${__filename}.\${process.version}.cache\`;
let cachedData;
try { cachedData = readFileSync(cache); } catch {}
const script = new Script(${JSON.stringify(source)}, { filename: __filename, cachedData });
script.runInThisContext()(exports, require, module, __filename, __dirname);
if (cachedData === undefined || script.cachedDataRejected) {
  process.once("beforeExit", () => {
    const temp = \`\${cache}.\${process.pid}\`;
    try { writeFileSync(temp, script.createCachedData()); renameSync(temp, cache); } catch { try { rmSync(temp, { force: true }); } catch {} }
  });
}
`;
}

/** Build the agent bundle; returns its path. The output is written atomically. */
export async function bundleAgent({ outfile = join(root, "dist", "agent.js") } = {}) {
  const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8"));
  const result = await build({
    entryPoints: [join(root, "agent", "main.ts")],
    bundle: true,
    platform: "node",
    target: "node18",
    format: "cjs",
    outfile,
    write: false,
    // Runs as a vm.Script, where import() has no loader to call: a module loaded on first use is required.
    supported: { "dynamic-import": false },
    // Whitespace and syntax only: identifiers stay readable in a stack trace from a host.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "eof",
    define: { __ZKFLEET_AGENT_VERSION__: JSON.stringify(pkg.version) },
    logLevel: "warning",
    plugins: [englishOnlyZod],
  });
  const [file] = result.outputFiles;
  await mkdir(dirname(outfile), { recursive: true });
  const temp = `${outfile}.tmp-${process.pid}`;
  await writeFile(temp, withCodeCache(file.text, pkg.version));
  await rename(temp, outfile);
  return outfile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await bundleAgent(process.argv[2] ? { outfile: resolve(process.argv[2]) } : {});
  process.stdout.write(`agent bundle: ${out}\n`);
}
