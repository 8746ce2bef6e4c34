// The inventory's shape, validated with zod. Everything but `ensemble`,
// `zookeeper.version` and `hosts` has a default, so a three-host inventory
// fits in a dozen lines. Objects are strict: an unknown key is almost always a
// typo, and a typo silently ignored is a setting silently not applied.
import { z } from "zod";
import {
  addressKind,
  closestMatch,
  hostAddressProblem,
  isHostname,
  normalizeRemotePath,
  remotePathProblem,
  resolveLocalPath,
  type LocalPathContext,
} from "./validators.js";
import { adminServerEnabled, KNOWN_ZOOKEEPER_VERSIONS, managedSettingOwner } from "../../common/versions.js";
import { settingValueProblem } from "./setting-types.js";

/**
 * myid is limited to 1..255. ZooKeeper itself accepts any long, but it builds
 * session ids as (myid << 56 | time), so ids above 255 share session id space
 * with smaller ones, and its admin guide asks for 1..255 (1..254 with TTL
 * nodes, which lint checks). 255 ids is also far more than a lifetime of
 * host replacements in one ensemble.
 */
export const MAX_MYID = 255;

const port =
  z
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number" })
    .min(1, { error: "must be between 1 and 65535" })
    .max(65535, { error: "must be between 1 and 65535" });

const remotePath =
  z
    .string({ error: "must be an absolute path on the host, as a string" })
    .superRefine((value, ctx) => {
      const problem = remotePathProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: `${problem}; got ${JSON.stringify(value)}` });
    })
    .transform(normalizeRemotePath);

const localPath = (ctx: LocalPathContext) =>
  z
    .string({ error: "must be a path on this machine, as a string" })
    .min(1, { error: "must not be empty" })
    .refine((value) => !/[\0\r\n]/.test(value), { error: "must not contain a newline" })
    .refine((value) => !/^~[^/]/.test(value), {
      error: "only ~ and ~/ are expanded (not ~user); write the full path",
    })
    .transform((value) => resolveLocalPath(value, ctx));

const versionSchema = z
  .union([z.string(), z.number()], { error: "must be a ZooKeeper version such as 3.8.0" })
  .transform(String)
  .pipe(
    z.enum(KNOWN_ZOOKEEPER_VERSIONS, {
      error: (issue) => {
        const guess = closestMatch(String(issue.input), KNOWN_ZOOKEEPER_VERSIONS);
        const suggestion = guess ? ` (did you mean ${guess}?)` : "";
        return `unknown ZooKeeper version ${JSON.stringify(issue.input)}${suggestion}: zkfleet knows ${KNOWN_ZOOKEEPER_VERSIONS.join(", ")}`;
      },
    }),
  );

const CONFIG_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** zoo.cfg defaults that a quorum cannot start without; the inventory's `config` is laid over them. */
export const BASE_ZOO_CONFIG: Readonly<Record<string, string>> = { tickTime: "2000", initLimit: "10", syncLimit: "5" };

const configSchema = z
  .record(
    z.string(),
    z.union([z.string(), z.number(), z.boolean()], {
      error: "a zoo.cfg value must be a string, number or boolean",
    }),
  )
  .superRefine((config, ctx) => {
    for (const [key, value] of Object.entries(config)) {
      const text = String(value);
      if (!CONFIG_KEY.test(key)) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `zoo.cfg key ${JSON.stringify(key)} may only contain letters, digits, '.', '_' and '-'`,
        });
      }
      const owner = managedSettingOwner(key);
      if (owner !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `${key} is written by zkfleet from ${owner}; remove it from zookeeper.config and set ${owner} instead`,
        });
      }
      if (/[\r\n]/.test(text)) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `the value of ${key} contains a newline, which would add lines to zoo.cfg; put it on one line`,
        });
      } else if (text.includes("\\")) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `the value of ${key} contains a backslash, which Java properties files treat as an escape; remove it`,
        });
      } else {
        const typeProblem = settingValueProblem(key, text);
        if (typeProblem) ctx.addIssue({ code: "custom", path: [key], message: typeProblem });
      }
    }
  })
  .transform((config) => ({
    ...BASE_ZOO_CONFIG,
    ...Object.fromEntries(Object.entries(config).map(([key, value]) => [key, String(value).trim()])),
  }));

