import { describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import {
  lookupSshConfig,
  parseJumpHop,
  parseSshConfig,
  resolveSshTarget,
  type SshEnvironment,
} from "../../controller/connection/ssh-config.js";

function thrown(fn: () => unknown): ZkfleetError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ZkfleetError) return e;
    throw e;
  }
  throw new Error("expected a ZkfleetError");
}

const env: SshEnvironment = { homeDir: "/home/op", localUser: "op" };

const CONFIG = `
# first obtained value wins, in file order: Host * goes last
Host zk1 zk2
    HostName %h.dc1.example
    User admin
    IdentityFile ~/.ssh/zk_%r_%h

Host zk* !zk9
    Port 2222
    User ignored-because-zk1-already-set-it
    IdentityFile "/keys/with space"

Host bastion
    HostName 203.0.113.7
    User jump
    Port=2200

Host inner?
    ProxyJump bastion

Match exec "true"
    User never-applies

Host *
    User fallback
    ConnectTimeout 3
    StrictHostKeyChecking accept-new
    UserKnownHostsFile ~/.ssh/zk_known_hosts
`;

describe("parseSshConfig / lookupSshConfig", () => {
  const blocks = parseSshConfig(CONFIG);

  it("keeps the first value of each keyword across matching blocks", () => {
    const zk1 = lookupSshConfig(blocks, "zk1");
    expect(zk1).toMatchObject({ hostname: "%h.dc1.example", user: "admin", port: 2222, connectTimeoutMs: 3000 });
  });

  it("accumulates IdentityFile and honours quotes", () => {
    expect(lookupSshConfig(blocks, "zk2").identityFiles).toEqual(["~/.ssh/zk_%r_%h", "/keys/with space"]);
  });

  it("applies negations, ? wildcards and key=value syntax; ignores Match with criteria", () => {
    expect(lookupSshConfig(blocks, "zk9").port).toBeUndefined();
    expect(lookupSshConfig(blocks, "zk9").user).toBe("fallback");
    expect(lookupSshConfig(blocks, "inner1").proxyJump).toBe("bastion");
    expect(lookupSshConfig(blocks, "inner12").proxyJump).toBeUndefined();
    expect(lookupSshConfig(blocks, "bastion")).toMatchObject({ port: 2200, user: "jump" });
  });

  it("matches Host patterns case-insensitively", () => {
    expect(lookupSshConfig(blocks, "ZK1").user).toBe("admin");
  });

  it("rejects a bad port or an unbalanced quote, naming the line", () => {
    expect(thrown(() => lookupSshConfig(parseSshConfig("Host x\n  Port 99999\n", "cfg"), "x", "cfg")).where).toBe("cfg:2");
    expect(thrown(() => parseSshConfig('Host x\n IdentityFile "/a b\n', "cfg")).where).toBe("cfg:2");
  });
});

describe("resolveSshTarget", () => {
  it("falls back to OpenSSH defaults without any config", () => {
    expect(resolveSshTarget("zk1", {}, undefined, env)).toEqual({
      host: "zk1",
      hostname: "zk1",
      port: 22,
      user: "op",
      identityFiles: ["/home/op/.ssh/id_rsa", "/home/op/.ssh/id_ecdsa", "/home/op/.ssh/id_ed25519"],
      knownHostsFile: "/home/op/.ssh/known_hosts",
      acceptNewHostKeys: false,
      become: false,
      connectTimeoutMs: 10_000,
    });
  });

  it("takes ssh config over defaults and expands ~ and %-tokens", () => {
    const t = resolveSshTarget("zk1", {}, CONFIG, env);
    expect(t).toMatchObject({
      hostname: "zk1.dc1.example",
      user: "admin",
      port: 2222,
      identityFiles: ["/home/op/.ssh/zk_admin_zk1.dc1.example", "/keys/with space"],
      knownHostsFile: "/home/op/.ssh/zk_known_hosts",
      acceptNewHostKeys: true,
      connectTimeoutMs: 3000,
    });
  });

  it("lets explicit inventory values win over ssh config", () => {
    const t = resolveSshTarget(
      "zk1",
      { address: "10.1.1.1", user: "root", port: 22, identityFiles: ["~/inv_key"], acceptNewHostKeys: false, become: true, connectTimeoutMs: 500 },
      CONFIG,
      env,
    );
    expect(t).toMatchObject({
      hostname: "10.1.1.1",
      user: "root",
      port: 22,
      identityFiles: ["/home/op/inv_key"],
      acceptNewHostKeys: false,
      become: true,
      connectTimeoutMs: 500,
    });
  });

  it("resolves ProxyJump hops through the config, the last hop being the nearest", () => {
    const t = resolveSshTarget("inner1", {}, CONFIG, env);
    expect(t.proxyJump).toMatchObject({ host: "bastion", hostname: "203.0.113.7", user: "jump", port: 2200 });
    const chain = resolveSshTarget("db", { proxyJump: "ops@bastion:2201,root@[::1]:22" }, CONFIG, env);
    expect(chain.proxyJump).toMatchObject({ host: "::1", user: "root", port: 22 });
    expect(chain.proxyJump?.proxyJump).toMatchObject({ host: "bastion", hostname: "203.0.113.7", user: "ops", port: 2201 });
    expect(chain.proxyJump?.proxyJump?.proxyJump).toBeUndefined();
    expect(resolveSshTarget("inner1", { proxyJump: "none" }, CONFIG, env).proxyJump).toBeUndefined();
  });

  it("stops a ProxyJump loop with a hint instead of recursing forever", () => {
    expect(() => resolveSshTarget("a", {}, "Host *\n ProxyJump hop\n", env)).toThrow(/ProxyJump chain/);
  });

  it("parses jump hop syntax and rejects nonsense", () => {
    expect(parseJumpHop("ssh://u@h:2022", "x")).toEqual({ host: "h", user: "u", port: 2022 });
    expect(parseJumpHop("h", "x")).toEqual({ host: "h" });
    expect(() => parseJumpHop("u@h:notaport", "x")).toThrow(ZkfleetError);
  });

  it("validates an inventory port", () => {
    expect(thrown(() => resolveSshTarget("zk1", { port: 0 }, undefined, env)).where).toBe("zk1: ssh.port");
  });
});
