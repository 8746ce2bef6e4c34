// `zkfleet check -i FILE...`: its flags and what it prints; the work is
// usecases/check.ts, loaded when the command runs.
import type { Command } from "commander";
import { ExitCode } from "../../common/errors.js";
import type { CommandContext } from "./context.js";
import { collect } from "./options.js";

export function register(program: Command, { io, setExit }: CommandContext): void {
  program.command("check")
    .description("validate and lint inventories; touches no host")
    .requiredOption("-i, --inventory <file>", "inventory file (repeat for a fleet)", collect)
    .option("--json", "machine-readable output")
    .action(async (o) => {
      const [{ lintInventories }, { formatFinding }] = await Promise.all([import("../usecases/check.js"), import("../inventory/findings.js")]);
      const result = await lintInventories(o.inventory);
      const errors = result.findings.filter((f) => f.severity === "error").length;
      const warnings = result.findings.length - errors;
      if (o.json) io.out(JSON.stringify({ ok: result.ok, errors, warnings, findings: result.findings }, null, 2));
      else {
        for (const f of result.findings) io.out(formatFinding(f));
        io.out(`${o.inventory.length} inventor${o.inventory.length === 1 ? "y" : "ies"}: ${errors} error(s), ${warnings} warning(s)${result.ok ? ", ok" : ""}`);
      }
      if (!result.ok) setExit(ExitCode.invalid);
    });
}
