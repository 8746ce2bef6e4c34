// The ensemble an inventory asks for, reduced to what the executor's gates
// and the health verdict need: who the members are, their roles and myids,
// and where each one's client port is reached from its own host. Pure.
import type { HostSpec, Inventory } from "../inventory/schema.js";
import type { ServerRole } from "./membership.js";

export interface Member {
  host: string;
  address: string;
  myid: number;
  role: ServerRole;
  /** Where the client port answers, dialled from the host itself (through its SSH connection). */
  probe: { address: string; port: number };
}

export interface EnsembleTarget {
  name: string;
  /** The inventory file, for messages. */
  inventory: string;
  version: string;
  members: Member[];
}

/** Where a host's client port answers, dialled from the host itself: bound to its own address, the server is not on 127.0.0.1. */
export function probeFor(inv: Inventory, h: HostSpec): Member["probe"] {
  return { address: inv.zookeeper.bind_to_address ? h.address : "127.0.0.1", port: inv.zookeeper.client_port };
}

export function targetOf(inv: Inventory, inventoryFile: string): EnsembleTarget {
  const zk = inv.zookeeper;
  return {
    name: inv.ensemble,
    inventory: inventoryFile,
    version: zk.version,
    members: inv.hosts.filter((h) => h.state === "present").map((h) => ({
      host: h.name,
      address: h.address,
      myid: h.myid,
      role: h.role,
      probe: probeFor(inv, h),
    })),
  };
}
