// ZooKeeper's four-letter words: send the word on a fresh TCP connection,
// read until the server closes it. Parsers are pure so they can be tested on
// captured output from every version.

import { createConnection } from "node:net";
import type { Duplex } from "node:stream";
import { ZkfleetError } from "./errors.js";
import type { FourLetterWord, Zxid } from "./protocol.js";

export type WordReply =
  | { kind: "answer"; text: string }
  /** Nothing listens: the server is not running. */
  | { kind: "refused"; detail: string }
  /**
   * Not refused, and no answer in time: a server that is frozen or overloaded. Its connect may time out
   * too: once a stopped process's accept queue is full (a few dozen connections), the kernel drops new ones.
   */
  | { kind: "no_answer"; detail: string };

/** Opens a fresh stream to a client port: a TCP socket on the host, or an SSH channel from the controller. */
export type OpenStream = () => Promise<Duplex>;

function refusedMessage(message: string): boolean {
  return /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|connection refused/i.test(message);
}

export async function sendWordOn(open: OpenStream, word: FourLetterWord, timeoutMs: number): Promise<WordReply> {
  let stream: Duplex;
  try {
    stream = await withTimeout(open(), timeoutMs);
  } catch (err) {
    // The way to the host is gone (an SSH connection lost with its host): a fact about the host, not about
    // ZooKeeper, which must not be reported as a server that accepts and answers nothing.
    if (err instanceof ZkfleetError && err.source === "ssh" && err.lostConnection) throw err;
    const detail = err instanceof Error ? err.message : String(err);
    // Only a refusal says nothing listens; a connect that hangs is a server that does not answer (seen: a
    // frozen leader reported "not running" once the roll's looks and the canary's retries filled its queue).
    return refusedMessage(detail) ? { kind: "refused", detail } : { kind: "no_answer", detail };
  }
  return new Promise((resolve) => {
    let text = "";
    let settled = false;
    const finish = (reply: WordReply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.destroy();
      resolve(reply);
    };
    const timer = setTimeout(() => finish({ kind: "no_answer", detail: "timed out" }), timeoutMs);
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => (text += chunk));
    stream.on("end", () => finish({ kind: "answer", text }));
    stream.on("close", () => finish({ kind: "answer", text }));
    stream.on("error", (err: Error) => {
      // A server that closes right after answering may reset the connection: keep what it said.
      if (text !== "") return finish({ kind: "answer", text });
      finish(refusedMessage(err.message) ? { kind: "refused", detail: err.message } : { kind: "no_answer", detail: err.message });
    });
    stream.end(word);
  });
}

/** A stream that opens after its timeout is closed, not left open (an SSH channel, a connection to ZooKeeper) for nobody. */
function withTimeout(promise: Promise<Duplex>, ms: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(new Error("connect timed out"));
    }, ms);
    promise.then((v) => {
      clearTimeout(timer);
      if (late) v.destroy();
      else resolve(v);
    }, (e) => { clearTimeout(timer); reject(e); });
  });
}

export function sendWord(host: string, port: number, word: FourLetterWord, timeoutMs: number): Promise<WordReply> {
  return sendWordOn(() => new Promise((resolve, reject) => {
    const socket = createConnection({ host, port });
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
    // A connect still pending at the timeout is abandoned by sendWordOn: end it then, not when the kernel gives up.
    setTimeout(() => {
      if (socket.connecting) socket.destroy(new Error("connect timed out"));
    }, timeoutMs).unref();
  }), word, timeoutMs);
}

export function isNotWhitelisted(text: string): boolean {
  return /is not executed because it is not in the whitelist/.test(text);
}

export function isNotServing(text: string): boolean {
  return /not currently serving requests/.test(text);
}

/** 0x100000002 → epoch 1, counter 2: the high and low 32 bits. */
export function parseZxid(text: string): Zxid | null {
  const m = /^0x([0-9a-fA-F]{1,16})$/.exec(text.trim());
  if (!m?.[1]) return null;
  const value = BigInt(`0x${m[1]}`);
  return {
    hex: `0x${value.toString(16)}`,
    epoch: Number(value >> 32n),
    counter: Number(value & 0xffffffffn),
  };
}

export interface SrvrFields {
  version?: string;
  latency?: { min: number; avg: number; max: number };
  connections?: number;
  outstanding?: number;
  zxid?: Zxid;
  mode?: string;
  node_count?: number;
}

export function toInt(text: string | undefined): number | undefined {
  return text !== undefined && /^-?[0-9]+$/.test(text.trim()) ? Number(text.trim()) : undefined;
}

function toNumber(text: string | undefined): number | undefined {
  const n = text === undefined ? NaN : Number(text.trim());
  return Number.isFinite(n) ? n : undefined;
}

/** Drop undefined fields so the result validates against optional (not undefined) schema fields. */
export function defined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

function latencyOf(min?: number, avg?: number, max?: number): SrvrFields["latency"] {
  return min !== undefined && avg !== undefined && max !== undefined ? { min, avg, max } : undefined;
}

/** "key<sep>value" lines; the first separator splits, so values may contain it. */
function keyValues(text: string, sep: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf(sep);
    if (at > 0) out[line.slice(0, at).trim()] = line.slice(at + sep.length).trim();
  }
  return out;
}

/** `srvr` is "Key: value" lines (the same from 3.4 to 3.9). */
export function parseSrvr(text: string): SrvrFields {
  const fields = keyValues(text, ": ");
  const latency = fields["Latency min/avg/max"]?.split("/").map((p) => toNumber(p));
  const [min, avg, max] = latency ?? [];
  const zxid = fields["Zxid"];
  return defined({
    // "3.8.0-5a02a05..., built on 2022-02-25 08:49 UTC": keep the version, drop the build.
    version: fields["Zookeeper version"]?.split(",")[0]?.trim(),
    latency: latencyOf(min, avg, max),
    connections: toInt(fields["Connections"]),
    outstanding: toInt(fields["Outstanding"]),
    zxid: zxid === undefined ? undefined : (parseZxid(zxid) ?? undefined),
    mode: fields["Mode"],
    node_count: toInt(fields["Node count"]),
  });
}

/** `mntr` is "key<TAB>value" lines. */
export const parseMntr = (text: string) => keyValues(text, "\t");

/** `conf` is "key=value" lines. */
export const parseConf = (text: string) => keyValues(text, "=");

/** The srvr fields that mntr also carries, for servers that whitelist mntr but not srvr. */
export function srvrFieldsFromMntr(m: Record<string, string>): SrvrFields {
  return defined({
    version: m.zk_version?.split(",")[0]?.trim(),
    latency: latencyOf(toNumber(m.zk_min_latency), toNumber(m.zk_avg_latency), toNumber(m.zk_max_latency)),
    connections: toInt(m.zk_num_alive_connections),
    outstanding: toInt(m.zk_outstanding_requests),
    mode: m.zk_server_state,
    node_count: toInt(m.zk_znode_count),
  });
}

