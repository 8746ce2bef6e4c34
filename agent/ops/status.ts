// status: ask a server how it is doing with four-letter words. Each word is
// optional because 3.5+ only answers whitelisted ones (srvr by default), so
// the result says per word whether it answered or was refused.

import {
  type WordReply, defined, isNotServing, isNotWhitelisted, parseConf, parseMntr, parseSrvr, sendWord, srvrFieldsFromMntr, toInt,
} from "../four-letter.js";
import { done, type OpOutcome } from "../outcome.js";
import type { FourLetterWord, OpArgs, OpData } from "../protocol.js";

type StatusData = OpData<"status">;

export async function statusOp(args: OpArgs<"status">): Promise<OpOutcome<"status">> {
  const { message, data } = await collectStatus(`${args.host}:${args.port}`, args.words,
    (word) => sendWord(args.host, args.port, word, args.timeout_ms));
  return done(false, message, data);
}

/**
 * Asks each word through `send` and turns the answers into a status. Shared
 * by the agent (words over a local socket) and the controller (words over an
 * SSH channel), so both read ZooKeeper the same way.
 */
export async function collectStatus(
  address: string,
  wordList: readonly FourLetterWord[],
  send: (word: FourLetterWord) => Promise<WordReply>,
): Promise<{ message: string; data: StatusData }> {
  const words: StatusData["words"] = {};
  const raw: StatusData["raw"] = {};
  const answers: Partial<Record<FourLetterWord, string>> = {};
  for (const word of wordList) {
    const reply = await send(word);
    if (reply.kind === "refused") {
      // Nothing listening is an answer in itself, not a failure.
      return { message: `nothing listens on ${address} (${reply.detail})`, data: { running: false, address, words, raw } };
    }
    if (reply.kind === "no_answer") {
      // A server that let one word time out (frozen, overloaded) will not
      // answer the next either: waiting for each would multiply the delay.
      for (const rest of wordList.slice(wordList.indexOf(word))) words[rest] = "no_answer";
      break;
    }
    raw[word] = reply.text;
    words[word] = isNotWhitelisted(reply.text) ? "not_whitelisted" : "ok";
    if (words[word] === "ok") answers[word] = reply.text;
  }

  const mntr = answers.mntr !== undefined && !isNotServing(answers.mntr) ? parseMntr(answers.mntr) : undefined;
  const fromSrvr = answers.srvr !== undefined ? parseSrvr(answers.srvr) : {};
  const fromMntr = mntr ? srvrFieldsFromMntr(mntr) : {};
  const servingText = answers.srvr ?? answers.mntr;
  const data: StatusData = defined({
    running: true,
    address,
    words,
    imok: answers.ruok === undefined ? undefined : answers.ruok.trim() === "imok",
    serving: servingText === undefined ? undefined : !isNotServing(servingText),
    ...fromMntr,
    ...fromSrvr,
    followers: toInt(mntr?.zk_followers),
    synced_followers: toInt(mntr?.zk_synced_followers),
    mntr,
    conf: answers.conf !== undefined ? parseConf(answers.conf) : undefined,
    raw,
  });
  const summary = data.mode ? `${data.mode}${data.zxid ? ` at zxid ${data.zxid.hex}` : ""}` : data.serving === false ? "not serving" : "answering";
  return { message: `${address}: ${summary}`, data };
}
