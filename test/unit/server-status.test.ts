// collectStatus with its words asked at once (askAtOnce): the logic both the
// agent and the controller's gates use; the words themselves are read from
// real servers in the agent and lab tests.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { type AddressInfo, type Socket, connect, createServer } from "node:net";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { type WordReply, sendWord, sendWordOn } from "../../common/four-letter.js";
import type { FourLetterWord } from "../../common/protocol.js";
import { askAtOnce, collectStatus } from "../../common/server-status.js";

const SRVR = "Zookeeper version: 3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f, built on 2022-02-25 08:49 UTC\nLatency min/avg/max: 0/0.0/0\n" +
  "Received: 1\nSent: 0\nConnections: 1\nOutstanding: 0\nZxid: 0x100000002\nMode: follower\nNode count: 5\n";

describe("askAtOnce", () => {
  it("asks every word before the first answer arrives, and collectStatus still reads them in order", async () => {
    const asked: FourLetterWord[] = [];
    const answer = new Map<FourLetterWord, (r: WordReply) => void>();
    const send = (word: FourLetterWord) => {
      asked.push(word);
      return new Promise<WordReply>((resolve) => void answer.set(word, resolve));
    };
    const status = collectStatus("127.0.0.1:2181", ["srvr", "mntr", "conf"], askAtOnce(["srvr", "mntr", "conf"], send));
    expect(asked).toEqual(["srvr", "mntr", "conf"]);
    // Answered out of order: the status is the same as if asked one after another.
    answer.get("conf")!({ kind: "answer", text: "serverId=2\n" });
    answer.get("mntr")!({ kind: "answer", text: "mntr is not executed because it is not in the whitelist.\n" });
    answer.get("srvr")!({ kind: "answer", text: SRVR });
    const { data } = await status;
    expect(data.mode).toBe("follower");
    expect(data.words).toEqual({ srvr: "ok", mntr: "not_whitelisted", conf: "ok" });
    expect(data.conf).toMatchObject({ serverId: "2" });
  });

  it("leaves no rejection unhandled when the first word finds nothing listening and the rest are not read", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (r: unknown) => unhandled.push(r);
    process.on("unhandledRejection", onUnhandled);
    try {
      const send = (word: FourLetterWord): Promise<WordReply> =>
        word === "srvr" ? Promise.resolve({ kind: "refused", detail: "connect ECONNREFUSED" }) : Promise.reject(new Error(`${word}: connection lost`));
      const { data, message } = await collectStatus("127.0.0.1:2181", ["srvr", "mntr"], askAtOnce(["srvr", "mntr"], send));
      await new Promise((r) => setTimeout(r, 10));
      expect(data.running).toBe(false);
      expect(message).toMatch(/nothing listens on 127.0.0.1:2181/);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});

describe("a server that is frozen (SIGSTOP)", () => {
  /** A real listener in a process of its own, stopped: it accepts nothing, the kernel queues a backlog's worth of connects. */
  async function frozenListener(): Promise<{ port: number; pid: number; done: () => void }> {
    const child = spawn(process.execPath, ["-e",
      "require('net').createServer(() => {}).listen({ host: '127.0.0.1', port: 0, backlog: 1 }, function () { console.log(this.address().port) })"]);
    const port = await new Promise<number>((resolve) => child.stdout.once("data", (d) => resolve(Number(String(d).trim()))));
    process.kill(child.pid!, "SIGSTOP");
    return { port, pid: child.pid!, done: () => { process.kill(child.pid!, "SIGCONT"); child.kill("SIGKILL"); } };
  }

  it("is reported as answering nothing, never as not running, also once its accept queue is full and connects hang", async () => {
    const frozen = await frozenListener();
    const held: Socket[] = [];
    try {
      const first = await sendWord("127.0.0.1", frozen.port, "srvr", 500);
      expect(first).toMatchObject({ kind: "no_answer" });
      // Fill the queue: the kernel drops further connects, which then time out rather than being refused.
      for (let i = 0; i < 4; i++) held.push(connect({ host: "127.0.0.1", port: frozen.port }).on("error", () => undefined));
      await new Promise((r) => setTimeout(r, 200));
      const later = await collectStatus(`127.0.0.1:${frozen.port}`, ["srvr", "mntr"], askAtOnce(["srvr", "mntr"], (w) => sendWord("127.0.0.1", frozen.port, w, 500)));
      expect(later.data.running).toBe(true);
      expect(later.data.words).toEqual({ srvr: "no_answer", mntr: "no_answer" });
    } finally {
      for (const s of held) s.destroy();
      frozen.done();
    }
  });

  it("a port nothing listens on is refused: not running", async () => {
    const server = createServer().listen({ host: "127.0.0.1", port: 0 });
    await once(server, "listening");
    const port = (server.address() as AddressInfo).port;
    await new Promise((r) => server.close(r));
    expect(await sendWord("127.0.0.1", port, "srvr", 500)).toMatchObject({ kind: "refused" });
  });

  it("a stream that opens after the word's timeout is closed, not left open", async () => {
    const [a] = [new PassThrough()];
    let open!: (s: PassThrough) => void;
    const reply = await sendWordOn(() => new Promise((resolve) => (open = resolve)), "srvr", 50);
    expect(reply).toEqual({ kind: "no_answer", detail: "connect timed out" });
    open(a!);
    await new Promise((r) => setImmediate(r));
    expect(a!.destroyed).toBe(true);
  });
});
