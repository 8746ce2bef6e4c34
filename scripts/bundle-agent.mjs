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

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

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
    // Whitespace and syntax only: identifiers stay readable in a stack trace from a host.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "eof",
    define: { __ZKFLEET_AGENT_VERSION__: JSON.stringify(pkg.version) },
    logLevel: "warning",
  });
  const [file] = result.outputFiles;
  await mkdir(dirname(outfile), { recursive: true });
  const temp = `${outfile}.tmp-${process.pid}`;
  await writeFile(temp, file.contents);
  await rename(temp, outfile);
  return outfile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await bundleAgent(process.argv[2] ? { outfile: resolve(process.argv[2]) } : {});
  process.stdout.write(`agent bundle: ${out}\n`);
}
