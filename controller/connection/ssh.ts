// Connection over SSH (ssh2). One TCP connection per host carries every
// command as its own exec channel plus one SFTP channel for files. Host keys are
// checked against known_hosts before any credential is sent, exactly as strict
// OpenSSH would; nothing here ever trusts a key silently.

import { readFile } from "node:fs/promises";
import { type Duplex, Readable } from "node:stream";
import ssh2 from "ssh2";
import type { AnyAuthMethod, ClientChannel, ConnectConfig, HostVerifier, ParsedKey, SFTPWrapper } from "ssh2";
import { ZkfleetError } from "../../common/errors.js";
import {
  appendKnownHost,
  checkHostKey,
  hostKeyError,
  type KnownHostEntry,
  knownHostName,
  knownKeyTypes,
  loadKnownHosts,
} from "./known-hosts.js";
import { Semaphore } from "./pool.js";
import {
  commandLine,
  effectiveArgv,
  getThroughSudo,
  missingFileError,
  octalMode,
  putThroughSudo,
  signalExitCode,
  tempSibling,
  timeoutError,
  unlessSudoRefused,
} from "./quote.js";
import type { Connection, RunOptions, RunResult } from "./types.js";

const { Client, utils } = ssh2;
type Client = InstanceType<typeof Client>;

/** Everything needed to reach one host; built by resolveSshTarget (ssh-config.ts). */
export interface SshTarget {
  /** Inventory name, used in every message. */
  host: string;
  /** Address or DNS name actually connected to (and looked up in known_hosts). */
  hostname: string;
  port: number;
  user: string;
  /** Private keys tried in order; missing files are skipped and reported on failure. */
  identityFiles: string[];
  knownHostsFile: string;
  /** Trust and record keys of hosts not in known_hosts; a changed key is refused regardless. */
  acceptNewHostKeys: boolean;
  /** Allow run({ become: true }) to escalate with sudo when the login is not root. */
  become: boolean;
  /** Reach this target through an SSH connection to another host first. */
  proxyJump?: SshTarget;
  connectTimeoutMs: number;
  /** ssh-agent socket (SSH_AUTH_SOCK), tried after the identity files. */
  agentSocket?: string;
}

export interface SshConnectOptions {
  /**
   * Exec channels open at once on the connection; OpenSSH's MaxSessions
   * defaults to 10 and SFTP takes one, so more would be refused by the server.
   */
  maxChannels?: number;
  /** ssh2's protocol trace, for diagnosing a handshake. */
  debug?: (line: string) => void;
}

export async function connectSsh(target: SshTarget, options: SshConnectOptions = {}): Promise<Connection> {
  const link = await openLink(target, options);
  return new SshConnection(target, link, options.maxChannels ?? 8);
}

/** A live client and how to shut it down together with its jump hosts. */
interface Link {
  client: Client;
  close(): Promise<void>;
}

async function openLink(target: SshTarget, options: SshConnectOptions): Promise<Link> {
  const jump = target.proxyJump ? await openLink(target.proxyJump, options) : undefined;
  try {
    const sock = jump ? await forwardThrough(jump.client, target) : undefined;
    const client = await handshake(target, sock, options);
    return {
      client,
      close: async () => {
        await endClient(client);
        await jump?.close();
      },
    };
  } catch (error) {
    await jump?.close();
    throw error;
  }
}

function describeTarget(target: SshTarget): string {
  const via = target.proxyJump ? ` via ${target.proxyJump.host}` : "";
  return `${target.host} (${target.user}@${target.hostname}:${target.port}${via})`;
}

/** Opens a direct-tcpip channel from the jump host to the target: the target's "socket". */
function forwardThrough(jump: Client, target: SshTarget): Promise<ClientChannel> {
  const pending = new Promise<ClientChannel>((resolve, reject) => {
    jump.forwardOut("127.0.0.1", 0, target.hostname, target.port, (err, channel) => {
      if (!err) return resolve(channel);
      reject(
        new ZkfleetError("ssh", `cannot reach ${describeTarget(target)} from the jump host: ${err.message}`, {
          where: target.host,
          hint: `check that ${target.hostname}:${target.port} is reachable from ${target.proxyJump?.host} and that its sshd allows TCP forwarding`,
          cause: err,
        }),
      );
    });
  });
  return withTimeout(pending, target.connectTimeoutMs, () =>
    unreachableError(target, `no answer within ${target.connectTimeoutMs} ms`),
  );
}

