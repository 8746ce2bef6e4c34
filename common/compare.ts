// Orders names by code point, as Array.prototype.sort does by default.
// String.prototype.localeCompare sets up ICU's collator the first time it is
// called, about 5 ms in the middle of every apply's planning (its first use
// was the restart order); host names, fleet keys and run ids need no
// language's collation, only an order that is the same everywhere.
export const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
