// Reading an inventory file: YAML → zod → Inventory. Every problem found is
// reported at once, each with file:line:column, host and field, because a
// sysadmin fixing an inventory wants the whole list, not one error per run.
import { open } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { type Alias, type Document, isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Scalar } from "yaml";
import type { z } from "zod";
import { ZkfleetError } from "../../common/errors.js";
import { formatFinding, placeFindings, sourceMap, type Finding, type SourceMap } from "./findings.js";
import { inventorySchema, KNOWN_KEYS, MAX_MYID, type Inventory } from "./schema.js";
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

/** Every host needs its own myid, and myids run from 1 to MAX_MYID: no valid inventory lists more hosts. */
export const MAX_HOSTS = MAX_MYID;

/**
 * Reading stops here. 255 hosts with comments take some 50 kB, and YAML
 * parses about a megabyte a second, so a larger file is a mistake (or an
 * attack) that would cost time and memory for nothing.
 */
export const MAX_INVENTORY_BYTES = 1 << 20;

/** A host list longer than any valid one is refused at its first extra host, before validating thousands of them. */
function tooManyHosts(doc: Document, source: SourceMap, file: string): Finding | undefined {
  const hosts = doc.contents && isMap(doc.contents) ? doc.contents.get("hosts", true) : undefined;
  if (!isSeq(hosts) || hosts.items.length <= MAX_HOSTS) return undefined;
  const path = ["hosts", MAX_HOSTS];
  return {
    severity: "error", code: "too-many-hosts", path, file, ...source.locate(path),
    message: `an inventory lists at most ${MAX_HOSTS} hosts (each needs its own myid, from 1 to ${MAX_MYID}); ` +
      `this is host ${MAX_HOSTS + 1}: an inventory describes one ensemble`,
  };
}

function byPosition(a: Finding, b: Finding): number {
  return (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0);
}

/**
 * Keys written twice in one mapping. The yaml package would find them by
 * comparing each key with every earlier one (a mapping of 40,000 keys took
 * minutes), so it is told not to, and they are found here in one pass, with
 * a stack rather than recursion.
 */
function repeatedKeys(doc: Document, lines: LineCounter): { key: string; line: number; column: number; first: number }[] {
  const repeated = [];
  for (const node of nodesOf(doc)) {
    if (!isMap(node)) continue;
    const seen = new Map<string, number>();
    for (const pair of node.items) {
      const offset = isScalar(pair.key) ? pair.key.range?.[0] : undefined;
      if (offset === undefined) continue;
      const key = String((pair.key as Scalar).value);
      const first = seen.get(key);
      const { line, col } = lines.linePos(offset);
      if (first === undefined) seen.set(key, line);
      else repeated.push({ key, line, column: col, first });
    }
  }
  return repeated;
}

/** Every node of the document, keys included, with a stack rather than recursion (nesting may be deep). */
function* nodesOf(doc: Document): Generator<unknown> {
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    yield node;
    if (isSeq(node)) node.items.forEach((item) => stack.push(item));
    else if (isMap(node)) node.items.forEach((pair) => stack.push(pair.key, pair.value));
  }
}

/**
 * How far aliases may expand (yaml counts each alias by the nodes it
 * stands for): a billion-laughs file stops here. yaml's default, 100, would
 * refuse 255 hosts sharing one aliased value.
 */
const MAX_ALIAS_COUNT = 1000;

/**
 * The document as plain data, or where its aliases expand too far. yaml's
 * refusal says neither where nor which alias, so on that refusal the
 * conversion is run again with each alias noting itself when it is the one
 * that throws.
 */
function plainData(doc: Document, lines: LineCounter, file: string): { data: unknown } | { problem: Finding } {
  try {
    return { data: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) };
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error;
    let culprit: Alias | undefined;
    for (const node of nodesOf(doc)) {
      if (!isAlias(node)) continue;
      const alias = node;
      const toJSON = alias.toJSON.bind(alias);
      alias.toJSON = (...args) => {
        try {
          return toJSON(...args);
        } catch (inner) {
          culprit ??= alias;
          throw inner;
        }
      };
    }
    try {
      doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch {
      // the same refusal; culprit is set
    }
    const offset = culprit?.range?.[0];
    const at = offset === undefined ? undefined : lines.linePos(offset);
    const message = error.message.startsWith("Excessive alias count")
      ? `alias *${culprit?.source ?? "?"} expands past ${MAX_ALIAS_COUNT} nodes, as a "billion laughs" file does; write the values out`
      : error.message;
    return { problem: yamlProblem(file, message, at ? { line: at.line, column: at.col } : undefined) };
  }
}

