// status: ask a server how it is doing with four-letter words. Each word is
// optional because 3.5+ only answers whitelisted ones (srvr by default), so
// the result says per word whether it answered or was refused. The words
// are asked at once, as the controller's gates ask them over SSH.

import { sendWord } from "../../common/four-letter.js";
import { askAtOnce, collectStatus } from "../../common/server-status.js";
import { done, type OpOutcome } from "../outcome.js";
import type { OpArgs } from "../../common/protocol.js";

export async function statusOp(args: OpArgs<"status">): Promise<OpOutcome<"status">> {
  const { message, data } = await collectStatus(`${args.host}:${args.port}`, args.words,
    askAtOnce(args.words, (word) => sendWord(args.host, args.port, word, args.timeout_ms)));
  return done(false, message, data);
}
