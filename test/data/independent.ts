// A reader that shares no code with zkfleet, for checking what it copied:
// ZooKeeper's own Java client (TreeDigest.java, run from the 3.8.0
// distribution's jars). Its state digest covers every node's zxids and
// versions, so "nothing was written" can be seen from outside (the servers'
// last zxid cannot tell: opening and closing a session moves it).
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { zkCli } from "../helpers/zkcli.js";

const execFileP = promisify(execFile);

export interface IndependentDigest {
  nodes: number;
  ephemeral: number;
  digest: string;
  /** Changes with any write below the root. */
  state: string;
}

export async function javaDigest(server: string, root: string, auth?: string): Promise<IndependentDigest> {
  const lib = join(process.env.ZKFLEET_TEST_ZKCLI ?? "/var/tmp/zkfleet-test-zkcli", "apache-zookeeper-3.8.0-bin", "lib");
  // zkCli's helper unpacks the distribution once.
  if (!existsSync(lib)) await zkCli(server, []);
  const source = fileURLToPath(new URL("./TreeDigest.java", import.meta.url));
  const { stdout } = await execFileP("java", ["-cp", `${lib}/*`, source, server, root, ...(auth ? [auth] : [])], { timeout: 300_000, maxBuffer: 16 << 20 });
  const m = /^nodes (\d+) ephemeral (\d+) digest (sha256:[0-9a-f]{64}) state (sha256:[0-9a-f]{64})$/m.exec(stdout);
  if (!m) throw new Error(`TreeDigest printed no digest:\n${stdout.slice(-2000)}`);
  return { nodes: Number(m[1]), ephemeral: Number(m[2]), digest: m[3]!, state: m[4]! };
}
