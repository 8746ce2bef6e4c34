// Adopting a 5-server ensemble installed by hand, then upgrading it along
// the other safe hops under load: 3.4.13 -> 3.8.0 -> 3.9.3.
import { describe, it } from "vitest";
import { useTestLab } from "../helpers/lab.js";
import { adoptExactly, atVersion, loadTree, upgradeHop } from "./adopt-scenario.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("adopt-5", subnet("adopt-5"), 5, undefined, { preinstall: "3.4.13" });

describe("adopting a hand-installed 3.4.13 ensemble (5 servers)", () => {
  it("adopts it exactly, then upgrades 3.4.13 -> 3.8.0 -> 3.9.3 loaded, leader last, tree digest equal, canary clean", async () => {
    const adopted = await adoptExactly(t);
    const { server, logsOnly } = await loadTree(t);
    await upgradeHop(t, atVersion(t, adopted, "3.8.0"), "3.8.0", server, logsOnly);
    await upgradeHop(t, atVersion(t, adopted, "3.9.3"), "3.9.3", server);
  }, 600_000);
});
