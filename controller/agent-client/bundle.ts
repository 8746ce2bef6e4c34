// Where the agent bundle lives on the controller and what it is called on a
// host. The remote name carries a hash of the content, so a host keeps one
// file per agent version and a push is needed only when the bundle changes.

import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ZkfleetError } from "../../common/errors.js";
import { packageRoot } from "../../common/paths.js";

/** dist/agent.js under the package root (not the working directory), built by `npm run build`. */
export function defaultBundlePath(): string {
  return join(packageRoot(), "dist", "agent.js");
}

export interface LoadedBundle {
  content: Buffer;
  sha256: string;
  /** agent-<first 16 hex of sha256>.js */
  fileName: string;
}

export async function loadBundle(path: string): Promise<LoadedBundle> {
  let content: Buffer;
  try {
    content = await readFile(path);
  } catch (cause) {
    throw new ZkfleetError("agent", `the agent bundle ${path} cannot be read`, {
      where: path,
      hint: "Build it with `npm run build` (or `node scripts/bundle-agent.mjs`).",
      cause,
    });
  }
  const sha256 = createHash("sha256").update(content).digest("hex");
  return { content, sha256, fileName: `agent-${sha256.slice(0, 16)}.js` };
}
