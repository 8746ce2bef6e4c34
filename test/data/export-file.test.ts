// Export files read back: a whole file passes; every way of being corrupt
// or truncated is refused with the file and line number of the first
// problem, before a caller could act on any of it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import { checkExportFile } from "../../controller/data/read-file.js";
import { exportLines, node, writeLines } from "./fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "zkfleet-export-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NODES = [
  node("/app", "root", { cversion: 4 }),
  node("/app/a", "x"),
  node("/app/a/deep", "y"),
  node("/app/a-b", "z"),
  node("/app/e", "", { ephemeral: true }),
];
let n = 0;
const file = (lines: string[]) => writeLines(join(dir, `f${n++}.jsonl`), lines);

async function refusal(lines: string[]): Promise<ZkfleetError> {
  const err = await checkExportFile(file(lines)).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ZkfleetError);
  return err as ZkfleetError;
}

describe("export files", () => {
  it("a whole file is read with its counts", async () => {
    const s = await checkExportFile(file(exportLines("/app", NODES)));
    expect(s).toMatchObject({ nodes: 5, ephemeral: 1, extended: 0, header: { root: "/app" } });
  });

  it("a truncated file (no end line, or cut inside a line) is refused", async () => {
    const lines = exportLines("/app", NODES);
    const cut = await refusal(lines.slice(0, 4));
    expect(cut.message).toMatch(/:4: the file ends without its end line after 3 node\(s\): it is truncated/);
    const half = await refusal([...lines.slice(0, 3), lines[3]!.slice(0, 40)]);
    expect(half.message).toMatch(/:4: not a JSON line/);
    expect(half.source).toBe("usage");
  });

  it("a corrupt line is named by its number", async () => {
    const lines = exportLines("/app", NODES);
    lines[2] = lines[2]!.replace('"data":"eA=="', '"data":"not base64!"');
    expect((await refusal(lines)).message).toMatch(/:3: a broken node line: data: must be base64/);
  });

  it("an altered node is caught by the digest in the end line", async () => {
    const lines = exportLines("/app", NODES);
    lines[2] = lines[2]!.replace('"data":"eA=="', '"data":"eQ=="');
    expect((await refusal(lines)).message).toMatch(/:7: the digest in the end line .* the file was altered/);
  });

  it("order, parents and counts are checked", async () => {
    const lines = exportLines("/app", NODES);
    expect((await refusal([lines[0]!, lines[1]!, lines[4]!, lines[2]!])).message).toMatch(/:4: \/app\/a comes after \/app\/a-b: out of depth-first order/);
    expect((await refusal([lines[0]!, lines[1]!, lines[3]!])).message).toMatch(/:3: the parent of \/app\/a\/deep is not in the file before it/);
    expect((await refusal([lines[0]!, lines[2]!])).message).toMatch(/:2: the first node is \/app\/a, the header says the root is \/app/);
    expect((await refusal([...lines, lines.at(-1)!])).message).toMatch(/:8: more lines after the end line/);
    const wrongCount = [...lines.slice(0, -1), lines.at(-1)!.replace('"nodes":5', '"nodes":6')];
    expect((await refusal(wrongCount)).message).toMatch(/:7: the end line counts 6 nodes, the file holds 5/);
  });

  it("a node below an ephemeral node, and files that are not exports, are refused", async () => {
    const below = exportLines("/app", [...NODES, node("/app/e/x", "")]);
    expect((await refusal(below)).message).toMatch(/:7: \/app\/e\/x is below the ephemeral node \/app\/e/);
    expect((await refusal([])).message).toMatch(/:1: the file is empty/);
    expect((await refusal(["ensemble: lab"])).message).toMatch(/:1: not a JSON line/);
    expect((await refusal(['{"hello":1}'])).message).toMatch(/:1: not the header of a zkfleet export/);
  });
});
