// Bundles the controller (controller/cli/main.ts and everything it loads, zod,
// yaml, handlebars, commander and the rest) into one CommonJS file,
// dist/zkfleet.cjs, which bin/zkfleet.js runs through V8's code cache.
//
// Why: every zkfleet command is a short process, and loading about 200 ES
// modules one by one (resolving, reading, compiling each) was the largest part
// of what the controller adds to a roll before the hosts' SSH handshakes can
// start. Measured on a quiet 3-server roll (bench/README.md): 538 ms of
// controller time unbundled, 492 ms bundled, 446 ms bundled with the cache,
// and some 15 ms less again with ssh2's JavaScript in the bundle.
//
// Left out of the bundle: native parts (ssh2's crypto binding, the
// zookeeper client, cpu-features), which are required from node_modules as
// usual. The tsc output in dist/ stays: the ZooKeeper client
// and canary workers run as their own processes from it, and each bundled
// module's import.meta.url is rewritten to its file there, so that paths
// found from a module (templates, the package root, the workers) are what
// they were.
import { createHash } from "node:crypto";
import { build } from "esbuild";
import { readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { englishOnlyZod } from "./esbuild-zod.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Each source's import.meta.url, as the URL of its compiled file under dist/ (the bundle's own directory). */
const moduleUrls = {
  name: "module-urls",
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const text = await readFile(args.path, "utf8");
      if (!text.includes("import.meta.url") || args.path.includes(`${join(root, "node_modules")}`)) return undefined;
      const compiled = relative(root, args.path).replace(/\.ts$/, ".js");
      const url = `require("node:url").pathToFileURL(require("node:path").join(__dirname, ${JSON.stringify(compiled)})).href`;
      return { contents: text.replaceAll("import.meta.url", url), loader: "ts" };
    });
  },
};

/**
 * The built-in templates compiled ahead (controller/render/precompiled.ts
 * says why): that module's text in the bundle is precompileTemplates' output
 * as code. It is taken from render.ts as tsc compiled it (`npm run build` runs
 * tsc first), so that the templates are compiled by the same function, with
 * the same options, as at run time.
 */
const precompiledTemplates = {
  name: "precompiled-templates",
  setup(b) {
    b.onLoad({ filter: /[\\/]controller[\\/]render[\\/]precompiled\.ts$/ }, async () => {
      const { precompileTemplates } = await import(pathToFileURL(join(root, "dist", "controller", "render", "render.js")).href);
      const entries = Object.entries(precompileTemplates(join(root, "templates")))
        .map(([name, t]) => `  ${JSON.stringify(name)}: { sha256: ${JSON.stringify(t.sha256)}, spec: ${t.spec} }`);
      return { contents: `export const PRECOMPILED = {\n${entries.join(",\n")}\n};\n`, loader: "js" };
    });
  },
};

/**
 * ssh2's crypto binding, required from the package's own directory as a path
 * under the package name: bundled, ssh2 would look for it beside the bundle,
 * find nothing and fall back, silently, to its slower JavaScript ciphers.
 */
const ssh2Binding = {
  name: "ssh2-binding",
  setup(b) {
    b.onResolve({ filter: /sshcrypto\.node$/ }, (args) =>
      /[\\/]node_modules[\\/]ssh2[\\/]/.test(args.importer) ? { path: "ssh2/lib/protocol/crypto/build/Release/sshcrypto.node", external: true } : undefined);
  },
};

/**
 * Build dist/zkfleet.cjs. Its first line names the hash of the rest: the code
 * caches bin/zkfleet.js keeps beside it carry that hash in their names, since
 * V8 accepts a cache for any source of the same length. The caches of an
 * earlier build are removed.
 */
export async function bundleController({ outfile = join(root, "dist", "zkfleet.cjs") } = {}) {
  const result = await build({
    entryPoints: [join(root, "controller", "cli", "main.ts")],
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    outfile,
    write: false,
    external: ["zookeeper", "cpu-features"],
    // Runs as a vm.Script, where import() has no loader to call: a module loaded on first use is required.
    supported: { "dynamic-import": false },
    // Whitespace and syntax only: identifiers stay readable in a stack trace.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "eof",
    logLevel: "warning",
    plugins: [precompiledTemplates, englishOnlyZod, moduleUrls, ssh2Binding],
  });
  const code = result.outputFiles[0].text;
  const hash = createHash("sha256").update(code).digest("hex").slice(0, 16);
  const temp = `${outfile}.tmp-${process.pid}`;
  await writeFile(temp, `// zkfleet ${hash}\n${code}`);
  await rename(temp, outfile);
  const dir = dirname(outfile), base = `${outfile.slice(dir.length + 1)}.`;
  for (const f of await readdir(dir)) {
    if (f.startsWith(base) && f.endsWith(".cache") && !f.startsWith(`${base}${hash}.`)) await rm(join(dir, f), { force: true });
  }
  return outfile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await bundleController(process.argv[2] ? { outfile: resolve(process.argv[2]) } : {});
  process.stdout.write(`controller bundle: ${out}\n`);
}