function withTimeout<T>(pending: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([pending, expired]).finally(() => clearTimeout(timer));
}

interface Identity {
  label: string;
  key: ParsedKey;
}

/** Reads the identity files; a file that cannot be used is a reason, not a crash, unless none is usable. */
async function loadIdentities(files: readonly string[]): Promise<{ usable: Identity[]; unusable: string[] }> {
  const usable: Identity[] = [];
  const unusable: string[] = [];
  for (const file of files) {
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      unusable.push(`${file} (${code === "ENOENT" ? "not found" : `unreadable: ${code}`})`);
      continue;
    }
    const parsed = utils.parseKey(data);
    const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
    if (key instanceof Error || key === undefined) {
      const encrypted = key instanceof Error && /encrypted|passphrase/i.test(key.message);
      unusable.push(`${file} (${encrypted ? "protected by a passphrase" : `not a private key: ${key?.message}`})`);
    } else if (!key.isPrivateKey()) {
      unusable.push(`${file} (a public key; IdentityFile must name the private key)`);
    } else {
      usable.push({ label: `${file} (${key.type})`, key });
    }
  }
  return { usable, unusable };
}

function authError(target: SshTarget, tried: readonly string[], unusable: readonly string[]): ZkfleetError {
  const parts = [
    tried.length > 0 ? `tried ${tried.join(", ")}` : "no key could be offered",
    ...(unusable.length > 0 ? [`skipped ${unusable.join(", ")}`] : []),
  ];
  const passphrase = unusable.some((u) => u.includes("passphrase"));
  return new ZkfleetError("ssh", `authentication failed for ${target.user}@${target.hostname} (${target.host}): ${parts.join("; ")}`, {
    where: target.host,
    hint: passphrase
      ? "zkfleet cannot prompt for a passphrase: load the key into ssh-agent (ssh-add KEY) with SSH_AUTH_SOCK set, or use a key without one"
      : `make sure one of these keys is in ~${target.user}/.ssh/authorized_keys on ${target.hostname}, or set the right identity file / user in the inventory`,
  });
}

function unreachableError(target: SshTarget, cause: string, err?: unknown): ZkfleetError {
  return new ZkfleetError("ssh", `cannot connect to ${describeTarget(target)}: ${cause}`, {
    where: `${target.hostname}:${target.port}`,
    hint: "check that the host is up, sshd listens on that address and port, and no firewall drops the traffic",
    cause: err,
  });
}

const SOCKET_CAUSES: Record<string, string> = {
  ECONNREFUSED: "connection refused (nothing listens on that port)",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  ECONNRESET: "connection reset by the server",
  ENOTFOUND: "the name does not resolve",
  EAI_AGAIN: "name resolution failed temporarily",
};

function connectError(target: SshTarget, err: Error & { level?: string; code?: string }): ZkfleetError {
  if (err.level === "client-timeout") return unreachableError(target, `no SSH handshake within ${target.connectTimeoutMs} ms`, err);
  if (err.level === "client-socket" || err.level === "client-dns") {
    return unreachableError(target, SOCKET_CAUSES[err.code ?? ""] ?? err.message, err);
  }
  return unreachableError(target, `SSH handshake failed: ${err.message}`, err);
}

/** ssh2's default host key order; ssh-rsa (SHA-1) last, for old servers only. */
const HOST_KEY_ALGORITHMS = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
];

/**
 * Like ssh, ask first for the key types known_hosts already holds for this
 * host: a server with several host keys then proves the one we know, instead
 * of showing a new type that would look unknown.
 */
function hostKeyAlgorithms(knownTypes: readonly string[]): string[] | undefined {
  if (knownTypes.length === 0) return undefined;
  const preferred = knownTypes.flatMap((t) => (t === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [t]));
  const first = HOST_KEY_ALGORITHMS.filter((a) => preferred.includes(a));
  return [...first, ...HOST_KEY_ALGORITHMS.filter((a) => !first.includes(a))];
}

/**
 * The verifier runs inside ssh2, which only learns yes/no; the precise reason
 * for a no is kept for refusal() so the connect error can say it.
 */
