// One ZooKeeper session spoken directly over TCP (jute.ts): the data
// plane's transport. It replaces the native client there because that
// client offers no multi, and because a pure-JavaScript session cannot take
// the process down (DESIGN.md) and needs no worker process, so requests and
// answers cross no JSON pipe.
//
// The session's requests are answered in the order they were written (the
// server keeps a session FIFO), so answers are matched to the queue's head.
// A lost connection fails the requests written on it (connectionLoss: a
// write may or may not have been applied) and the session is taken to the
// next server with its id and password, as every ZooKeeper client does;
// requests made while disconnected wait and are written once it is back.
// The server drops watches with the connection: onReconnect tells the
// caller so.
import { type Socket, connect as tcpConnect } from "node:net";
import { type Acl } from "./protocol.js";
import { JuteReader, JuteWriter, Op, Xid } from "./jute.js";

export interface ServerAddress {
  host: string;
  port: number;
}

export interface WireSessionOptions {
  servers: ServerAddress[];
  /** A chroot from the connect string ("/app"): prefixed to every path sent, taken off every path received. */
  chroot?: string;
  /** The server tried first (an index into servers, wrapped); a random one when not given. */
  first?: number;
  sessionTimeoutMs: number;
  /** How long open() waits for the first session. */
  connectTimeoutMs: number;
  auth: { scheme: string; credential: string }[];
  /** A watch fired: the server's event type (1 created, 2 deleted, 3 changed, 4 child) and path. */
  onWatch?: (type: number, path: string) => void;
  /** The connection was lost and the session re-established elsewhere: watches are gone. */
  onReconnect?: (why: string) => void;
  /** The session is gone for good (expired, authentication refused, closed). */
  onGone?: (why: SessionGone) => void;
}

export type SessionGone = { kind: "expired" | "auth_failed" | "closed" | "unreachable"; message: string };

/** A call the server answered with an error code, or the connection failed under (rc < 0, ZooKeeper's codes). */
export class WireError extends Error {
  constructor(readonly rc: number, message: string) {
    super(message);
  }
}

export const RC = { connectionLoss: -4, marshallingError: -5, sessionExpired: -112, authFailed: -115, closing: -116 } as const;

interface Request {
  op: number;
  /** The framed packet; its xid is written when it goes out. */
  packet: Buffer;
  decode: (r: JuteReader, err: number) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  xid: number;
}

const PASSWORD_NONE = Buffer.alloc(16);

export class WireSession {
  sessionId = 0n;
  /** What the server granted. */
  timeoutMs = 0;
  /** The server this session is on now ("host:port"), or "" between connections. */
  server = "";
  private password: Buffer = PASSWORD_NONE;
  private lastZxid = 0n;
  private socket: Socket | undefined;
  private connected = false;
  private gone: SessionGone | undefined;
  private readonly waiting: Request[] = [];
  private readonly sent: Request[] = [];
  private out: Buffer[] = [];
  private nextXid = 1;
  private serverIndex: number;
  private lastSent = 0;
  private lastHeard = 0;
  /** Since when no server has taken the session (0: one has). */
  private lostSince = 0;
  private failures = 0;
  private readonly timer: NodeJS.Timeout;
  private chunks: Buffer[] = [];
  private have = 0;
  private ready: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private authPending = 0;

  private constructor(private readonly opts: WireSessionOptions) {
    this.serverIndex = opts.first ?? Math.floor(Math.random() * opts.servers.length);
    this.timer = setInterval(() => this.tick(), 100).unref();
  }

  static async open(opts: WireSessionOptions): Promise<WireSession> {
    const s = new WireSession(opts);
    const first = new Promise<void>((resolve, reject) => (s.ready = { resolve, reject }));
    const deadline = setTimeout(() => s.end({ kind: "unreachable", message: `no session within ${opts.connectTimeoutMs / 1000}s` }), opts.connectTimeoutMs);
    s.lostSince = Date.now();
    s.dial();
    try {
      await first;
      return s;
    } finally {
      clearTimeout(deadline);
    }
  }

  get isGone(): SessionGone | undefined {
    return this.gone;
  }

  /**
   * Sends one request: `body` writes its record after the header; `decode` reads the answer's record
   * (called with err, the header's error code, only when the server answered 0, or for multi always).
   */
  request<T>(op: number, body: (w: JuteWriter) => void, decode: (r: JuteReader, err: number) => T, sizeHint = 128): Promise<T> {
    if (this.gone) return Promise.reject(new WireError(this.gone.kind === "expired" ? RC.sessionExpired : RC.closing, this.gone.message));
    const w = new JuteWriter(sizeHint + 12).int(0).int(0).int(op);
    body(w);
    return new Promise<T>((resolve, reject) => {
      const r: Request = { op, packet: w.framed(), decode, resolve: resolve as (v: unknown) => void, reject, xid: 0 };
      if (this.connected) this.write(r);
      else this.waiting.push(r);
    });
  }

