// Shared by the backup/restore lab tests: two ensembles in one lab (zk1..zk3
// the source, zk4..zk6 the target), each with an inventory of its own.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { fourLetterWord, sshRun, type TestLab } from "../helpers/lab.js";

/** An inventory of the lab's hosts `names` as ensemble `ensemble`, myids 1..n. */
export function ensembleInventory(t: TestLab, ensemble: string, names: string[], zookeeper: Record<string, unknown> = {}): string {
  const inv = parseYaml(readFileSync(t.lab.inventory, "utf8")) as { zookeeper: Record<string, unknown>; hosts: { name: string; address: string }[] };
  const byName = new Map(inv.hosts.map((h) => [h.name, h]));
  const path = join(t.lab.dir, `${ensemble}.yml`);
  writeFileSync(path, toYaml({
    ...inv, ensemble, zookeeper: { ...inv.zookeeper, ...zookeeper },
    hosts: names.map((name, i) => ({ name, address: byName.get(name)!.address, myid: i + 1 })),
  }));
  return path;
}

export const addressOf = (t: TestLab, name: string) => t.lab.hosts.find((h) => h.name === name)!.address;

export const connectOf = (t: TestLab, names: string[]) => names.map((n) => `${addressOf(t, n)}:2181`).join(",");

/** What srvr says: mode and zxid. */
export async function srvr(t: TestLab, name: string): Promise<{ mode?: string; zxid?: string }> {
  const text = await fourLetterWord(addressOf(t, name), 2181, "srvr", 2000);
  return { mode: /^Mode: (\S+)/m.exec(text)?.[1], zxid: /^Zxid: (0x[0-9a-f]+)/m.exec(text)?.[1] };
}

/** Every file under ZooKeeper's and zkfleet's directories on a host, with size and content hash: to see that nothing was touched. */
export async function filesOn(t: TestLab, name: string): Promise<string> {
  const r = await sshRun(t.lab, name,
    "find /var/lib/zookeeper /opt /etc/zookeeper -xdev \\( -type f -o -type l -o -type d \\) 2>/dev/null | sort | while read -r p; do " +
    "if [ -f \"$p\" ] && [ ! -L \"$p\" ]; then echo \"$p $(stat -c %s \"$p\") $(sha256sum < \"$p\" | cut -c1-16)\"; else echo \"$p\"; fi; done");
  return r.stdout;
}

/** The pid of the ZooKeeper server on a host, or "" when none runs. */
export async function serverPid(t: TestLab, name: string): Promise<string> {
  return (await sshRun(t.lab, name, "pgrep -f '[Q]uorumPeerMain' || true")).stdout.trim();
}
