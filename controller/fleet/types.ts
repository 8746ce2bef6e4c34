// What a fleet is opened with and what it holds per host: apart from
// fleet.ts so that host-connector.ts (which fleet.ts uses) needs nothing of it.
import type { RuntimePush } from "../agent-client/runtime.js";
import type { SshEnvironment } from "../connection/ssh-config.js";
import type { Connection } from "../connection/types.js";
import type { HostSpec, Inventory } from "../inventory/schema.js";

export interface FleetOptions {
  /** Hosts worked on at once. */
  parallel?: number;
  /** Trust and record unknown host keys (a changed key is refused regardless). */
  acceptNewHostKeys?: boolean;
  connectTimeoutMs?: number;
  env?: SshEnvironment;
  bundlePath?: string;
  /**
   * How a host is reached. Default: SSH as the inventory and ~/.ssh/config say.
   * A LocalConnection here runs everything on this machine instead (tests, a
   * controller on the ZooKeeper host itself).
   */
  connect?: (host: FleetHost) => Promise<Connection>;
  /** Told when zkfleet's node runtime is pushed to a host without a usable node: what the first contact cost. */
  onRuntimePushed?: (key: string, push: RuntimePush) => void;
}

export interface FleetHost {
  inventory: Inventory;
  spec: HostSpec;
  /** Unique across the fleet: "ensemble/host" when several inventories are open. */
  key: string;
}
