// The worker process of a ZkClient: spawned with the worker script (built
// JS, or the TypeScript source through tsx when running from sources), fed
// request lines on stdin, answering lines on fd 3. The native client logs to
// stdout and stderr; the tail of that is kept for error messages.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ToWorker } from "./protocol.js";

function workerCommand(): string[] {
  const js = fileURLToPath(new URL("./worker.js", import.meta.url));
  if (existsSync(js)) return [js];
  const ts = fileURLToPath(new URL("./worker.ts", import.meta.url));
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return ["--import", tsx, ts];
}

export class WorkerProcess {
  readonly exited: Promise<void>;
  private readonly child: ChildProcess;
  private outgoing: string[] = [];
  private diagnostics = "";

  /** onExit gets "crashed (SIGSEGV)" or "exited (code 3)". */
  constructor(onLine: (line: string) => void, onExit: (how: string) => void) {
    this.child = spawn(process.execPath, workerCommand(), { stdio: ["pipe", "pipe", "pipe", "pipe"] });
    const keep = (d: Buffer) => (this.diagnostics = (this.diagnostics + String(d)).slice(-4000));
    this.child.stdout!.on("data", keep);
    this.child.stderr!.on("data", keep);
    this.child.stdin!.on("error", () => undefined);
    createInterface({ input: this.child.stdio[3] as Readable, crlfDelay: Infinity }).on("line", onLine);
    this.exited = new Promise((resolve) => this.child.on("exit", (code, signal) => {
      onExit(signal ? `crashed (${signal})` : `exited (code ${code})`);
      resolve();
    }));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What the native client last logged. */
  lastWords(): string | undefined {
    return this.diagnostics.trim().split("\n").filter(Boolean).at(-1);
  }

  /** Lines go out once per turn of the event loop: a walk or an import issues thousands of calls at once. */
  send(msg: ToWorker): void {
    if (this.outgoing.length === 0) setImmediate(() => this.flush());
    this.outgoing.push(JSON.stringify(msg));
  }

  /** Asks the worker to close its session and exit; kills it if it has not within graceMs. */
  async end(graceMs = 5000): Promise<void> {
    if (this.running) {
      this.send({ type: "close" });
      this.flush();
      this.child.stdin!.end();
      const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (this.running) this.child.kill("SIGKILL");
  }

  private flush(): void {
    if (this.outgoing.length === 0) return;
    const text = this.outgoing.join("\n") + "\n";
    this.outgoing = [];
    if (this.child.stdin!.writable) this.child.stdin!.write(text);
  }
}
