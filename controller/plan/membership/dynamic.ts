// The dynamic way of carrying out a membership change (3.5.3+ with
// reconfig), pure: a joiner is started with the committed configuration plus
// itself and synced, then added by `reconfig`; a leaving server is removed by
// `reconfig`, then stopped; after each, the new configuration must be
// reported by every member and a write must commit under it.
import type { MembershipChange } from "../../model/membership-plan.js";
import type { Step } from "../steps.js";
import { type RunContext, liveHosts } from "./common.js";

/** One change by reconfig through the server on `via`, and the wait until every live member runs it. */
export function reconfigSteps(ctx: RunContext, c: MembershipChange, via: string): Step[] {
  const { input, running, hostOf } = ctx;
  const { target } = input;
  const d = hostOf.get(via)!;
  const server = `${target.members.find((m) => m.host === via)!.probe.address}:${target.members.find((m) => m.host === via)!.probe.port}`;
  const expect = c.after.map(input.canonical);
  return [
    {
      kind: "reconfig", host: via, server, installDir: d.installDir, ...(d.preinstalled ? { preinstalled: d.preinstalled } : {}),
      add: c.kind === "remove" ? [] : [input.spec(c.server)], remove: c.kind === "remove" ? [c.server.id] : [], expect,
      reason: c.kind === "add" ? `${c.server.host} counts from now on` : c.kind === "remove" ? `${c.server.host} no longer counts` : `${c.server.host} becomes ${c.server.role === "observer" ? "an observer" : "a voter"}`,
    },
    {
      kind: "await_config", host: "*", hosts: liveHosts(c.after, running), expect, timeoutMs: input.timeouts.settleMs,
      probes: Object.fromEntries(liveHosts(c.after, running).map((x) => [x, target.members.find((m) => m.host === x)!.probe])),
      reason: "every member must run the new configuration, and a write must commit under it, before the next change",
    },
  ];
}