  /** A path as the server knows it (chroot prefixed). */
  serverPath(path: string): string {
    const c = this.opts.chroot;
    return c ? (path === "/" ? c : c + path) : path;
  }

  /** A path the server sent, as the caller knows it (chroot taken off). */
  clientPath(path: string): string {
    const c = this.opts.chroot;
    if (!c || !path.startsWith(c)) return path;
    return path.length === c.length ? "/" : path.slice(c.length);
  }

  /** Ends the session on the server (its ephemeral nodes go) and the connection. */
  async close(): Promise<void> {
    if (this.gone) return;
    if (this.connected) {
      const bye = this.request(Op.closeSession, () => undefined, () => undefined).catch(() => undefined);
      await Promise.race([bye, new Promise((r) => setTimeout(r, 2000).unref())]);
    }
    this.end({ kind: "closed", message: "the session was closed" });
  }

  private write(r: Request): void {
    r.xid = this.nextXid++;
    if (this.nextXid > 0x7fffffff) this.nextXid = 1;
    r.packet.writeInt32BE(r.xid, 4);
    this.sent.push(r);
    this.send(r.packet);
  }

  /** Packets go out once per turn of the event loop, in one write: a walk issues thousands at once. */
  private send(packet: Buffer): void {
    if (this.out.length === 0) setImmediate(() => this.flush());
    this.out.push(packet);
  }

  private flush(): void {
    const out = this.out;
    this.out = [];
    if (out.length === 0 || !this.socket || this.socket.destroyed) return;
    this.lastSent = Date.now();
    this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  }

  private dial(): void {
    const server = this.opts.servers[this.serverIndex % this.opts.servers.length]!;
    this.serverIndex++;
    const name = `${server.host}:${server.port}`;
    const socket = tcpConnect({ host: server.host, port: server.port });
    this.socket = socket;
    this.chunks = [];
    this.have = 0;
    socket.setNoDelay(true);
    const handshake = setTimeout(() => socket.destroy(new Error(`${name} did not answer the session handshake`)),
      Math.max(2000, Math.floor((this.opts.sessionTimeoutMs * 2) / 3 / Math.max(1, this.opts.servers.length)))).unref();
    socket.on("connect", () => {
      const w = new JuteWriter(64).int(0).int(0).long(this.lastZxid).int(this.opts.sessionTimeoutMs).long(this.sessionId).buffer(this.password).bool(false);
      socket.write(w.framed());
      this.lastSent = Date.now();
    });
    socket.on("data", (chunk: Buffer) => {
      this.lastHeard = Date.now();
      if (socket !== this.socket) return;
      try {
        this.receive(chunk, () => {
          clearTimeout(handshake);
          this.server = name;
        });
      } catch (err) {
        socket.destroy(err as Error);
      }
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(handshake);
      if (socket !== this.socket) return;
      this.lost(`the connection to ${name} was lost`);
    });
  }

  /** The connection is gone: what was written on it fails, and the session is taken elsewhere unless it is over. */
  private lost(why: string): void {
    const wasConnected = this.connected;
    this.connected = false;
    this.server = "";
    this.socket = undefined;
    this.out = [];
    this.authPending = 0;
    for (const r of this.sent.splice(0)) r.reject(new WireError(RC.connectionLoss, `${why} before it answered`));
    if (this.gone) return;
    if (wasConnected) {
      this.lostSince = Date.now();
      this.opts.onReconnect?.(why);
    }
    this.failures++;
    // Every server tried once: pause before the next round.
    const pause = this.failures % this.opts.servers.length === 0 ? Math.min(1000, 50 * this.failures) : 0;
    // Not unref'd: while the session is between connections, this timer is all that keeps a caller's process waiting for it.
    setTimeout(() => !this.gone && this.dial(), pause);
  }

