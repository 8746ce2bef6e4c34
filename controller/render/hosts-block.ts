// The managed block in /etc/hosts. zkfleet owns only the lines between its
// markers; every other byte of the file belongs to the host's owner and is
// kept exactly, including whether the file ends with a newline.
import { ZkfleetError } from "../../common/errors.js";

export const beginMarker = (ensemble: string) => `# BEGIN zkfleet ${ensemble}`;
export const endMarker = (ensemble: string) => `# END zkfleet ${ensemble}`;

interface Lines {
  lines: string[];
  trailingNewline: boolean;
}

function splitLines(text: string): Lines {
  const trailingNewline = text.endsWith("\n");
  const body = trailingNewline ? text.slice(0, -1) : text;
  return { lines: text === "" ? [] : body.split("\n"), trailingNewline };
}

function joinLines({ lines, trailingNewline }: Lines): string {
  return lines.join("\n") + (trailingNewline && lines.length > 0 ? "\n" : "");
}

// A CRLF file or stray trailing spaces must not hide our own marker.
const isMarker = (line: string, marker: string) => line.trimEnd() === marker;

/** Index range [begin, end] of the ensemble's block, or undefined. Refuses damaged or doubled blocks. */
function findBlock(lines: readonly string[], ensemble: string): [number, number] | undefined {
  const begins = lines.flatMap((line, i) => (isMarker(line, beginMarker(ensemble)) ? [i] : []));
  const ends = lines.flatMap((line, i) => (isMarker(line, endMarker(ensemble)) ? [i] : []));
  if (begins.length === 0 && ends.length === 0) return undefined;
  const [begin] = begins;
  const [end] = ends;
  if (begins.length !== 1 || ends.length !== 1 || begin === undefined || end === undefined || end < begin) {
    throw new ZkfleetError("plan", `the /etc/hosts block of ensemble ${ensemble} is damaged (markers missing, doubled or out of order)`, {
      where: "/etc/hosts",
      hint: `edit /etc/hosts by hand so that it holds at most one '${beginMarker(ensemble)}' … '${endMarker(ensemble)}' pair, then retry`,
    });
  }
  return [begin, end];
}

function blockLines(block: string): string[] {
  return splitLines(block).lines;
}

/** The file the managed block lives in. */
export const ETC_HOSTS = "/etc/hosts";

/** /etc/hosts as a host should have it: its other lines kept byte for byte, the ensemble's block put in. */
export function etcHostsFile(existing: string, block: string, ensemble: string): { path: string; content: string; mode: number } {
  return { path: ETC_HOSTS, content: mergeHostsBlock(existing, block, ensemble), mode: 0o644 };
}

/**
 * Puts `block` (a rendered hosts-block, markers included) into `existing`:
 * replaces the ensemble's block where it is, or appends it. Idempotent.
 */
export function mergeHostsBlock(existing: string, block: string, ensemble: string): string {
  const file = splitLines(existing);
  const range = findBlock(file.lines, ensemble);
  if (range === undefined) {
    // A new file gets a final newline; an existing one keeps its own habit.
    const trailingNewline = existing === "" ? true : file.trailingNewline;
    return joinLines({ lines: [...file.lines, ...blockLines(block)], trailingNewline });
  }
  const [begin, end] = range;
  const lines = [...file.lines.slice(0, begin), ...blockLines(block), ...file.lines.slice(end + 1)];
  return joinLines({ lines, trailingNewline: file.trailingNewline });
}

/** Takes the ensemble's block out (for decommissioning); the rest is kept exactly. */
export function removeHostsBlock(existing: string, ensemble: string): string {
  const file = splitLines(existing);
  const range = findBlock(file.lines, ensemble);
  if (range === undefined) return existing;
  const [begin, end] = range;
  return joinLines({ lines: [...file.lines.slice(0, begin), ...file.lines.slice(end + 1)], trailingNewline: file.trailingNewline });
}

export interface HostsConflict {
  /** 1-based line number in the existing file. */
  line: number;
  text: string;
  name: string;
  /** The address the block gives the name. */
  expected: string;
}

/**
 * Lines outside the block that give one of the block's names another
 * address. The resolver takes the first match, so such a line (Debian's
 * `127.0.1.1 <hostname>` is the classic) silently wins over the block and
 * makes a server bind its quorum port to the wrong address.
 */
export function findHostsConflicts(existing: string, block: string, ensemble: string): HostsConflict[] {
  const wanted = new Map<string, string>();
  for (const line of blockLines(block)) {
    const [address, ...names] = line.replace(/#.*/, "").trim().split(/\s+/);
    if (address) names.forEach((name) => wanted.set(name.toLowerCase(), address));
  }
  const { lines } = splitLines(existing);
  const range = findBlock(lines, ensemble);
  return lines.flatMap((text, index) => {
    if (range && index >= range[0] && index <= range[1]) return [];
    const [address, ...names] = text.replace(/#.*/, "").trim().split(/\s+/);
    return names.flatMap((name) => {
      const expected = wanted.get(name.toLowerCase());
      return expected !== undefined && address !== undefined && address !== expected
        ? [{ line: index + 1, text, name, expected }]
        : [];
    });
  });
}

/** The ensemble's block in a file's text, markers included, or undefined where it has none. */
export function hostsBlockOf(text: string, ensemble: string): string | undefined {
  const { lines } = splitLines(text);
  const range = findBlock(lines, ensemble);
  return range ? lines.slice(range[0], range[1] + 1).join("\n") + "\n" : undefined;
}

/**
 * The block is absent and every name in it already resolves to its address
 * through lines outside it (a hand-made /etc/hosts, as a manual install leaves it): writing
 * it would change nothing the resolver answers.
 */
export function hostsAlreadyResolve(existing: string, block: string, ensemble: string): boolean {
  const { lines } = splitLines(existing);
  if (findBlock(lines, ensemble) !== undefined) return false;
  const first = new Map<string, string>();
  for (const text of lines) {
    const [address, ...names] = text.replace(/#.*/, "").trim().split(/\s+/);
    if (address) for (const name of names) if (!first.has(name.toLowerCase())) first.set(name.toLowerCase(), address);
  }
  return blockLines(block).every((line) => {
    const [address, ...names] = line.replace(/#.*/, "").trim().split(/\s+/);
    return !address || names.every((name) => first.get(name.toLowerCase()) === address);
  });
}
