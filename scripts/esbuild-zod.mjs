// What the agent bundle and the controller bundle share: zod without its
// other locales.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * zod's namespaces export every locale's error messages (about 300 KB of a
 * bundle), which every process would parse at each start; zkfleet speaks
 * English only, which zod sets up apart from this index.
 */
export const englishOnlyZod = {
  name: "english-only-zod",
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(args.importer) ? { path: "zod-locales", namespace: "english-only-zod" } : undefined);
    b.onLoad({ filter: /.*/, namespace: "english-only-zod" }, () => ({
      contents: 'export { default as en } from "zod/v4/locales/en.js";', resolveDir: root, loader: "js",
    }));
  },
};
