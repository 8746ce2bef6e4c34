// What a stage does when the server it restarted does not come back (pure):
// stop it, write back every file the stage changed, switch back the release
// it switched, start it and wait for it to serve as before. The executor
// runs these steps only when the stage failed after its stop; then the run
// halts with that server as it was and the servers after it untouched.
import { unifiedDiff } from "../../common/diff.js";
import type { AwaitHealthyStep, StartStep, Step, StopStep } from "./steps.js";

export function putBackSteps(host: string, stop: StopStep["args"], start: StartStep["args"], acted: readonly Step[], check: AwaitHealthyStep): Step[] {
  return [
    { kind: "stop", host, args: stop, mode: "failed", reason: "it did not come back: put it back as it was" },
    ...acted.flatMap((w): Step[] => (w.kind === "write_file" && w.previous !== null
      ? [{ ...w, content: w.previous, previous: w.content, diff: unifiedDiff(w.path, w.content, w.previous), reason: "back to its content before this run" }]
      : [])),
    ...acted.flatMap((st): Step[] => (st.kind === "switch_release" && st.before.current !== null
      ? [{ ...st, version: st.before.current, before: { current: st.version }, reason: `back to ${st.before.current}` }]
      : [])),
    { kind: "start", host, args: start, reason: "on its previous release and configuration" },
    { ...check, reason: `${host} must serve again as before; then the run halts` },
  ];
}