  private tick(): void {
    const now = Date.now();
    if (this.gone) return;
    if (!this.connected) {
      // No server took the session back within its timeout: the servers have expired it by now.
      if (this.sessionId !== 0n && this.lostSince && now - this.lostSince > this.timeoutMs) {
        this.end({ kind: "expired", message: `no server took the session back within ${this.timeoutMs / 1000}s` });
      }
      return;
    }
    if (now - this.lastHeard > (this.timeoutMs * 2) / 3) {
      this.socket?.destroy(new Error("silent"));
      return;
    }
    if (now - this.lastSent > this.timeoutMs / 3) {
      this.send(new JuteWriter(16).int(0).int(Xid.ping).int(Op.ping).framed());
    }
  }

  private end(why: SessionGone): void {
    if (this.gone) return;
    this.gone = why;
    clearInterval(this.timer);
    this.connected = false;
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
    const rc = why.kind === "expired" ? RC.sessionExpired : why.kind === "auth_failed" ? RC.authFailed : RC.closing;
    for (const r of [...this.sent.splice(0), ...this.waiting.splice(0)]) r.reject(new WireError(rc, why.message));
    this.ready?.reject(new WireError(rc, why.message));
    this.ready = undefined;
    this.opts.onGone?.(why);
  }

  private receive(chunk: Buffer, onSession: () => void): void {
    this.chunks.push(chunk);
    this.have += chunk.length;
    for (;;) {
      if (this.have < 4) return;
      const len = this.peekLength();
      if (len < 0) throw new Error(`a packet of length ${len}`);
      if (this.have < 4 + len) return;
      const frame = this.take(4 + len).subarray(4);
      if (!this.connected) this.handshake(frame, onSession);
      else this.answer(frame);
      if (!this.socket) return;
    }
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readInt32BE(0);
    return Buffer.concat(this.chunks).readInt32BE(0);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    this.have -= n;
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const all = Buffer.concat(this.chunks);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    return all.subarray(0, n);
  }

  private handshake(frame: Buffer, onSession: () => void): void {
    const r = new JuteReader(frame);
    r.int(); // protocol version
    const timeout = r.int();
    const sessionId = r.bigLong();
    const password = r.buffer() ?? PASSWORD_NONE;
    if (timeout <= 0) {
      this.end({ kind: "expired", message: "the servers expired the session" });
      return;
    }
    onSession();
    this.sessionId = sessionId;
    this.password = password;
    this.timeoutMs = timeout;
    this.connected = true;
    this.lostSince = 0;
    this.failures = 0;
    for (const a of this.opts.auth) {
      this.authPending++;
      this.send(new JuteWriter(64).int(0).int(Xid.auth).int(Op.auth).int(0).string(a.scheme).buffer(Buffer.from(a.credential)).framed());
    }
    for (const r of this.waiting.splice(0)) this.write(r);
    if (this.authPending === 0) this.opened();
  }

  private opened(): void {
    this.ready?.resolve();
    this.ready = undefined;
  }

  private answer(frame: Buffer): void {
    const r = new JuteReader(frame);
    const xid = r.int();
    const zxid = r.bigLong();
    const err = r.int();
    if (zxid > this.lastZxid) this.lastZxid = zxid;
    if (xid === Xid.ping) return;
    if (xid === Xid.notification) {
      const type = r.int();
      r.int(); // keeper state
      const path = r.string() ?? "";
      if (type > 0) this.opts.onWatch?.(type, this.clientPath(path));
      return;
    }
    if (xid === Xid.auth) {
      if (err !== 0) return this.end({ kind: "auth_failed", message: `the server refused the session's credentials (${err})` });
      if (--this.authPending === 0) this.opened();
      return;
    }
    const req = this.sent.shift();
    if (!req || req.xid !== xid) throw new Error(`an answer to request ${xid} where ${req?.xid ?? "none"} was next`);
    if (err !== 0 && (req.op !== Op.multi || r.at >= frame.length)) return req.reject(new WireError(err, `error ${err}`));
    try {
      req.resolve(req.decode(r, err));
    } catch (e) {
      req.reject(new WireError(RC.marshallingError, `an answer that does not parse: ${(e as Error).message}`));
    }
  }
}

/** The servers and chroot of a connect string ("h1:2181,h2:2181/app"). */
export function parseConnectString(connect: string): { servers: ServerAddress[]; chroot?: string } {
  const slash = connect.indexOf("/");
  const hosts = slash < 0 ? connect : connect.slice(0, slash);
  const chroot = slash < 0 ? undefined : connect.slice(slash).replace(/\/+$/, "");
  const servers = hosts.split(",").filter(Boolean).map((hp) => {
    const at = hp.lastIndexOf(":");
    return { host: hp.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(hp.slice(at + 1)) };
  });
  return { servers, ...(chroot ? { chroot } : {}) };
}

export type { Acl };
