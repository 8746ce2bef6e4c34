// Adopting a 3-server ensemble installed by hand (the manual install: the tarball in
// /opt/zookeeper, names in /etc/hosts, ports 4000:5000), then upgrading it
// 3.4.13 -> 3.9.3 in one hop under load. The 5-server ensemble takes the
// other hops in adopt-5.test.ts.
import { describe, it } from "vitest";
import { useTestLab } from "../helpers/lab.js";
import { adoptExactly, atVersion, loadTree, upgradeHop } from "./adopt-scenario.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("adopt", subnet("adopt"), 3, undefined, { preinstall: "3.4.13" });

describe("adopting a hand-installed 3.4.13 ensemble (3 servers)", () => {
  let adopted = "";
  it("writes an inventory with which apply changes nothing and restarts nothing", async () => {
    adopted = await adoptExactly(t);
  }, 120_000);

  it("upgrades it 3.4.13 -> 3.9.3 loaded, leader last, gated, tree digest equal, canary clean", async () => {
    const { server, logsOnly } = await loadTree(t);
    await upgradeHop(t, atVersion(t, adopted, "3.9.3"), "3.9.3", server, logsOnly);
  }, 300_000);
});
