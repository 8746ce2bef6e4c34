// install_dist: unpack a ZooKeeper tarball already on the host into
// <install_dir>/releases/<version>, and optionally switch `current` to it;
// with no tarball, only switch `current` to a release already unpacked.
// The unpack happens in a temp dir that is renamed into place, so a
// half-unpacked release is never visible under its real name.

import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { exists, isDirectory, listDir, sha256Of, symlinkAtomic } from "../fs-util.js";
import { done, failed, type Failed, type OpOutcome } from "../outcome.js";
import type { OpArgs } from "../../common/protocol.js";
import { currentLink, currentRelease, currentTarget, releasesDir } from "../releases.js";
import { describeResult, runCommand } from "../run-command.js";

/** Unpack into a temp dir beside the final one, verify, then rename into place. */
async function unpack(tarball: string, installDir: string, version: string): Promise<Failed | null> {
  const releaseDir = join(releasesDir(installDir), version);
  await mkdir(releasesDir(installDir), { recursive: true });
  // Dot-prefixed: facts and installedReleases never mistake it for a release.
  const temp = await mkdtemp(join(releasesDir(installDir), `.unpack-${version}-`));
  try {
    const argv = ["tar", "-xf", tarball, "-C", temp, "--no-same-owner"];
    const result = await runCommand(argv, { timeoutMs: 300_000 });
    if (result.code !== 0) {
      return failed("command_failed", describeResult(argv, result), `Check that ${tarball} is a complete tarball.`);
    }
    // Release tarballs wrap everything in one top directory (apache-zookeeper-X-bin/).
    const entries = await listDir(temp);
    const only = entries.length === 1 && entries[0] !== undefined ? join(temp, entries[0]) : null;
    const root = only !== null && (await isDirectory(only)) ? only : temp;
    if (!(await exists(join(root, "bin", "zkServer.sh")))) {
      return failed(
        "refused",
        `${tarball} does not contain bin/zkServer.sh: it is not a ZooKeeper binary release`,
        "Use the -bin tarball of a ZooKeeper release (apache-zookeeper-<version>-bin.tar.gz).",
      );
    }
    await rename(root, releaseDir);
    return null;
  } finally {
    // Only our own temp dir: it is empty (or absent) after a successful rename.
    await rm(temp, { recursive: true, force: true });
  }
}

export async function installDistOp(args: OpArgs<"install_dist">): Promise<OpOutcome<"install_dist">> {
  const { tarball, version, install_dir: installDir, preinstalled: pre } = args;
  // The preinstalled release is never unpacked: it is where adoption found it.
  const releaseDir = pre?.version === version ? pre.home : join(releasesDir(installDir), version);
  const link = currentLink(installDir);
  const before = await currentRelease(installDir, pre);
  const installed = await exists(join(releaseDir, "bin", "zkServer.sh"));
  if (!installed && pre?.version === version) {
    return failed(
      "not_found",
      `${pre.home} holds no ZooKeeper release (no bin/zkServer.sh), though the inventory says ${version} was found there`,
      "Restore it, or remove zookeeper.preinstalled from the inventory so that zkfleet installs the release itself.",
    );
  }
  if (!installed && (await exists(releaseDir))) {
    return failed(
      "refused",
      `${releaseDir} exists but has no bin/zkServer.sh (an incomplete install)`,
      `Move ${releaseDir} aside by hand, then run install_dist again.`,
    );
  }
  if (!installed && tarball === undefined) {
    return failed("not_found", `ZooKeeper ${version} is not unpacked in ${releaseDir}, and no tarball was given`, "Push the release's tarball and name it, or plan an install of it.");
  }
  if (!installed && !(await exists(tarball!))) {
    return failed("not_found", `tarball ${tarball} is not on the host`, "Push the tarball to the host before install_dist.");
  }
  const switchCurrent = args.set_current && before !== version;
  const after = switchCurrent ? version : before;
  const unpackPart = installed ? [] : [`${tarball} into ${releaseDir}`];
  const switchPart = switchCurrent ? [`${link} at ${currentTarget(version, pre)}`] : [];
  const say = (unpackVerb: string, pointVerb: string) =>
    [...unpackPart.map((s) => `${unpackVerb} ${s}`), ...switchPart.map((s) => `${pointVerb} ${s}`)].join(" and ");
  const data = { version, release_dir: releaseDir, unpacked: false, current_before: before, current_after: after };
  const diff = switchCurrent ? `--- ${link}\n+++ ${link}\n-${before ?? "(none)"}\n+${version}\n` : undefined;
  if (unpackPart.length + switchPart.length === 0) {
    return done(false, `ZooKeeper ${version} is already installed${args.set_current ? " and current" : ""}`, data);
  }

  if (!installed && tarball !== undefined) {
    if (args.sha256 !== undefined) {
      const actual = await sha256Of(tarball);
      if (actual !== args.sha256) {
        return failed(
          "refused",
          `${tarball} has sha256 ${actual}, expected ${args.sha256}`,
          "The tarball is corrupt or not the one the controller pushed: push it again.",
        );
      }
    }
    const problem = await unpack(tarball, installDir, version);
    if (problem) return problem;
  }
  if (switchCurrent) {
    await mkdir(installDir, { recursive: true });
    await symlinkAtomic(currentTarget(version, pre), link);
  }
  return done(true, say("unpacked", "pointed"), { ...data, unpacked: !installed }, diff);
}