const zookeeperShape = (ctx: LocalPathContext) => ({
  version: versionSchema,
  dists: localPath(ctx).default(resolveLocalPath("./artifacts", ctx)),
  install_dir: remotePath.default("/opt/zookeeper"),
  /**
   * A release found on the hosts at adoption (`zkfleet adopt`), installed by
   * hand outside install_dir: used where it lies, never copied or removed.
   */
  preinstalled: z
    .strictObject({ version: versionSchema, home: remotePath }, { error: "must be a mapping with version and home" })
    .optional(),
  data_dir: remotePath.default("/var/lib/zookeeper"),
  /** Transaction logs on their own device; unset means inside data_dir, ZooKeeper's default. */
  data_log_dir: remotePath.optional(),
  log_dir: remotePath.default("/var/log/zookeeper"),
  config_dir: remotePath.default("/etc/zookeeper/conf"),
  client_port: port.default(2181),
  quorum_port: port.default(2888),
  election_port: port.default(3888),
  /** AdminServer port (3.5+). */
  admin_port: port.default(8080),
  bind_to_address: z.boolean({ error: "must be true or false" }).default(false),
  reconfig: z.boolean({ error: "must be true or false" }).default(false),
  /**
   * A file on this machine whose first line is the ZooKeeper super user's
   * password: only the super user may reconfig (3.5.3+). Read when rendering
   * and when a reconfig is sent; the password itself never leaves this machine
   * (the servers get its digest).
   */
  super_password_file: localPath(ctx).optional(),
  service: z
    .enum(["script", "systemd"], { error: "must be 'script' (zkServer.sh) or 'systemd'" })
    .default("script"),
  /**
   * The user the server runs as under service: systemd (the unit's User=).
   * Unset: root, who the agent runs as whenever it may install a unit, and so
   * who zkServer.sh runs the server as under service: script too.
   */
  user: z
    .string({ error: "must be a user name" })
    .regex(/^[A-Za-z_][A-Za-z0-9._-]{0,31}$/, {
      error: "must be a plain user name (letters, digits, . _ -, not starting with a digit or -)",
    })
    .optional(),
  /** 1000 MB is what the upstream scripts use when nothing is said. */
  heap_mb: z
    .number({ error: "must be a number of megabytes" })
    .int({ error: "must be a whole number of megabytes" })
    .min(64, { error: "must be at least 64" })
    .max(262144, { error: "must be at most 262144" })
    .default(1000),
  config: configSchema.prefault({}),
});

const sshShape = (ctx: LocalPathContext) => ({
  user: z
    .string({ error: "must be a user name" })
    .regex(/^[A-Za-z_][A-Za-z0-9._-]{0,31}$/, {
      error: "must be a plain user name (letters, digits, . _ -, not starting with a digit or -)",
    })
    .default("root"),
  port: port.default(22),
  /** Unset: leave the choice of key to ~/.ssh/config and the ssh agent. */
  identity_file: localPath(ctx).optional(),
  known_hosts: localPath(ctx).default(resolveLocalPath("~/.ssh/known_hosts", ctx)),
  become: z.boolean({ error: "must be true or false" }).default(false),
  accept_new_host_keys: z.boolean({ error: "must be true or false" }).default(false),
});

const agentShape = {
  dir: remotePath.default("/opt/zkfleet"),
  node: z
    .string({ error: "must be a program name or an absolute path" })
    .regex(/^(?:[A-Za-z0-9._+-]+|\/[A-Za-z0-9._/+-]+)$/, {
      error: "must be a program name (node) or an absolute path (/usr/bin/node), without spaces",
    })
    .default("node"),
};

