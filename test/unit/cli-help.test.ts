// --version and `zkfleet help COMMAND` through the real CLI, in-process; the
// installed binary is exercised in test/package.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultArtifactsDir, isInstalledPackage, packageRoot } from "../../common/paths.js";
import { runCli } from "../helpers/cli.js";

describe("zkfleet --version and help", () => {
  it("--version prints package.json's version and exits 0", async () => {
    const { version } = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8"));
    for (const flag of ["--version", "-V"]) expect(await runCli([flag])).toEqual({ code: 0, out: version, err: "" });
  });

  it.each([
    [["help", "apply"], "zkfleet apply -i "],
    [["help", "status"], "zkfleet status -i "],
    [["help", "adopt"], "zkfleet adopt --ensemble "],
    [["help", "runs"], "zkfleet runs resume RUN"],
    [["help", "export"], "zkfleet export -i "],
    [["help", "import"], "zkfleet import -i "],
    [["help", "diff"], "zkfleet diff "],
    [["lab", "help", "up"], "zkfleet lab up --hosts 3"],
  ])("%j shows the command's examples", async (args, example) => {
    const r = await runCli(args);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\nExamples?:\n/);
    expect(r.out).toContain(example);
  });

  it("tells a checkout from an installed package by the node_modules above it", () => {
    expect(isInstalledPackage("/work/zkfleet")).toBe(false);
    expect(isInstalledPackage("/usr/lib/node_modules/zkfleet")).toBe(true);
    expect(isInstalledPackage("/home/op/.npm-global/lib/node_modules/zkfleet")).toBe(true);
  });

  it("keeps a checkout's artifact cache in the checkout, which the lab tests and CI use", () => {
    expect(defaultArtifactsDir({ HOME: "/home/op" })).toBe(join(packageRoot(), "artifacts"));
    expect(defaultArtifactsDir({ HOME: "/home/op", ZKFLEET_ARTIFACTS: "/cache" })).toBe("/cache");
  });
});
