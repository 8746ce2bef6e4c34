// A stdin stream as the agent session uses it, on any Connection: each line
// is written only after the answer to the one before came back, so a
// connection that held stdin back until it ended would hang here.
import { PassThrough } from "node:stream";
import type { Connection } from "../../controller/connection/types.js";

export async function converse(conn: Connection, lines: readonly string[], become = false): Promise<string> {
  const stdin = new PassThrough();
  let seen = "";
  let answered: () => void = () => undefined;
  const done = conn.run(["sh", "-c", 'while read -r l; do echo "got $l"; done'], {
    stdin,
    become,
    onStdout: (chunk) => {
      seen += chunk.toString();
      answered();
    },
  });
  for (const line of lines) {
    stdin.write(`${line}\n`);
    while (!seen.endsWith(`got ${line}\n`)) await new Promise<void>((resolve) => (answered = resolve));
  }
  stdin.end();
  return (await done).stdout;
}