const hostShape = {
  name: z
    .string({ error: "must be a host name" })
    .refine(isHostname, { error: "must be a valid host name (letters, digits, hyphens, dots)" }),
  address: z.string({ error: "must be an IPv4 address, an IPv6 address or a host name" }).refine(
    (value) => addressKind(value) !== undefined,
    {
      error: (issue) =>
        `address ${JSON.stringify(issue.input)} is neither an IPv4 address, an IPv6 address (without brackets) nor a host name`,
    },
  ).superRefine((value, ctx) => {
    const problem = hostAddressProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: `address ${value} is ${problem}, not the address of a host; give the server's own address` });
  }),
  myid: z
    .number({ error: `must be a whole number from 1 to ${MAX_MYID}` })
    .int({ error: `must be a whole number from 1 to ${MAX_MYID}` })
    .min(1, { error: `must be from 1 to ${MAX_MYID}` })
    .max(MAX_MYID, {
      error: `must be at most ${MAX_MYID}: ZooKeeper puts it in the top byte of session ids`,
    }),
  role: z
    .enum(["participant", "observer"], { error: "must be 'participant' (a voter) or 'observer'" })
    .default("participant"),
  /** Overrides ssh.port for this host. */
  ssh_port: port.optional(),
  /**
   * absent: the server leaves the ensemble (removed one at a time, then
   * stopped; its data is kept). The host stays listed so zkfleet can reach it.
   */
  state: z.enum(["present", "absent"], { error: "must be 'present' (a member) or 'absent' (leaving)" }).default("present"),
};

/** Every key each object accepts: unknown-key messages suggest the closest one. */
export const KNOWN_KEYS = {
  top: ["ensemble", "zookeeper", "ssh", "agent", "hosts", "hosts_file", "templates"],
  zookeeper: Object.keys(zookeeperShape({ baseDir: "/" })),
  ssh: Object.keys(sshShape({ baseDir: "/" })),
  agent: Object.keys(agentShape),
  host: Object.keys(hostShape),
} as const;

type HostInput = { name: string; address: string; myid: number; state: "present" | "absent" };

/**
 * A name listed twice, once leaving (state: absent) and once present, is a
 * server moving to another address under the name clients know it by (a
 * whole migration keeping host names): its old server leaves, a new one with a new myid
 * joins. Any other repeated name, and any repeated myid or address, is a
 * mistake.
 */
function isMove(hosts: readonly HostInput[], a: HostInput, b: HostInput): boolean {
  const twins = hosts.filter((h) => h.name.toLowerCase() === a.name.toLowerCase());
  return twins.length === 2 && a.state !== b.state;
}

function rejectDuplicates(hosts: readonly HostInput[], ctx: z.RefinementCtx): void {
  for (const field of ["name", "myid", "address"] as const) {
    const firstIndex = new Map<string | number, number>();
    hosts.forEach((host, index) => {
      const value = field === "myid" ? host.myid : host[field].toLowerCase();
      const first = firstIndex.get(value);
      if (first === undefined) {
        firstIndex.set(value, index);
        return;
      }
      if (field === "name" && isMove(hosts, hosts[first]!, host)) return;
      const firstName = hosts[first]?.name ?? `hosts[${first}]`;
      ctx.addIssue({
        code: "custom",
        path: [index, field],
        message: `${field} ${JSON.stringify(host[field])} is already used by host ${firstName}; every host needs its own ${field}` +
          (field === "name" ? " (a server moving to a new address is listed twice: its old entry with state: absent, its new one present)" : ""),
      });
    });
  }
}

/**
 * The leaving half of a move gets its own inventory name, `NAME@ADDRESS`, so
 * that every host has one identity in plans, journals and messages; its
 * `server_name` keeps the name its server lines and /etc/hosts use.
 */