function hostKeyCheck(target: SshTarget, entries: readonly KnownHostEntry[], name: string) {
  let refusal: ZkfleetError | undefined;
  const verifier: HostVerifier = (key, verify) => {
    const verdict = checkHostKey(entries, name, key);
    if (verdict.kind === "known") return verify(true);
    if (verdict.kind === "unknown" && verdict.otherTypes.length === 0 && target.acceptNewHostKeys) {
      appendKnownHost(target.knownHostsFile, name, key).then(
        () => verify(true),
        (cause: unknown) => {
          refusal = new ZkfleetError("ssh", `cannot record the host key of ${target.host} in ${target.knownHostsFile}`, {
            where: target.knownHostsFile,
            hint: "make the known_hosts file and its directory writable",
            cause,
          });
          verify(false);
        },
      );
      return;
    }
    refusal = hostKeyError(target, verdict, key);
    verify(false);
  };
  return { verifier, refusal: () => refusal };
}

async function handshake(target: SshTarget, sock: ClientChannel | undefined, options: SshConnectOptions): Promise<Client> {
  const { usable, unusable } = await loadIdentities(target.identityFiles);
  if (usable.length === 0 && !target.agentSocket) throw authError(target, [], unusable);
  const entries = await loadKnownHosts(target.knownHostsFile);
  const name = knownHostName(target.hostname, target.port);

  const hostKeys = hostKeyCheck(target, entries, name);
  const methods: Array<{ label: string; method: AnyAuthMethod }> = [
    ...usable.map(({ label, key }) => ({ label, method: { type: "publickey" as const, username: target.user, key } })),
    ...(target.agentSocket
      ? [{ label: `ssh-agent (${target.agentSocket})`, method: { type: "agent" as const, username: target.user, agent: target.agentSocket } }]
      : []),
  ];
  const tried: string[] = [];
  const algorithms = hostKeyAlgorithms(knownKeyTypes(entries, name));
  const config: ConnectConfig = {
    host: target.hostname,
    port: target.port,
    username: target.user,
    readyTimeout: target.connectTimeoutMs,
    keepaliveInterval: 15_000,
    hostVerifier: hostKeys.verifier,
    authHandler: (_left, _partial, next) => {
      const attempt = methods.shift();
      if (!attempt) return next(false as never); // false = no more methods; the typings omit it
      tried.push(attempt.label);
      next(attempt.method);
    },
    ...(sock ? { sock } : {}),
    ...(algorithms ? { algorithms: { serverHostKey: algorithms as NonNullable<ConnectConfig["algorithms"]>["serverHostKey"] } } : {}),
    ...(options.debug ? { debug: options.debug } : {}),
  };

  return new Promise<Client>((resolve, reject) => {
    const client = new Client();
    const fail = (err: Error & { level?: string }) => {
      client.removeAllListeners("ready");
      client.end();
      const refusal = hostKeys.refusal();
      if (refusal) reject(refusal);
      else if (err.level === "client-authentication") reject(authError(target, tried, unusable));
      else reject(connectError(target, err));
    };
    // `on`, not `once`: ssh2 may emit a second error while tearing down, and an
    // 'error' with no listener would crash the process. Later calls reject a settled promise: no-ops.
    client.on("error", fail);
    client.once("close", () => fail(new Error("the server closed the connection during the handshake")));
    client.once("ready", () => {
      client.removeListener("error", fail);
      client.removeAllListeners("close");
      resolve(client);
    });
    client.connect(config);
    // ssh2 leaves Nagle on: a command's or a channel's small packets then wait for the ACK of the previous one,
    // which a delayed ACK holds back (40 ms on Linux), several times per command. Measured: a rolling restart
    // of three lab servers 7.2 s -> 6.0 s, a gate 130 -> 30 ms. (A jump host's channel is no socket: a no-op.)
    client.setNoDelay(true);
  });
}

/** Ends the client and waits (briefly) for the socket to close, so close() means closed. */
function endClient(client: Client): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.destroy();
      resolve();
    }, 2000);
    client.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    client.end();
  });
}

class SshConnection implements Connection {
  readonly host: string;
  private readonly channels: Semaphore;
  private sftpSession?: Promise<SFTPWrapper>;
  /** Set once the transport is gone; later calls fail fast with this reason. */
  private lost?: ZkfleetError;

