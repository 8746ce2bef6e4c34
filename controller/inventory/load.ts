// Reading an inventory file: YAML → zod → Inventory. Every problem found is
// reported at once, each with file:line:column, host and field, because a
// sysadmin fixing an inventory wants the whole list, not one error per run.
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { ZkfleetError } from "../../common/errors.js";
import { formatFinding, placeFindings, sourceMap, type Finding, type SourceMap } from "./findings.js";
import { inventorySchema, KNOWN_KEYS, type Inventory } from "./schema.js";
import { closestMatch } from "./validators.js";

export interface LoadOptions {
  /** Expansion of `~` in local paths (default: the user's home directory). */
  homeDir?: string;
}

export type ParseResult =
  | { ok: true; inventory: Inventory; source: SourceMap }
  | { ok: false; problems: Finding[]; source?: SourceMap };

function knownKeysAt(path: readonly PropertyKey[]): readonly string[] {
  if (path.length === 0) return KNOWN_KEYS.top;
  if (path.length === 2 && path[0] === "hosts") return KNOWN_KEYS.host;
  const section = path.length === 1 ? path[0] : undefined;
  if (section === "zookeeper" || section === "ssh" || section === "agent") return KNOWN_KEYS[section];
  return [];
}

type FindingPath = (string | number)[];

function issueFindings(issue: z.core.$ZodIssue): Finding[] {
  const path = issue.path.filter((part): part is string | number => typeof part !== "symbol") as FindingPath;
  if (issue.code === "unrecognized_keys") {
    const known = knownKeysAt(path);
    return issue.keys.map((key) => {
      const guess = closestMatch(key, known);
      const advice = guess ? `did you mean ${guess}?` : `known keys here: ${known.join(", ")}`;
      return { severity: "error", code: "unknown-key", path: [...path, key], message: `unknown key ${JSON.stringify(key)}: ${advice}` };
    });
  }
  // Needs `reportInput`: an absent value reaches the issue as input undefined.
  const missing = issue.code !== "custom" && issue.input === undefined;
  const message = missing ? `missing; it ${issue.message}` : issue.message;
  return [{ severity: "error", code: missing ? "missing-field" : "invalid-field", path, message }];
}

function byPosition(a: Finding, b: Finding): number {
  return (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0);
}

/** Validates inventory text; never throws for a bad inventory, only reports. */
export function parseInventoryText(text: string, file: string, options: LoadOptions = {}): ParseResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });
  const source = sourceMap(doc, lines);
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((error): Finding => {
      const [start] = error.linePos ?? [];
      const firstLine = error.message.split("\n")[0] ?? error.message;
      return {
        severity: "error",
        code: "yaml-syntax",
        path: [],
        file,
        ...(start ? { line: start.line, column: start.col } : {}),
        message: `YAML syntax error: ${firstLine.replace(/ at line \d+, column \d+:?$/, "")}`,
      };
    });
    return { ok: false, problems, source };
  }
  const schema = inventorySchema({ baseDir: dirname(resolve(file)), homeDir: options.homeDir });
  const parsed = schema.safeParse(doc.toJS(), { reportInput: true });
  if (parsed.success) return { ok: true, inventory: parsed.data, source };
  const problems = parsed.error.issues.flatMap(issueFindings).map((finding) => {
    // Unknown keys point at the key itself, everything else at the value.
    const key = finding.code === "unknown-key" ? String(finding.path[finding.path.length - 1]) : undefined;
    const position = source.locate(key === undefined ? finding.path : finding.path.slice(0, -1), key);
    return { ...finding, ...position };
  });
  return { ok: false, problems: placeFindings(problems, file, source).sort(byPosition), source };
}

/** Reads a file; a missing or unreadable file is a one-problem result, not an exception. */
export async function readInventory(path: string, options: LoadOptions = {}): Promise<ParseResult> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message =
      code === "ENOENT"
        ? `inventory file does not exist; check the path (inventories/example.yml shows the format)`
        : `cannot read the inventory file (${code ?? String(error)}); check its permissions`;
    return { ok: false, problems: [{ severity: "error", code: "unreadable", path: [], file: path, message }] };
  }
  return parseInventoryText(text, path, options);
}

/** The problems as one error: what the CLI prints when an inventory is invalid. */
export function inventoryError(file: string, problems: readonly Finding[]): ZkfleetError {
  const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
  return new ZkfleetError("inventory", `${file}: ${count}:\n${problems.map((p) => `  - ${formatFinding(p)}`).join("\n")}`, {
    where: file,
    hint: `fix each field listed, then run \`zkfleet check -i ${file}\``,
    cause: problems,
  });
}

/** Reads and validates an inventory; throws one ZkfleetError("inventory") listing every problem. */
export async function loadInventory(path: string, options: LoadOptions = {}): Promise<Inventory> {
  const result = await readInventory(path, options);
  if (!result.ok) throw inventoryError(path, result.problems);
  return result.inventory;
}
