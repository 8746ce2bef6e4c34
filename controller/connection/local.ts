// The controller's own machine as a Connection: same contract as SSH, so the
// executor and the lab can drive a local host without a transport in between.

import { spawn } from "node:child_process";
import { createConnection } from "node:net";
import { type Duplex, Readable } from "node:stream";
import { readFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { ZkfleetError } from "../../common/errors.js";
import { writeFileAtomic } from "../../common/atomic-file.js";
import {
  effectiveArgv,
  getThroughSudo,
  missingFileError,
  octalMode,
  putThroughSudo,
  signalExitCode,
  timeoutError,
  unlessSudoRefused,
} from "./quote.js";
import type { Connection, RunOptions, RunResult } from "./types.js";

export interface LocalConnectionOptions {
  /** Name used in messages; defaults to "localhost". */
  host?: string;
  /** Allow run({ become: true }) and file access to escalate through sudo. */
  become?: boolean;
}

export class LocalConnection implements Connection {
  readonly host: string;
  private readonly become: boolean;
  private readonly user = userInfo().username;
  private readonly isRoot = process.getuid?.() === 0;

  constructor(options: LocalConnectionOptions = {}) {
    this.host = options.host ?? "localhost";
    this.become = options.become ?? false;
  }

  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const sudo = this.needsSudo(options.become);
    const result = await spawnCollect(this.host, effectiveArgv(argv, options.timeoutMs, sudo), argv, options);
    return unlessSudoRefused(result, sudo, this.host, this.user);
  }

  async put(path: string, content: string | Buffer, mode = 0o644): Promise<void> {
    octalMode(mode);
    if (this.needsSudo(true)) return putThroughSudo(this.run.bind(this), this.host, path, content, mode);
    // Readers see the old file or the new one, never a torn write.
    try {
      await writeFileAtomic(path, content, mode);
    } catch (cause) {
      throw fileError(this.host, "write", path, cause);
    }
  }

  async get(path: string): Promise<Buffer> {
    if (this.needsSudo(true)) return getThroughSudo(this.run.bind(this), this.host, path);
    try {
      return await readFile(path);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === "ENOENT") throw missingFileError(this.host, path);
      throw fileError(this.host, "read", path, cause);
    }
  }

  openTcp(address: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host: address, port });
      socket.once("connect", () => resolve(socket));
      socket.once("error", (cause) =>
        reject(new ZkfleetError("ssh", `${this.host} cannot connect to ${address}:${port}: ${cause.message}`, { where: this.host, cause })));
    });
  }

  async close(): Promise<void> {}

  private needsSudo(asked: boolean | undefined): boolean {
    return Boolean(asked) && this.become && !this.isRoot;
  }
}

function fileError(host: string, verb: string, path: string, cause: unknown): ZkfleetError {
  const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
  return new ZkfleetError("ssh", `cannot ${verb} ${path} on ${host}: ${code}`, {
    where: `${host}:${path}`,
    hint: "check that the directory exists and is writable by this user (or enable become)",
    cause,
  });
}

/** spawn without a shell, collecting output; a missing program is exit 127 as a shell would report it. */
function spawnCollect(host: string, argv: readonly string[], asked: readonly string[], options: RunOptions): Promise<RunResult> {
  const [program = "", ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ["pipe", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const finish = (outcome: () => void) => {
      clearTimeout(timer);
      outcome();
    };
    if (options.timeoutMs !== undefined) {
      // The `timeout` wrapper kills the whole process group (even under sudo, where we could not).
      timer = setTimeout(() => {
        finish(() => reject(timeoutError(host, asked, options.timeoutMs ?? 0)));
      }, options.timeoutMs);
    }
    child.stdout.on("data", (chunk: Buffer) => {
      stdout.push(chunk);
      options.onStdout?.(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    // A program that exits without reading its stdin makes our write fail with EPIPE; that is its choice, not an error.
    child.stdin.on("error", () => {});
    if (options.stdin instanceof Readable) options.stdin.pipe(child.stdin);
    else child.stdin.end(options.stdin ?? "");
    child.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return finish(() => resolve({ code: 127, stdout: "", stderr: `${program}: command not found\n` }));
      const failure = new ZkfleetError("ssh", `cannot start ${program} on ${host}: ${err.message}`, { where: host, cause: err });
      finish(() => reject(failure));
    });
    child.on("close", (code, signal) => {
      finish(() =>
        resolve({
          code: signal ? signalExitCode(signal) : (code ?? 0),
          stdout: Buffer.concat(stdout).toString("utf8"),
          stderr: Buffer.concat(stderr).toString("utf8"),
          ...(signal ? { signal } : {}),
        }),
      );
    });
  });
}
