// Runs a plan through the executor with actions that only record, and checks
// that it carried out exactly what --check prints, in order (per host in
// parallel stages). For the property tests of the planner.
import { expect } from "vitest";
import { type Actions, executePlan } from "../../controller/execute/executor.js";
import { type Plan, type Step, describeStep, planSteps } from "../../controller/plan/steps.js";
import type { EnsembleReport } from "../../controller/status/health.js";

/** Every member serving at one zxid, the first leading: what a settled ensemble reports. */
const healthy = (hosts: readonly string[]): EnsembleReport => ({
  ensemble: "e", inventory: "e.yml", version: "x", leader: hosts[0], voters: hosts.length, votersUp: hosts.length, quorum: 2, verdict: "healthy", problems: [],
  hosts: hosts.map((host, i) => ({ host, address: "a", myid: i + 1, role: "participant", reachable: true, running: true, mode: i === 0 ? "leader" : "follower", zxid: "0x100000005" })),
});

/** Actions that only record: the executor's sequencing is what is under test. */
function recorder() {
  const done: Step[] = [];
  const act = async (s: Step) => {
    await new Promise((r) => setImmediate(r));
    done.push(s);
    return { changed: true, message: "ok" };
  };
  const actions: Actions = {
    install: act, writeFile: act, switchRelease: act, cleanData: act, restoreData: act, start: act, stop: act, reconfig: act, awaitConfig: act,
    observe: async (_plan, hosts) => healthy(hosts),
    serverProcess: async () => ({ running: true, detail: "running" }),
  };
  return { done, actions };
}

const memoryJournal = () => ({ runId: "r1", path: "(memory)", records: [] as unknown[], write(event: string, data: Record<string, unknown>) { this.records.push({ event, ...data }); }, plan(p: Plan) { this.records.push({ event: "plan", p }); } });

export async function expectExecutedAsPrinted(plan: Plan): Promise<void> {
  const printed = planSteps(plan).map(describeStep);
  const { done, actions } = recorder();
  const { results } = await executePlan(plan, { actions, journal: memoryJournal(), parallel: 3, pollMs: 0 });
  expect(results.map((r) => describeStep(r.step))).toEqual(printed);
  expect(results.map((r) => r.index)).toEqual(printed.map((_, i) => i));
  // Acting steps in order within each stage and, in parallel stages, within each host.
  const order = new Map(planSteps(plan).map((s, i) => [s, i]));
  for (const stage of plan.stages) {
    const keyOf = (s: Step) => (stage.concurrent ? s.host : "");
    const acted = done.filter((s) => stage.steps.includes(s));
    for (const key of new Set(acted.map(keyOf))) {
      const seq = acted.filter((s) => keyOf(s) === key).map((s) => order.get(s)!);
      expect(seq).toEqual([...seq].sort((a, b) => a - b));
    }
  }
}
