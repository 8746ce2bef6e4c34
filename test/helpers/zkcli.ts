// An independent reader and writer for lab tests: ZooKeeper's own zkCli.sh
// (3.8.0, from the artifact cache, unpacked once on this machine), talking
// to a lab server's client port. Used so that what a test checks is never
// read back through zkfleet's own code. (3.4.13's zkCli does not run on JDK 17.)
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { defaultArtifactsDir } from "../../common/paths.js";

const execFileP = promisify(execFile);
const DIR = process.env.ZKFLEET_TEST_ZKCLI ?? "/var/tmp/zkfleet-test-zkcli";

async function zkCliPath(): Promise<string> {
  const bin = join(DIR, "apache-zookeeper-3.8.0-bin", "bin", "zkCli.sh");
  if (existsSync(bin)) return bin;
  const temp = `${DIR}.tmp-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true });
  await execFileP("tar", ["-xzf", join(defaultArtifactsDir(process.env), "apache-zookeeper-3.8.0-bin.tar.gz"), "-C", temp]);
  mkdirSync(DIR, { recursive: true });
  if (!existsSync(bin)) renameSync(join(temp, "apache-zookeeper-3.8.0-bin"), join(DIR, "apache-zookeeper-3.8.0-bin"));
  rmSync(temp, { recursive: true, force: true });
  return bin;
}

/** Runs zkCli commands (one per line) against server; returns everything it printed. */
export async function zkCli(server: string, commands: string[], timeoutMs = 60_000): Promise<string> {
  const bin = await zkCliPath();
  return new Promise((resolve) => {
    const child = execFile(bin, ["-server", server], { timeout: timeoutMs, maxBuffer: 64 << 20 }, (_err, stdout, stderr) => resolve(`${stdout}${stderr}`));
    child.stdin!.end([...commands, "quit"].join("\n") + "\n");
  });
}

/** A zkCli kept open: commands sent one at a time while something else runs; close() quits and returns all it printed. */
export async function zkCliSession(server: string): Promise<{ send: (command: string) => void; close: () => Promise<string> }> {
  const bin = await zkCliPath();
  let output = "";
  const child = execFile(bin, ["-server", server], { timeout: 600_000, maxBuffer: 64 << 20 }, (_err, stdout, stderr) => (output = `${stdout}${stderr}`));
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  return {
    send: (command) => void child.stdin!.write(`${command}\n`),
    close: async () => {
      child.stdin!.end("quit\n");
      await exited;
      return output;
    },
  };
}

/** Creates /<root>/n<i> = "value-<i>" for i < count (parents first). */
export async function writeNodes(server: string, root: string, count: number): Promise<void> {
  const out = await zkCli(server, [`create ${root} root`, ...Array.from({ length: count }, (_, i) => `create ${root}/n${i} value-${i}`)]);
  const created = out.split("\n").filter((l) => l.startsWith("Created ")).length;
  if (created !== count + 1) throw new Error(`zkCli created ${created} of ${count + 1} nodes under ${root}:\n${out.slice(-2000)}`);
}

/** Reads /<root>/n<i> back: the data of each, as zkCli prints it, in order. */
export async function readNodes(server: string, root: string, count: number): Promise<string[]> {
  const out = await zkCli(server, Array.from({ length: count }, (_, i) => `get ${root}/n${i}`));
  return out.split("\n").filter((l) => /^value-\d+$/.test(l.trim())).map((l) => l.trim());
}
