// A server's status from its four-letter words. Shared by the agent (words
// over a local socket) and the controller (words over an SSH channel), so
// both ends read ZooKeeper the same way.

import {
  type WordReply, defined, isNotServing, isNotWhitelisted, parseConf, parseMntr, parseSrvr, srvrFieldsFromMntr, toInt,
} from "./four-letter.js";
import type { FourLetterWord, OpData } from "./protocol.js";

type StatusData = OpData<"status">;

/**
 * Asks every word at once (a connection each) and hands the replies over in
 * order, for collectStatus: an observation then waits for the server once,
 * not once per word. The replies collectStatus leaves unread (it stops at the
 * first word that finds nothing listening) must not go unhandled.
 */
export function askAtOnce(words: readonly FourLetterWord[], send: (word: FourLetterWord) => Promise<WordReply>): (word: FourLetterWord) => Promise<WordReply> {
  const replies = new Map(words.map((word) => [word, send(word)] as const));
  for (const reply of replies.values()) reply.catch(() => undefined);
  return (word) => replies.get(word) ?? send(word);
}

/**
 * Asks each word through `send` and turns the answers into a status.
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
