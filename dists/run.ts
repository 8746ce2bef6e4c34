// Running Debian's tools (apt-get, apt-cache, dpkg-deb, tar) for a build,
// with their failures turned into artifact errors that say what was being done.
import { execFile } from "node:child_process";
import { ZkfleetError } from "../common/errors.js";

interface RunOptions {
  what: string;
  cwd?: string;
  /** For the error: what the command was working on; default cwd. */
  where?: string;
  timeoutMs?: number;
  hint?: string;
}

export function run(cmd: string, args: string[], o: RunOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { cwd: o.cwd, timeout: o.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LC_ALL: "C" } },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
        const tail = stderr.trim().split("\n").slice(-6).join("\n");
        reject(
          new ZkfleetError("artifact", missing ? `${cmd} is not installed` : `${o.what} failed${tail ? `:\n${tail}` : ""}`, {
            where: o.where ?? o.cwd,
            hint: missing ? `building distributions needs Debian's ${cmd}` : o.hint,
            cause: err,
          }),
        );
      },
    );
  });
}
