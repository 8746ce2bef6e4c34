// apply's rounds (membership changes with static lists are one per plan):
// the loop's own logic, each round's run given. A round that changed
// nothing while the planner still has work ends the loop with that work
// named, instead of observing again and again.
import { describe, expect, it } from "vitest";
import { type ApplyInput, type ApplyResult, roundsUntilDone } from "../../controller/usecases/apply.js";
import type { Plan } from "../../controller/plan/steps.js";

const target = { name: "e", inventory: "e.yml", version: "3.8.0", members: [] };
const round = (changed: number, continues: string[] = [], executed = true): ApplyResult => {
  const plan: Plan = { target, stages: [], unchanged: [], refusals: [], ...(continues.length > 0 ? { continues } : {}) };
  return { plan, executed, results: [], changed, journal: "/j/run.jsonl" };
};
const input = { file: "e.yml", check: false } as unknown as ApplyInput;

function rounds(...results: ApplyResult[]) {
  const seen: ApplyInput[] = [];
  const run = async (i: ApplyInput) => {
    seen.push(i);
    return results[seen.length - 1]!;
  };
  return { seen, run };
}

describe("roundsUntilDone", () => {
  it("plans again while each round makes its change, and ends with the round that leaves nothing", async () => {
    const r = rounds(round(4, ["add zk5"]), round(3, ["restart the members"]), round(3));
    const announced: string[] = [];
    const result = await roundsUntilDone(input, r.run, (n, left) => announced.push(`${n}: ${left.join(",")}`));
    expect(r.seen).toHaveLength(3);
    expect(announced).toEqual(["2: add zk5", "3: restart the members"]);
    expect(result.changed).toBe(10);
  });

  it("a round that changed nothing while work remains stops the loop, naming the work", async () => {
    const r = rounds(round(4, ["restart the members one at a time so that their server lines name zk1 by name"]),
      round(0, ["restart the members one at a time so that their server lines name zk1 by name"]), round(0, ["never asked"]));
    await expect(roundsUntilDone(input, r.run)).rejects.toThrow(
      /round 2 changed nothing, and the planner still has this to do: restart the members one at a time so that their server lines name zk1 by name; observing again would plan the same; stopped/);
    expect(r.seen).toHaveLength(2);
  });

  it("a round with work left that executed nothing stops too; check mode never loops", async () => {
    await expect(roundsUntilDone(input, rounds(round(0, ["add zk4"], false)).run)).rejects.toThrow(/round 1 changed nothing/);
    const checked = rounds(round(0, ["add zk4"], false));
    expect((await roundsUntilDone({ ...input, check: true }, checked.run)).plan.continues).toEqual(["add zk4"]);
    expect(checked.seen).toHaveLength(1);
  });
});
