// Runs the whole vitest suite and ends with one plain summary line
// ("tests: N passed, N failed, N skipped") that CI reads, whatever reporter
// vitest prints above it. Exits non-zero on any failure or when no test ran.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "zkfleet-tests-"));
const report = join(dir, "report.json");
const args = ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...process.argv.slice(2)];
const run = spawnSync("npx", args, { stdio: "inherit" });

let passed = 0, failed = 0, skipped = 0;
try {
  const r = JSON.parse(readFileSync(report, "utf8"));
  passed = r.numPassedTests;
  // A suite that fails before its tests run (an error in beforeAll, say) has no failed test: count it.
  const brokenSuites = r.testResults.filter((f) => f.status === "failed" && f.assertionResults.every((a) => a.status !== "failed")).length;
  failed = r.numFailedTests + brokenSuites;
  skipped = r.numPendingTests + r.numTodoTests;
} catch {
  failed += 1; // no report: vitest itself failed before running tests
}
rmSync(dir, { recursive: true, force: true });
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(run.status !== 0 || failed > 0 || passed === 0 ? 1 : 0);