  constructor(
    private readonly target: SshTarget,
    private readonly link: Link,
    maxChannels: number,
  ) {
    this.host = target.host;
    this.channels = new Semaphore(maxChannels);
    const markLost = (reason: string) => {
      this.lost ??= new ZkfleetError("ssh", `connection to ${describeTarget(target)} was lost: ${reason}`, {
        where: target.host,
        hint: "reconnect; if it keeps happening, check the network and the host's sshd log",
        lostConnection: true,
      });
    };
    // Without an error listener a dropped connection would crash the process.
    link.client.on("error", (err: Error) => markLost(err.message));
    link.client.on("close", () => markLost("closed"));
  }

  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const sudo = this.needsSudo(options.become);
    const command = commandLine(effectiveArgv(argv, options.timeoutMs, sudo));
    const result = await this.channels.use(() => this.exec(command, argv, options));
    return unlessSudoRefused(result, sudo, this.host, this.target.user);
  }

  private exec(command: string, argv: readonly string[], options: RunOptions): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      if (this.lost) return reject(this.lost);
      this.link.client.exec(command, (err, channel) => {
        if (err) {
          return reject(
            new ZkfleetError("ssh", `cannot start ${argv[0]} on ${this.host}: ${err.message}`, {
              where: this.host,
              hint: "the server refused a new session: check sshd's MaxSessions, or whether the connection dropped",
              cause: err,
            }),
          );
        }
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        let exit: { code: number; signal?: string } | undefined;
        let timer: NodeJS.Timeout | undefined;
        if (options.timeoutMs !== undefined) {
          const ms = options.timeoutMs;
          timer = setTimeout(() => {
            channel.close();
            reject(timeoutError(this.host, argv, ms));
          }, ms);
        }
        channel.on("data", (chunk: Buffer) => {
          stdout.push(chunk);
          options.onStdout?.(chunk);
        });
        channel.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
        channel.on("exit", (code: number | null, signal?: string) => {
          exit = signal ? { code: signalExitCode(signal), signal } : { code: code ?? 0 };
        });
        channel.on("close", () => {
          clearTimeout(timer);
          if (!exit) {
            return reject(this.lost ?? new ZkfleetError("ssh", `${argv[0]} on ${this.host} ended without an exit status`, { where: this.host }));
          }
          resolve({ ...exit, stdout: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8") });
        });
        if (options.stdin instanceof Readable) options.stdin.pipe(channel);
        else channel.end(options.stdin);
      });
    });
  }

  async put(path: string, content: string | Buffer, mode = 0o644): Promise<void> {
    octalMode(mode);
    if (this.needsSudo(true)) return putThroughSudo(this.run.bind(this), this.host, path, content, mode);
    const sftp = await this.sftp();
    // Readers see the old file or the new one, never a torn write.
    const temp = tempSibling(path);
    const data = typeof content === "string" ? Buffer.from(content) : content;
    try {
      const handle = await sftpCall<Buffer>((cb) => sftp.open(temp, "wx", { mode }, cb));
      try {
        await writePipelined(sftp, handle, data);
        await sftpCall((cb) => sftp.fchmod(handle, mode, cb)); // the server applied its umask at open
        await sftpCall((cb) => sftp.ext_openssh_fsync(handle, cb)).catch(unlessUnsupported);
      } finally {
        await sftpCall((cb) => sftp.close(handle, cb)).catch(() => {});
      }
      // posix-rename@openssh.com: plain SFTP rename refuses to replace an existing file.
      await sftpCall((cb) => sftp.ext_openssh_rename(temp, path, cb));
    } catch (cause) {
      await sftpCall((cb) => sftp.unlink(temp, cb)).catch(() => {});
      throw this.fileError("write", path, cause);
    }
  }

  async get(path: string): Promise<Buffer> {
    if (this.needsSudo(true)) return getThroughSudo(this.run.bind(this), this.host, path);
    const sftp = await this.sftp();
    try {
      return await sftpCall<Buffer>((cb) => sftp.readFile(path, cb));
    } catch (cause) {
      if ((cause as { code?: unknown }).code === NO_SUCH_FILE) throw missingFileError(this.host, path);
      throw this.fileError("read", path, cause);
    }
  }

  openTcp(address: string, port: number): Promise<Duplex> {
    if (this.lost) return Promise.reject(this.lost);
    // The transport going away races a channel open: that is the host gone, not the port refusing.
    const lostNow = (err: Error) => this.lost ?? new ZkfleetError("ssh", `connection to ${this.host} was lost: ${err.message}`, {
      where: this.host, cause: err, lostConnection: true,
    });
    return new Promise((resolve, reject) => {
      try {
        this.link.client.forwardOut("127.0.0.1", 0, address, port, (err, channel) => {
          if (!err) return resolve(channel);
          if (this.lost || /not connected|no response from server/i.test(err.message)) return reject(lostNow(err));
          reject(new ZkfleetError("ssh", `${this.host} cannot connect to ${address}:${port}: ${err.message}`, { where: this.host, cause: err }));
        });
      } catch (err) {
        // ssh2 throws "Not connected" synchronously once its socket is gone.
        reject(lostNow(err as Error));
      }
    });
  }

  async close(): Promise<void> {
    this.lost ??= new ZkfleetError("ssh", `connection to ${this.host} is closed`, { where: this.host, lostConnection: true });
    await this.link.close();
  }

  private needsSudo(asked: boolean | undefined): boolean {
    return Boolean(asked) && this.target.become && this.target.user !== "root";
  }

  private sftp(): Promise<SFTPWrapper> {
    if (this.lost) return Promise.reject(this.lost);
    this.sftpSession ??= new Promise<SFTPWrapper>((resolve, reject) => {
      this.link.client.sftp((err, sftp) => {
        if (!err) return resolve(sftp);
        this.sftpSession = undefined;
        reject(
          new ZkfleetError("ssh", `cannot open SFTP on ${this.host}: ${err.message}`, {
            where: this.host,
            hint: "enable the sftp subsystem in sshd_config (Subsystem sftp internal-sftp)",
            cause: err,
          }),
        );
      });
    });
    return this.sftpSession;
  }

  private fileError(verb: string, path: string, cause: unknown): ZkfleetError {
    if (cause instanceof ZkfleetError) return cause;
    const message = cause instanceof Error ? cause.message : String(cause);
    return new ZkfleetError("ssh", `cannot ${verb} ${path} on ${this.host}: ${message}`, {
      where: `${this.host}:${path}`,
      hint: `check that the directory exists and ${this.target.user} may ${verb} there (or enable become)`,
      cause,
    });
  }
}

