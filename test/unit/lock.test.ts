// acquireEnsembleLock against a stand-in fleet that answers agent batches as
// hosts would: the observation rides in the lock's batch, right after the
// lock op, and a run that finds one host held by another run releases the
// locks it took on the others, hands back nothing it read, and refuses.
import { describe, expect, it } from "vitest";
import type { AgentRequest, AgentResponse } from "../../common/protocol.js";
import { acquireEnsembleLock } from "../../controller/execute/lock.js";
import type { Fleet } from "../../controller/fleet.js";

type Holder = { run: string; holder: string; since: string };

function standIn(heldBy: Record<string, Holder>) {
  const batches: { key: string; ops: string[]; action?: string }[] = [];
  const respond = (op: AgentRequest, index: number, key: string): AgentResponse => {
    if (op.op !== "lock") return { type: "response", index, op: op.op, result: { changed: false, message: `read ${key}`, data: {} } };
    const held = heldBy[key];
    const acquired = op.args.action === "acquire" && held === undefined;
    return { type: "response", index, op: "lock", result: { changed: acquired, message: "m", data: { acquired, held_by: held ?? null } } };
  };
  const fleet = {
    batch: async (key: string, requests: AgentRequest[]) => {
      const lock = requests.find((r) => r.op === "lock");
      batches.push({ key, ops: requests.map((r) => r.op), ...(lock?.op === "lock" ? { action: lock.args.action } : {}) });
      return requests.map((r, i) => respond(r, i, key));
    },
    call: async (key: string, op: string, args: unknown) => {
      const [r] = await fleet.batch(key, [{ op, args } as AgentRequest]);
      return r!.result;
    },
  };
  return { fleet: fleet as unknown as Fleet, batches };
}

const opts = { ensemble: "e", agentDir: "/opt/zkfleet", run: "run-1", breakLock: false };
const alongside = (): AgentRequest[] => [{ op: "facts", args: {} }, { op: "status", args: { host: "127.0.0.1", port: 2181 } }];

describe("acquireEnsembleLock", () => {
  it("runs the observation in the lock's batch on every host, after the lock op", async () => {
    const { fleet, batches } = standIn({});
    const lock = await acquireEnsembleLock(fleet, ["zk1", "zk2", "zk3"], { ...opts, alongside });
    expect(batches.map((b) => b.ops)).toEqual([["lock", "facts", "status"], ["lock", "facts", "status"], ["lock", "facts", "status"]]);
    expect([...lock.alongside.keys()].sort()).toEqual(["zk1", "zk2", "zk3"]);
    expect(lock.alongside.get("zk2")!.map((r) => r.result)).toMatchObject([{ message: "read zk2" }, { message: "read zk2" }]);
    await lock.release();
    expect(batches.filter((b) => b.action === "release").map((b) => b.key).sort()).toEqual(["zk1", "zk2", "zk3"]);
  });

  it("releases what it took and refuses when one host is held by another run", async () => {
    const other = { run: "run-0", holder: "ops@ctl pid 7", since: "2025-01-01T00:00:00Z" };
    const { fleet, batches } = standIn({ zk2: other });
    const err = await acquireEnsembleLock(fleet, ["zk1", "zk2", "zk3"], { ...opts, alongside }).then(() => undefined, (e: unknown) => e);
    expect(String(err)).toMatch(/ensemble e is locked by run run-0 \(ops@ctl pid 7\)/);
    expect(batches.filter((b) => b.action === "release").map((b) => b.key).sort()).toEqual(["zk1", "zk3"]);
  });
});
