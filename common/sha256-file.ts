// A file's sha256, read as a stream (a snapshot or a tarball can be large).
// Shared: the agent checks what was pushed, the controller what it stored.
import { createReadStream } from "node:fs";

export async function sha256File(path: string): Promise<string> {
  // Loaded when first needed: node:crypto costs an agent's start 2-3 ms, and most batches hash nothing.
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
