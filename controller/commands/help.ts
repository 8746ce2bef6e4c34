// Every command's --help (and `zkfleet help COMMAND`) ends with its examples in one layout.

/** Text for commander's addHelpText("after", …): an "Examples:" block, one command a line. */
export const examples = (...lines: string[]): string => ["", "Examples:", ...lines.map((l) => "  " + l)].join("\n");