/**
 * SFTP WRITE requests of one put, each at most PUT_CHUNK_BYTES, of which up to
 * PUT_WRITES_IN_FLIGHT are sent before the first reply (like ssh2's fastPut and
 * OpenSSH's sftp -R): one sftp.write of the whole buffer would send one request
 * and wait for its reply before the next, a round trip per ~255 KB. 32 x 64 KiB
 * is 2 MiB in flight, OpenSSH's session channel window, which bounds what can be
 * in flight anyway.
 */
const PUT_CHUNK_BYTES = 64 * 1024;
const PUT_WRITES_IN_FLIGHT = 32;

/**
 * Writes data at offset 0 of the open handle. After the first failed request
 * no new one is sent; it rejects with that failure once every request already
 * sent has been answered (or failed with the channel), so the caller's close
 * and unlink never overtake a write.
 */
function writePipelined(sftp: SFTPWrapper, handle: Buffer, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    let next = 0;
    let inFlight = 0;
    let failure: { error: unknown } | undefined;
    const pump = (): void => {
      while (!failure && next < data.length && inFlight < PUT_WRITES_IN_FLIGHT) {
        const offset = next;
        const length = Math.min(PUT_CHUNK_BYTES, data.length - offset);
        next += length;
        inFlight++;
        const done = (err?: unknown): void => {
          inFlight--;
          if (err && !failure) failure = { error: err };
          pump();
        };
        try {
          sftp.write(handle, data, offset, length, offset, (err) => done(err ?? undefined));
        } catch (err) {
          done(err); // ssh2 throws synchronously on bad arguments
        }
      }
      if (inFlight > 0) return;
      if (failure) reject(failure.error);
      else if (next >= data.length) resolve();
    };
    pump();
  });
}

/** fsync is best effort: a server without the extension still gets an atomic rename. */
function unlessUnsupported(err: unknown): void {
  if (!(err instanceof Error && /does not support/.test(err.message))) throw err;
}

/** SFTP status code for a missing path (draft-ietf-secsh-filexfer-02). */
const NO_SUCH_FILE = 2;

/** Promise around one ssh2 SFTP callback call; a synchronous throw (unsupported extension) rejects too. */
function sftpCall<T = void>(start: (cb: (err: Error | null | undefined, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    start((err, value) => (err ? reject(err) : resolve(value)));
  });
}