function parseYaml(text: string): { doc: Document; source: SourceMap; lines: LineCounter } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: false });
  return { doc, source: sourceMap(doc, lines), lines };
}

function yamlProblem(file: string, message: string, at?: { line: number; column: number }): Finding {
  return { severity: "error", code: "yaml-syntax", path: [], file, ...at, message: `YAML syntax error: ${message}` };
}

/** Validates inventory text; never throws for a bad inventory, only reports. */
export function parseInventoryText(text: string, file: string, options: LoadOptions = {}): ParseResult {
  const { doc, source, lines } = parseYaml(text);
  const crowded = tooManyHosts(doc, source, file);
  if (crowded) return { ok: false, problems: [crowded], source };
  const syntax = doc.errors.map((error): Finding => {
    const [start] = error.linePos ?? [];
    const firstLine = (error.message.split("\n")[0] ?? error.message).replace(/ at line \d+, column \d+:?$/, "");
    // The parser catches its own stack overflow on deep nesting and reports it as this error.
    const message = firstLine.startsWith("Maximum call stack size exceeded") ? "collections nested too deeply" : firstLine;
    return yamlProblem(file, message, start ? { line: start.line, column: start.col } : undefined);
  });
  for (const { key, line, column, first } of repeatedKeys(doc, lines)) {
    syntax.push(yamlProblem(file, `key ${JSON.stringify(key)} is written twice in one mapping (first on line ${first}); keep one`, { line, column }));
  }
  if (syntax.length > 0) return { ok: false, problems: syntax.sort(byPosition), source };
  const schema = inventorySchema({ baseDir: dirname(resolve(file)), homeDir: options.homeDir });
  const plain = plainData(doc, lines, file);
  if ("problem" in plain) return { ok: false, problems: [plain.problem], source };
  const parsed = schema.safeParse(plain.data, { reportInput: true });
  if (parsed.success) return { ok: true, inventory: parsed.data, source };
  const problems = parsed.error.issues.flatMap(issueFindings).map((finding) => {
    // Unknown keys point at the key itself, everything else at the value.
    const key = finding.code === "unknown-key" ? String(finding.path[finding.path.length - 1]) : undefined;
    const position = source.locate(key === undefined ? finding.path : finding.path.slice(0, -1), key);
    return { ...finding, ...position };
  });
  return { ok: false, problems: placeFindings(problems, file, source).sort(byPosition), source };
}

/** At most MAX_INVENTORY_BYTES of the file (a pipe too: `-i <(...)`), cut after its last whole line; `over` when there is more. */
async function readHead(path: string): Promise<{ text: string; over: boolean }> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(MAX_INVENTORY_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    const over = length > MAX_INVENTORY_BYTES;
    const end = over ? buffer.lastIndexOf(0x0a, MAX_INVENTORY_BYTES - 1) + 1 : length;
    return { text: buffer.subarray(0, end).toString("utf8"), over };
  } finally {
    await handle.close();
  }
}

/**
 * A file past the limit: what its first megabyte shows. A host list longer
 * than any valid one is the likely cause and is named at its first extra
 * host; otherwise the size is, at the first line not read.
 */
function oversized(text: string, file: string): ParseResult {
  const { doc, source } = parseYaml(text);
  const crowded = tooManyHosts(doc, source, file);
  if (crowded) return { ok: false, problems: [crowded], source };
  const line = text.split("\n").length;
  const message = `the file is larger than ${MAX_INVENTORY_BYTES} bytes, the most zkfleet reads of an inventory ` +
    `(${MAX_HOSTS} hosts take some 50 kB), and stopped reading here: is this the inventory you meant?`;
  return { ok: false, problems: [{ severity: "error", code: "too-large", path: [], file, line, column: 1, message }] };
}

/** Reads a file; a missing or unreadable file is a one-problem result, not an exception. */
export async function readInventory(path: string, options: LoadOptions = {}): Promise<ParseResult> {
  let text: string;
  try {
    const head = await readHead(path);
    if (head.over) return oversized(head.text, path);
    text = head.text;
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
