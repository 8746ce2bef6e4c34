// collectStatus with its words asked at once (askAtOnce): the logic both the
// agent and the controller's gates use; the words themselves are read from
// real servers in the agent and lab tests.
import { describe, expect, it } from "vitest";
import type { WordReply } from "../../common/four-letter.js";
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
