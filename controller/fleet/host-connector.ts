// How a fleet reaches its hosts unless told otherwise: SSH as the inventory
// and ~/.ssh/config say. Apart from fleet.ts, which builds the agent
// protocol's schemas as it loads (tens of milliseconds), so that apply can
// start the handshakes first and build them meanwhile.
import type { FleetHost, FleetOptions } from "./types.js";
import { connectSsh } from "../connection/ssh.js";
import { defaultSshEnvironment, readUserSshConfig, resolveSshTarget } from "../connection/ssh-config.js";
import type { Connection } from "../connection/types.js";

export type HostConnector = (host: FleetHost) => Promise<Connection>;

export async function sshConnector(opts: Pick<FleetOptions, "acceptNewHostKeys" | "connectTimeoutMs" | "env">): Promise<HostConnector> {
  const env = opts.env ?? defaultSshEnvironment();
  const sshConfig = await readUserSshConfig(env);
  return (h) => {
    const ssh = h.inventory.ssh;
    const target = resolveSshTarget(h.spec.name, {
      address: h.spec.address,
      port: h.spec.ssh_port ?? ssh.port,
      user: ssh.user,
      identityFiles: ssh.identity_file ? [ssh.identity_file] : undefined,
      knownHostsFile: ssh.known_hosts,
      acceptNewHostKeys: opts.acceptNewHostKeys || ssh.accept_new_host_keys,
      become: ssh.become,
      ...(opts.connectTimeoutMs ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
    }, sshConfig, env);
    return connectSsh(target);
  };
}