function nameMoves<H extends HostInput>(hosts: H[]): (H & { server_name?: string })[] {
  return hosts.map((h) => {
    const moving = h.state === "absent" && hosts.some((o) => o !== h && o.state === "present" && o.name.toLowerCase() === h.name.toLowerCase());
    return moving ? { ...h, name: `${h.name}@${h.address}`, server_name: h.name } : h;
  });
}

interface PortUse {
  field: string;
  path: (string | number)[];
  port: number;
}

function zookeeperPorts(zk: ZookeeperSpec): PortUse[] {
  const uses: PortUse[] = [
    { field: "zookeeper.client_port", path: ["zookeeper", "client_port"], port: zk.client_port },
    { field: "zookeeper.quorum_port", path: ["zookeeper", "quorum_port"], port: zk.quorum_port },
    { field: "zookeeper.election_port", path: ["zookeeper", "election_port"], port: zk.election_port },
  ];
  if (adminServerEnabled(zk)) {
    uses.push({ field: "zookeeper.admin_port", path: ["zookeeper", "admin_port"], port: zk.admin_port });
  }
  return uses;
}

export function inventorySchema(ctx: LocalPathContext) {
  return z
    .strictObject({
      ensemble: z
        .string({ error: "must be a name" })
        .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
          error: "must be 1-63 letters, digits, '.', '_' or '-' (it names the /etc/hosts block and the journal)",
        }),
      zookeeper: z.strictObject(zookeeperShape(ctx), { error: "zookeeper must be a mapping with at least version" }),
      ssh: z.strictObject(sshShape(ctx)).prefault({}),
      agent: z.strictObject(agentShape).prefault({}),
      hosts: z
        .array(z.strictObject(hostShape, { error: "each host must be a mapping with name, address and myid" }), {
          error: "must be a list of hosts",
        })
        .min(1, { error: "must list at least one host" })
        .superRefine(rejectDuplicates)
        .transform(nameMoves),
      hosts_file: z
        .enum(["managed", "unmanaged"], {
          error: "must be 'managed' (zkfleet keeps a block in /etc/hosts) or 'unmanaged'",
        })
        .default("managed"),
      /** Directory of user templates; each file found there replaces the built-in one of the same name. */
      templates: localPath(ctx).optional(),
    }, { error: "the inventory must be a YAML mapping with at least ensemble, zookeeper.version and hosts" })
    .superRefine((inv, refine) => {
      const zkPorts = zookeeperPorts(inv.zookeeper);
      zkPorts.forEach((use, index) => {
        const clash = zkPorts.slice(0, index).find((other) => other.port === use.port);
        if (clash) {
          refine.addIssue({
            code: "custom",
            path: use.path,
            message: `${use.port} is also ${clash.field}; ZooKeeper listens on all of them at once, give each its own port`,
          });
        }
      });
      inv.hosts.forEach((host, index) => {
        const sshPort = host.ssh_port ?? inv.ssh.port;
        const clash = zkPorts.find((use) => use.port === sshPort);
        if (clash) {
          refine.addIssue({
            code: "custom",
            path: host.ssh_port === undefined ? ["ssh", "port"] : ["hosts", index, "ssh_port"],
            message: `ssh port ${sshPort} of host ${host.name} is also ${clash.field}; sshd and ZooKeeper cannot share a port`,
          });
        }
        if (inv.hosts_file === "managed" && addressKind(host.address) === "hostname") {
          refine.addIssue({
            code: "custom",
            path: ["hosts", index, "address"],
            message:
              `address ${host.address} is a host name, but hosts_file: managed maps names to IP addresses in /etc/hosts; ` +
              "give the IP address, or set hosts_file: unmanaged",
          });
        }
      });
    });
}

export type InventorySchema = ReturnType<typeof inventorySchema>;
/** A validated inventory, defaults applied and local paths absolute. */
export type Inventory = z.output<InventorySchema>;
export type HostSpec = Inventory["hosts"][number];
export type ZookeeperSpec = Inventory["zookeeper"];
export type SshSpec = Inventory["ssh"];
export type AgentSpec = Inventory["agent"];
export type HostRole = HostSpec["role"];
