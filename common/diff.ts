// One way to show a file change, used by the planner (--diff) and by the
// agent's write_file, so a person reads the same diff from both.
import { createTwoFilesPatch } from "diff";

/** A plain unified diff ("--- a", "+++ b", hunks): what people read and patch(1) takes. */
export function unifiedDiff(path: string, before: string | null, after: string): string {
  const patch = createTwoFilesPatch(before === null ? "/dev/null" : path, path, before ?? "", after, "", "", { context: 3 });
  // Drop the "Index:"/"====" preamble.
  return patch.slice(patch.indexOf("--- "));
}
