#!/usr/bin/env bash
# Brings a fresh Debian bookworm machine (as root) to the point where zkfleet,
# its lab and its tests run: system packages, npm dependencies, the build, and
# the ZooKeeper distributions in the artifact cache. Safe to run again: each
# step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  say "run as root: the lab creates namespaces and runs sshd on port 22"; exit 3
fi

need=()
[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ] || need+=(openjdk-17-jre-headless)
# The data tests' independent reader runs a .java source file, which needs the JDK's compiler module.
java --list-modules 2>/dev/null | grep -q '^jdk.compiler' || need+=(openjdk-17-jdk-headless)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v sudo >/dev/null || need+=(sudo)
command -v unshare >/dev/null || need+=(util-linux)
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v tar >/dev/null || need+=(tar)
command -v make >/dev/null || need+=(make)
# The unit test of service: systemd runs systemd's own parser on the rendered unit.
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v g++ >/dev/null || need+=(g++)
# The HTML run report's test renders it in a real browser.
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  say "installing system packages: ${need[*]}"
  apt-get update -q >/dev/null
  # RUNLEVEL=1 keeps the maintainer scripts from starting a machine-wide sshd on
  # 0.0.0.0:22, which would take port 22 from the lab's hosts.
  RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  npm ci --no-audit --no-fund >&2
fi

say "building"
npm run --silent build >&2

say "ZooKeeper distributions (built once from Debian packages, then cached)"
node bin/zkfleet.js lab dists >&2
