// A finding is one problem with an inventory, from validation or lint, with
// enough context for a person to go straight to the line and fix it.
import { isMap, isScalar, isSeq, LineCounter, type Document, type Node, type YAMLMap } from "yaml";

export type Severity = "error" | "warning";
export type FieldPath = readonly (string | number)[];

export interface Finding {
  severity: Severity;
  /** Stable identifier for automation and tests, e.g. "even-voters". */
  code: string;
  /** What is wrong and what to do about it. */
  message: string;
  /** The inventory field, e.g. ["hosts", 1, "myid"]; empty for the whole file. */
  path: FieldPath;
  /** The host the finding is about, by name. */
  host?: string;
  file?: string;
  line?: number;
  column?: number;
}

/** `["hosts", 1, "myid"]` → `hosts[1].myid`. */
export function formatPath(path: FieldPath): string {
  return path.reduce<string>((text, part) => {
    if (typeof part === "number") return `${text}[${part}]`;
    return text === "" ? part : `${text}.${part}`;
  }, "");
}

/** One line, compiler style: `file:line:col: severity: host zk2: field: message`. */
export function formatFinding(finding: Finding): string {
  const position = [finding.file, finding.line, finding.column].filter((part) => part !== undefined).join(":");
  const parts = [position, finding.severity, finding.host ? `host ${finding.host}` : "", formatPath(finding.path)];
  return [...parts.filter((part) => part !== ""), finding.message].join(": ");
}

export interface Position {
  line: number;
  column: number;
}

/** Maps inventory field paths back to places in the YAML source. */
export interface SourceMap {
  /** Where the value at `path` is, or the closest enclosing node that exists. With `key`, where that key is written. */
  locate(path: FieldPath, key?: string): Position | undefined;
  /** The name a host has in the source, even when the host did not validate. */
  hostName(index: number): string | undefined;
}

type Pairs = Map<string, { keyNode: Node; valueNode: unknown }>;

/** Each mapping's pairs by key, made at its first lookup: a finding per key of a long mapping must not rescan it each time. */
function pairsOf(map: YAMLMap, index: WeakMap<YAMLMap, Pairs>): Pairs {
  let pairs = index.get(map);
  if (pairs === undefined) {
    pairs = new Map();
    for (const item of map.items) {
      const key = isScalar(item.key) ? String(item.key.value) : undefined;
      if (key !== undefined && !pairs.has(key)) pairs.set(key, { keyNode: item.key as Node, valueNode: item.value });
    }
    index.set(map, pairs);
  }
  return pairs;
}

function child(node: unknown, segment: string | number, index: WeakMap<YAMLMap, Pairs>): { keyNode?: Node; valueNode?: unknown } | undefined {
  if (isSeq(node) && typeof segment === "number") return { valueNode: node.items[segment] };
  if (!isMap(node)) return undefined;
  return pairsOf(node as YAMLMap, index).get(String(segment));
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}

export function sourceMap(doc: Document, lines: LineCounter): SourceMap {
  const pairs = new WeakMap<YAMLMap, Pairs>();
  const toPosition = (offset: number): Position => {
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  };
  return {
    locate(path, key) {
      let node: unknown = doc.contents;
      let best = rangeStart(node);
      for (const segment of [...path, ...(key === undefined ? [] : [key])]) {
        const next = child(node, segment, pairs);
        if (!next) break;
        // A key whose value is empty has no value range: point at the key.
        best = (segment === key ? rangeStart(next.keyNode) : undefined) ?? rangeStart(next.valueNode) ?? rangeStart(next.keyNode) ?? best;
        node = next.valueNode;
      }
      // A document with nothing in it (an empty file): its problems are at its start.
      return best === undefined ? { line: 1, column: 1 } : toPosition(best);
    },
    hostName(index) {
      const host = child(child(doc.contents, "hosts", pairs)?.valueNode, index, pairs)?.valueNode;
      const name = child(host, "name", pairs)?.valueNode;
      return isScalar(name) && typeof name.value === "string" ? name.value : undefined;
    },
  };
}

/** Adds file, line, column and host name to findings that only carry a field path. */
export function placeFindings(findings: readonly Finding[], file: string, map: SourceMap): Finding[] {
  return findings.map((finding) => {
    const position = finding.line === undefined ? map.locate(finding.path) : undefined;
    const hostIndex = finding.path[0] === "hosts" && typeof finding.path[1] === "number" ? finding.path[1] : undefined;
    const host = finding.host ?? (hostIndex === undefined ? undefined : map.hostName(hostIndex));
    return { ...finding, file, ...position, ...(host === undefined ? {} : { host }) };
  });
}
