import { execFile } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  appendKnownHost,
  checkHostKey,
  fingerprint,
  hostKeyError,
  keygenRemove,
  keygenRemovesIn,
  knownHostName,
  knownKeyTypes,
  parseKnownHosts,
} from "../../controller/connection/known-hosts.js";
import { observationError, unobservableError } from "../../controller/observe/observe.js";
import { makeKey, makeTempDir, type KeyPair } from "../helpers/sshd.js";
import { addressIn } from "../helpers/subnets.js";

const KNOWN = addressIn("known-hosts", 9);

const execFileP = promisify(execFile);
const blob = (k: KeyPair) => Buffer.from(k.publicLine.split(" ")[1] ?? "", "base64");
const typeAndKey = (k: KeyPair) => k.publicLine.split(" ").slice(0, 2).join(" ");

describe("known_hosts", () => {
  let dir = "";
  let a: KeyPair, b: KeyPair, rsa: KeyPair;
  beforeAll(async () => {
    dir = await makeTempDir("zkfleet-kh");
    a = await makeKey(dir, "a");
    b = await makeKey(dir, "b");
    rsa = await makeKey(dir, "c", "rsa");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("prints fingerprints exactly as ssh-keygen does", async () => {
    const { stdout } = await execFileP("ssh-keygen", ["-l", "-E", "sha256", "-f", a.publicPath]);
    expect(stdout.split(" ")[1]).toBe(fingerprint(blob(a)));
  });

  it("uses [host]:port names for non-22 ports", () => {
    expect(knownHostName("ZK1.example", 22)).toBe("zk1.example");
    expect(knownHostName("10.0.0.1", 2222)).toBe("[10.0.0.1]:2222");
  });

  it("matches plain, port, comma, wildcard and negated patterns", () => {
    const text = [
      "# comment",
      `zk1,10.0.0.1 ${typeAndKey(a)}`,
      `[zk2]:2222 ${typeAndKey(a)} comment here`,
      `*.prod,!bad.prod ${typeAndKey(b)}`,
      `zk?.lab ${typeAndKey(rsa)}`,
      "garbage line",
      `@cert-authority * ${typeAndKey(b)}`,
    ].join("\n");
    const entries = parseKnownHosts(text, "kh");
    expect(entries.map((e) => e.line)).toEqual([2, 3, 4, 5, 7]);
    expect(checkHostKey(entries, "zk1", blob(a)).kind).toBe("known");
    expect(checkHostKey(entries, "10.0.0.1", blob(a)).kind).toBe("known");
    expect(checkHostKey(entries, "[zk2]:2222", blob(a)).kind).toBe("known");
    expect(checkHostKey(entries, "zk2", blob(a)).kind).toBe("unknown"); // port 22 is a different name
    expect(checkHostKey(entries, "db.prod", blob(b)).kind).toBe("known");
    expect(checkHostKey(entries, "bad.prod", blob(b)).kind).toBe("unknown"); // the negation vetoes, and CA lines do not count
    expect(checkHostKey(entries, "zk7.lab", blob(rsa)).kind).toBe("known");
    expect(checkHostKey(entries, "zk17.lab", blob(rsa)).kind).toBe("unknown");
  });

  it("a changed key of each of two hosts: apply's refusal gives each host's exact ssh-keygen -R on its fix line, and that line works", async () => {
    // A known_hosts path with a space and a quote: the command must survive sh as it is printed.
    const file = join(dir, "known hosts of o'brien");
    await writeFile(file, `zk1 ${typeAndKey(a)}\n[zk2]:2200 ${typeAndKey(a)}\n${KNOWN} ${typeAndKey(rsa)}\n`);
    const entries = parseKnownHosts(await readFile(file, "utf8"), file);
    const refusal = (host: string, port: number) =>
      hostKeyError({ host, hostname: host, port, knownHostsFile: file }, checkHostKey(entries, knownHostName(host, port), blob(b)), blob(b));
    const err = unobservableError([`zk2: ${observationError(refusal("zk2", 2200))}`, `zk1: ${observationError(refusal("zk1", 22))}`]);
    const commands = [keygenRemove(file, "zk1"), keygenRemove(file, "[zk2]:2200")];
    expect(commands[0]).toBe(`ssh-keygen -f '${dir}/known hosts of o'\\''brien' -R 'zk1'`);
    expect(err.hint).toContain(`once the new fingerprint is confirmed out of band: ${commands[0]} && ${commands[1]}, then run again with --accept-new-host-keys`);
    expect(err.describe().split("\n").find((l) => l.startsWith("  fix:"))).toContain(commands.join(" && "));
    // The fix line's commands, run by sh as an operator would paste them, leave only the unchanged host.
    await execFileP("sh", ["-c", keygenRemovesIn(err.hint!).join(" && ")]);
    expect((await readFile(file, "utf8")).split("\n").filter((l) => l && !l.startsWith("#"))).toEqual([`${KNOWN} ${typeAndKey(rsa)}`]);
  });

  it("calls a different key of the same type a change, naming the line", () => {
    const entries = parseKnownHosts(`\n[zk1]:2200 ${typeAndKey(a)}\n`, "/x/known_hosts");
    const verdict = checkHostKey(entries, "[zk1]:2200", blob(b));
    expect(verdict).toMatchObject({ kind: "changed", entry: { line: 2 } });
    const err = hostKeyError({ host: "zk1", hostname: "zk1", port: 2200, knownHostsFile: "/x/known_hosts" }, verdict, blob(b));
    expect(err.message).toMatch(/HAS CHANGED.*man-in-the-middle/);
    expect(err.message).toContain(fingerprint(blob(a)));
    expect(err.message).toContain(fingerprint(blob(b)));
    expect(err.where).toBe("/x/known_hosts:2");
    expect(err.hint).toContain("ssh-keygen -f '/x/known_hosts' -R '[zk1]:2200'");
  });

  it("treats a key of another type as unknown, remembering the known types", () => {
    const entries = parseKnownHosts(`zk1 ${typeAndKey(rsa)}`, "kh");
    expect(checkHostKey(entries, "zk1", blob(a))).toEqual({ kind: "unknown", otherTypes: ["ssh-rsa"] });
    expect(knownKeyTypes(entries, "zk1")).toEqual(["ssh-rsa"]);
  });

  it("rejects @revoked keys even when also listed as trusted", () => {
    const entries = parseKnownHosts(`zk1 ${typeAndKey(a)}\n@revoked * ${typeAndKey(a)}`, "kh");
    expect(checkHostKey(entries, "zk1", blob(a)).kind).toBe("revoked");
  });

  it("matches entries hashed by ssh-keygen -H", async () => {
    const file = join(dir, "hashed");
    await writeFile(file, `[${KNOWN}]:2022 ${typeAndKey(a)}\nzk3 ${typeAndKey(b)}\n`);
    await execFileP("ssh-keygen", ["-H", "-f", file]);
    const text = await readFile(file, "utf8");
    expect(text).toMatch(/^\|1\|/);
    const entries = parseKnownHosts(text, file);
    expect(checkHostKey(entries, `[${KNOWN}]:2022`, blob(a)).kind).toBe("known");
    expect(checkHostKey(entries, "zk3", blob(b)).kind).toBe("known");
    expect(checkHostKey(entries, "zk3", blob(a)).kind).toBe("changed");
    expect(checkHostKey(entries, "zk4", blob(b)).kind).toBe("unknown");
  });

  it("appends entries that OpenSSH itself finds", async () => {
    const file = join(dir, "sub", "known_hosts");
    await appendKnownHost(file, `[${KNOWN}]:2022`, blob(a));
    await appendKnownHost(file, "zk5", blob(b));
    const { stdout } = await execFileP("ssh-keygen", ["-F", `[${KNOWN}]:2022`, "-f", file]);
    expect(stdout).toContain(typeAndKey(a));
    expect(checkHostKey(parseKnownHosts(await readFile(file, "utf8"), file), "zk5", blob(b)).kind).toBe("known");
  });
});
