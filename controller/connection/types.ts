import type { Duplex, Readable } from "node:stream";

// The whole surface the rest of zkfleet needs from a host. Kept tiny on
// purpose (as Ansible's connection plugins are) so a local implementation and
// an SSH one are interchangeable and the executor never sees transport detail.

export interface RunOptions {
  /**
   * Bytes written to the command's stdin, then stdin is closed; a stream is
   * piped as it produces data, and stdin closes when it ends (a long-lived
   * agent session writes each request when its step starts).
   */
  stdin?: string | Buffer | Readable;
  /** Run through privilege escalation (sudo) when the connection is configured for it. */
  become?: boolean;
  /** Kill the command and fail after this many milliseconds. */
  timeoutMs?: number;
  /** Called with stdout chunks as they arrive (for streaming protocols). */
  onStdout?: (chunk: Buffer) => void;
}

/** A non-zero exit is a result, not an exception. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Set when the process died of a signal. */
  signal?: string;
}

export interface Connection {
  /** Host name as the inventory calls it: used in every message. */
  readonly host: string;
  /**
   * Run a program with an argv vector. Implementations quote every element
   * so that no value reaches a shell unquoted.
   */
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Write content to a remote path (created with the given mode, default 0644). */
  put(remotePath: string, content: string | Buffer, mode?: number): Promise<void>;
  /** Read a remote file; throws a ZkfleetError if it does not exist. */
  get(remotePath: string): Promise<Buffer>;
  /**
   * A TCP stream to address:port as dialled from the host (SSH: a direct-tcpip
   * channel). Lets the controller read ZooKeeper's client port without
   * starting any process on the host. Rejects when the host cannot connect.
   */
  openTcp(address: string, port: number): Promise<Duplex>;
  close(): Promise<void>;
}
